// Several endpoints with the official @microsoft/signalr client (Node):
//
// - the chat example (bin/chat -endpoints 2) on two embedded emulators: its
//   round-robin router spreads negotiates over both, sends through the HTTP
//   API reach clients on both, an endpoint taken offline through its control
//   API stops getting negotiates once the chat's probe notices (the chat logs
//   `msg="endpoint state" endpoint=<name> online=false`) while sends keep
//   reaching the clients of the other, and bringing it back restores the
//   spreading;
// - the chat on settings (Azure__SignalR__Endpoints__<name>[__secondary])
//   pointing at a bin/signalr-emulator -endpoints east,backup:secondary, with
//   access keys and with identity connection strings: the secondary takes
//   negotiates only while the primary is offline; and, with probes an hour
//   apart, a send to the offline primary answers 502 naming it (the
//   "endpoints" of the failure), which takes it offline at once.
//
// Which endpoint a client landed on is read twice: from the emulator
// negotiate URL its HTTP client was redirected to, and from that
// emulator's control API, which lists the connection.
//
// Run: make build && cd js && node --test test/multi-endpoint.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as signalR from '@microsoft/signalr';
import { binaryPath, openURL, startProgram, stopProgram } from '../support/harness.mjs';

const waitMs = 15_000; // upper bound for anything to happen
const probe = '100ms'; // the chat's -health-interval here

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

// waitUntil polls cond (which may be async) until it holds, or fails with what.
async function waitUntil(cond, what) {
  const deadline = Date.now() + waitMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// RecordingHttpClient is the client's default HTTP client, remembering the
// URL of every request (negotiate with the app, then with the emulator it
// was redirected to).
class RecordingHttpClient extends signalR.HttpClient {
  constructor() {
    super();
    this.inner = new signalR.DefaultHttpClient(signalR.NullLogger.instance);
    this.urls = [];
  }
  send(request) {
    this.urls.push(request.url);
    return this.inner.send(request);
  }
  getCookieString(url) {
    return this.inner.getCookieString(url);
  }
}

// startChat runs bin/chat with args and env in an empty directory, reads
// stdout until the page URL and stderr line by line (state changes of the
// endpoints are collected in stateLog), and stops it after the file.
async function startChat(args, env = {}) {
  const workdir = mkdtempSync(join(tmpdir(), 'chat-multi-'));
  const fullEnv = { ...process.env, ...env };
  delete fullEnv.AzureSignalRConnectionString;
  delete fullEnv.PORT;
  const started = await startProgram(binaryPath('chat'), ['-addr', '127.0.0.1:0', '-health-interval', probe, ...args], openURL, {
    cwd: workdir,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stateLog = [];
  createInterface({ input: started.proc.stderr }).on('line', (line) => {
    const m = line.match(/msg="endpoint state" endpoint=(\S+) online=(true|false)/);
    if (m) stateLog.push({ endpoint: m[1], online: m[2] === 'true' });
  });
  const open = new Set();
  cleanups.push(async () => {
    await Promise.all([...open].map((c) => c.stop()));
    await stopProgram(started.proc, 'bin/chat exits cleanly');
    rmSync(workdir, { recursive: true, force: true });
  });
  const base = started.value;
  return { base, seen: started.seen, stateLog, open, proc: started.proc };
}

// connect connects an official client to chat as user; it resolves with
// the connection, the port of the emulator it landed on, and the texts of
// the newMessage bodies it receives.
async function connect(chat, user, ports) {
  const httpClient = new RecordingHttpClient();
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${chat.base}api?userId=${encodeURIComponent(user)}`, { httpClient, transport: signalR.HttpTransportType.WebSockets })
    .configureLogging(signalR.LogLevel.None)
    .build();
  const texts = [];
  connection.on('newMessage', (m) => texts.push(m.text));
  await connection.start();
  chat.open.add(connection);
  const landed = httpClient.urls
    .map((u) => new URL(u))
    .filter((u) => u.pathname.endsWith('/negotiate') && ports.includes(Number(u.port)))
    .map((u) => Number(u.port));
  assert.equal(landed.length, 1, `one negotiate with an emulator, in ${httpClient.urls.join(' ')}`);
  const port = landed[0];
  assert.ok(await listed(port, connection.connectionId), `emulator :${port} lists connection ${connection.connectionId}`);
  return { connection, port, texts, user };
}

// listed reports whether the emulator on port lists connection id in hub chat.
async function listed(port, id) {
  const page = await (await fetch(`http://127.0.0.1:${port}/_emulator/api/hubs/chat/connections?limit=1000`)).json();
  return page.connections.some((c) => c.id === id);
}

// setOffline takes the emulator on port offline or back through its control API.
async function setOffline(port, offline) {
  const response = await fetch(`http://127.0.0.1:${port}/_emulator/api/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ offline }),
  });
  assert.equal(response.status, 200, `offline=${offline} on :${port}`);
  assert.deepEqual(await response.json(), { offline });
}

// post calls the chat's HTTP API and checks it delivered (204).
async function post(chat, path, body) {
  const response = await fetch(`${chat.base}${path}`, {
    method: path.includes('/users/') && !path.endsWith('/messages') ? 'PUT' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(response.status, 204, `${path}: ${await response.text()}`);
}

// negotiatePort asks the chat's negotiate function directly and returns
// the port of the endpoint it chose.
async function negotiatePort(chat) {
  const response = await fetch(`${chat.base}api/negotiate?userId=probe`, { method: 'POST' });
  const body = await response.text();
  assert.equal(response.status, 200, body);
  return Number(new URL(JSON.parse(body).url).port);
}

const stateReached = (chat, endpoint, online) => () => chat.stateLog.some((s) => s.endpoint === endpoint && s.online === online);

test('chat -endpoints 2: negotiates spread, sends reach both, one offline moves negotiates to the other, back restores the spreading', async () => {
  const chat = await startChat(['-endpoints', '2']);
  const emulators = chat.seen
    .map((l) => l.match(/^embedded SignalR emulator (\S+) at http:\/\/127\.0\.0\.1:(\d+)$/))
    .filter(Boolean)
    .map((m) => ({ name: m[1], port: Number(m[2]) }));
  assert.deepEqual(emulators.map((e) => e.name), ['emulator-1', 'emulator-2'], chat.seen.join('\n'));
  const ports = emulators.map((e) => e.port);
  assert.notEqual(ports[0], ports[1]);

  // Negotiates spread over both: user "u" has a window on each, and so do
  // the others between them.
  const clients = [];
  for (const user of ['u', 'u', 'v', 'w']) clients.push(await connect(chat, user, ports));
  for (const port of ports) {
    assert.ok(clients.some((c) => c.port === port), `a client on :${port}; got ${clients.map((c) => c.port)}`);
  }
  const [u1, u2, v, w] = clients;
  assert.notEqual(u1.port, u2.port, "u's two windows are on different endpoints");

  // A broadcast reaches everyone, on both endpoints.
  await post(chat, 'api/messages', { text: 'to all' });
  await waitUntil(() => clients.every((c) => c.texts.includes('to all')), 'the broadcast on both endpoints');
  // A user send reaches both of u's windows and nobody else.
  await post(chat, 'api/users/u/messages', { text: 'to u' });
  await post(chat, 'api/messages', { text: 'marker 1' });
  await waitUntil(() => clients.every((c) => c.texts.includes('marker 1')), 'marker 1');
  assert.ok(u1.texts.includes('to u') && u2.texts.includes('to u'), 'both of u\'s windows got the user send');
  assert.ok(!v.texts.includes('to u') && !w.texts.includes('to u'), 'the others did not');
  // A group send reaches the group's members on both endpoints.
  await post(chat, 'api/groups/g/users/u');
  await post(chat, 'api/groups/g/messages', { text: 'to g' });
  await post(chat, 'api/messages', { text: 'marker 2' });
  await waitUntil(() => clients.every((c) => c.texts.includes('marker 2')), 'marker 2');
  assert.ok(u1.texts.includes('to g') && u2.texts.includes('to g'), 'both of u\'s windows, a member each, got the group send');
  assert.ok(!v.texts.includes('to g') && !w.texts.includes('to g'), 'the non-members did not');

  // Take emulator-1 offline: its clients are dropped; once the chat's probe
  // notices, every negotiate goes to emulator-2.
  const [down, up] = emulators;
  const dropped = clients.filter((c) => c.port === down.port);
  const kept = clients.filter((c) => c.port === up.port);
  const closed = dropped.map((c) => new Promise((resolve) => c.connection.onclose(resolve)));
  chat.stateLog.length = 0;
  await setOffline(down.port, true);
  await Promise.all(closed);
  await waitUntil(stateReached(chat, down.name, false), `the chat to log ${down.name} offline`);
  for (let i = 0; i < 4; i++) assert.equal(await negotiatePort(chat), up.port, `negotiate ${i} goes to the online endpoint`);
  const late = [];
  for (const user of ['u', 'x']) late.push(await connect(chat, user, ports));
  assert.deepEqual(late.map((c) => c.port), [up.port, up.port], 'new clients land on the online endpoint');
  // Sends keep reaching the clients on the online endpoint.
  const online = [...kept, ...late];
  await post(chat, 'api/messages', { text: 'while one is down' });
  await post(chat, 'api/users/u/messages', { text: 'to u, one down' });
  await post(chat, 'api/groups/g/users/u');
  await post(chat, 'api/groups/g/messages', { text: 'to g, one down' });
  await post(chat, 'api/messages', { text: 'marker 3' });
  await waitUntil(() => online.every((c) => c.texts.includes('marker 3')), 'marker 3 on the online endpoint');
  for (const c of online) {
    assert.ok(c.texts.includes('while one is down'), `${c.user} got the broadcast`);
    assert.equal(c.texts.includes('to u, one down'), c.user === 'u', `${c.user}: the user send`);
    assert.equal(c.texts.includes('to g, one down'), c.user === 'u', `${c.user}: the group send`);
  }
  for (const c of dropped) assert.ok(!c.texts.includes('while one is down'), 'a dropped client got nothing more');

  // Both offline: negotiate is refused with 503 and Retry-After.
  await setOffline(up.port, true);
  await waitUntil(stateReached(chat, up.name, false), `the chat to log ${up.name} offline`);
  const refused = await fetch(`${chat.base}api/negotiate?userId=probe`, { method: 'POST' });
  assert.equal(refused.status, 503, await refused.text());
  assert.ok(refused.headers.get('retry-after'), 'a 503 with Retry-After');

  // Back online: negotiates spread over both again.
  chat.stateLog.length = 0;
  await setOffline(down.port, false);
  await setOffline(up.port, false);
  await waitUntil(() => stateReached(chat, down.name, true)() && stateReached(chat, up.name, true)(), 'the chat to log both online');
  const again = [];
  for (const user of ['y', 'z']) again.push(await connect(chat, user, ports));
  assert.deepEqual(again.map((c) => c.port).sort(), [...ports].sort(), 'two new clients land on different endpoints');
  await post(chat, 'api/messages', { text: 'both back' });
  await waitUntil(() => again.every((c) => c.texts.includes('both back')), 'the broadcast on both endpoints again');
});

// startEmulators runs bin/signalr-emulator -endpoints east,backup:secondary
// (with extra args) and returns its setting lines as an env object and the
// ports by endpoint name.
async function startEmulators(extra = []) {
  const lines = [];
  const started = await startProgram(binaryPath('signalr-emulator'), ['-port', '0', '-endpoints', 'east,backup:secondary', ...extra], (line) => {
    lines.push(line);
    return lines.length === 2 ? lines : undefined;
  }, { stdio: ['ignore', 'pipe', 'ignore'] });
  started.proc.stdout.resume();
  cleanups.push(() => stopProgram(started.proc, 'bin/signalr-emulator exits cleanly'));
  const env = {};
  const ports = {};
  for (const line of lines) {
    const m = line.match(/^(Azure__SignalR__Endpoints__(\w+?)(?:__secondary)?)=(Endpoint=http:\/\/localhost;Port=(\d+);.*)$/);
    assert.ok(m, line);
    env[m[1]] = m[3];
    ports[m[2]] = Number(m[4]);
  }
  return { env, ports };
}

// secondaryOnlyWhenPrimaryOffline checks, with a chat on the settings env,
// that negotiates go to the primary (east), to the secondary (backup) only
// while east is offline, and to east again once it is back.
async function secondaryOnlyWhenPrimaryOffline(env, ports, chatArgs = []) {
  const chat = await startChat(chatArgs, env);
  assert.ok(chat.seen.some((l) => /Primary endpoint "east"/.test(l)), chat.seen.join('\n'));
  assert.ok(chat.seen.some((l) => /Secondary endpoint "backup"/.test(l)), chat.seen.join('\n'));
  const all = [ports.east, ports.backup];
  const first = [];
  for (const user of ['a', 'b', 'c']) first.push(await connect(chat, user, all));
  assert.deepEqual(first.map((c) => c.port), [ports.east, ports.east, ports.east], 'the primary takes every negotiate');

  chat.stateLog.length = 0;
  await setOffline(ports.east, true);
  await waitUntil(stateReached(chat, 'east', false), 'the chat to log east offline');
  const failover = [];
  for (const user of ['a', 'd']) failover.push(await connect(chat, user, all));
  assert.deepEqual(failover.map((c) => c.port), [ports.backup, ports.backup], 'the secondary takes negotiates while the primary is offline');
  await post(chat, 'api/users/a/messages', { text: 'via backup' });
  await waitUntil(() => failover[0].texts.includes('via backup'), 'a user send through the secondary');

  chat.stateLog.length = 0;
  await setOffline(ports.east, false);
  await waitUntil(stateReached(chat, 'east', true), 'the chat to log east online');
  const back = await connect(chat, 'e', all);
  assert.equal(back.port, ports.east, 'the primary takes negotiates again');
  await post(chat, 'api/messages', { text: 'to all, east back' });
  await waitUntil(() => [back, ...failover].every((c) => c.texts.includes('to all, east back')), 'a broadcast on both endpoints');
}

test('settings with a primary and a secondary (access keys): the secondary takes negotiates only while the primary is offline', async () => {
  const { env, ports } = await startEmulators();
  await secondaryOnlyWhenPrimaryOffline(env, ports);
});

test('the same with identity connection strings (AuthType=azure.msi, no key in the app)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'multi-identity-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const issuer = join(dir, 'issuer.pem');
  const { env, ports } = await startEmulators(['-identity-key', issuer]);
  const identityEnv = {};
  for (const [setting, cs] of Object.entries(env)) {
    const port = cs.match(/Port=(\d+)/)[1];
    identityEnv[setting] = `Endpoint=http://localhost;Port=${port};AuthType=azure.msi;Version=1.0;`;
  }
  await secondaryOnlyWhenPrimaryOffline(identityEnv, ports, ['-identity-key', issuer]);
});

test('a send while the primary is offline, before a probe notices: 502 naming the endpoint, and negotiates move to the secondary at once', async () => {
  const { env, ports } = await startEmulators();
  // Probes an hour apart: only the failed request can take east offline.
  const chat = await startChat(['-health-interval', '1h'], env);
  const all = [ports.east, ports.backup];
  const onEast = await connect(chat, 'a', all);
  assert.equal(onEast.port, ports.east);
  chat.stateLog.length = 0;
  await setOffline(ports.east, true);
  const response = await fetch(`${chat.base}api/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"one down"}' });
  const body = await response.text();
  assert.equal(response.status, 502, body);
  const { failures } = JSON.parse(body);
  assert.equal(failures.length, 1, body);
  assert.deepEqual(failures[0].endpoints, ['east'], 'the failure names the endpoint, and only the one that failed');
  assert.equal(failures[0].statusCode, 503, body);
  await waitUntil(stateReached(chat, 'east', false), 'the chat to log east offline after the failed send');
  const onBackup = await connect(chat, 'b', all);
  assert.equal(onBackup.port, ports.backup, 'the next negotiate goes to the secondary');
  await post(chat, 'api/messages', { text: 'through backup' });
  await waitUntil(() => onBackup.texts.includes('through backup'), 'the broadcast through the secondary');
});
