// Persistent transport suite: the chat example (bin/chat) on its embedded
// emulator with AzureSignalRServiceTransportType=Persistent, so that the
// app sends, changes groups, checks presence and asks clients for results
// over service connections (the service protocol, /server/?hub=) instead
// of REST calls. The official @microsoft/signalr clients (JSON and
// MessagePack) must get every message kind (all, user, group, connection),
// group actions must apply, and a client result (the chat's ask route, which
// the server sends as a ClientInvocation) must come back; the emulator's
// feed (/_emulator/api/events) must show each operation as a service
// message and no REST call at all. The emulator's dashboard, in Chromium,
// lists the chat's service connections and shows their messages in the
// live feed.
//
// Run: make build && cd js && node --test test/persistent.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { binaryPath, inbox, openURL, startProgram, stopProgram } from '../support/harness.mjs';

const waitMs = 10_000; // upper bound for anything to arrive

let server; // the chat process
let workdir; // its empty working directory: no local.settings.json
let base; // the chat: http://127.0.0.1:<port>/
let emulatorURL; // the embedded emulator: http://127.0.0.1:<port>
let feed; // the emulator's feed of rest and service events
const open = new Set(); // connections to stop after the suite

// withTimeout rejects, naming what, if promise has not settled in waitMs.
function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), waitMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// openFeed subscribes to the emulator's Server-Sent Events feed for the
// kinds given and resolves once the emulator has registered the viewer
// (its ": connected" comment arrived). events holds every event in feed
// order; waitFor(pred, what) resolves with the first event matching pred,
// waiting for it if need be.
async function openFeed(kinds) {
  const abort = new AbortController();
  const response = await fetch(`${emulatorURL}/_emulator/api/events?kind=${kinds.join(',')}`, { signal: abort.signal });
  assert.equal(response.status, 200);
  const events = [];
  const waiters = [];
  const wake = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const ev = events.find(waiters[i].pred);
      if (ev) {
        waiters[i].resolve(ev);
        waiters.splice(i, 1);
      }
    }
  };
  let connected;
  const ready = new Promise((resolve) => (connected = resolve));
  const decoder = new TextDecoder();
  (async () => {
    let text = '';
    try {
      for await (const chunk of response.body) {
        text += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          if (block.startsWith(': connected')) connected();
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
        wake();
      }
    } catch (err) {
      if (err.name !== 'AbortError') throw err;
    }
  })();
  await withTimeout(ready, 'the emulator feed');
  const waitFor = (pred, what) =>
    withTimeout(
      new Promise((resolve) => {
        waiters.push({ pred, resolve });
        wake();
      }),
      what,
    );
  return { events, waitFor, close: () => abort.abort() };
}

before(async () => {
  const binary = binaryPath('chat');
  workdir = mkdtempSync(join(tmpdir(), 'chat-persistent-'));
  const env = { ...process.env, AzureSignalRServiceTransportType: 'Persistent' };
  delete env.AzureSignalRConnectionString;
  delete env.PORT;
  const started = await startProgram(binary, ['-addr', '127.0.0.1:0'], openURL, { cwd: workdir, env });
  server = started.proc;
  base = started.value;
  const m = started.seen[0].match(/^no AzureSignalRConnectionString set: using the embedded SignalR emulator at (http:\/\/127\.0\.0\.1:\d+)$/);
  assert.ok(m, started.seen.join('\n'));
  emulatorURL = m[1];
  feed = await openFeed(['rest', 'service']);
});

after(async () => {
  await Promise.all([...open].map((c) => c.stop()));
  feed?.close();
  await stopProgram(server, 'bin/chat exits cleanly');
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

// connect connects as user through the chat's negotiate; messages.next()
// resolves with the next newMessage body. The ask handler answers the
// server's client-result invocations with answer(question).
async function connect(user, { msgpack = false, answer } = {}) {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(`${base}api?userId=${encodeURIComponent(user)}`)
    .configureLogging(signalR.LogLevel.None);
  if (msgpack) builder = builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  const messages = inbox(connection, 'newMessage', (m) => m);
  if (answer) connection.on('ask', answer);
  await connection.start();
  open.add(connection);
  return { connection, messages, user };
}

// api calls the chat's HTTP API and resolves with status and parsed body.
async function api(method, path, body) {
  const response = await fetch(`${base}api/${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function mustCall(method, path, body, status) {
  const got = await api(method, path, body);
  assert.equal(got.status, status, `${method} /api/${path} = ${got.status} ${JSON.stringify(got.body)}, want ${status}`);
  return got.body;
}

// nextText resolves with the text of client's next message.
const nextText = (client) => withTimeout(client.messages.next(), `a message for ${client.user}`).then((m) => m.text);

// state reads one of the emulator's state lists for hub chat.
async function state(list, query = '') {
  const response = await fetch(`${emulatorURL}/_emulator/api/hubs/chat/${list}${query}`);
  assert.equal(response.status, 200);
  return response.json();
}

test('every message kind, group actions and client results go over the service connection, with no REST call', async () => {
  const alice = await connect('alice');
  const bob = await connect('bob', { msgpack: true, answer: (q) => ({ echoed: q, from: 'bob' }) });
  const carol = await connect('carol');
  const everyone = [alice, bob, carol];

  // All: the JSON clients and the MessagePack one each get the payload
  // for their own protocol.
  await mustCall('POST', 'messages', { text: 'hello, all' }, 204);
  for (const c of everyone) assert.equal(await nextText(c), 'hello, all');

  // User: only alice; a marker broadcast then shows nobody else got it.
  await mustCall('POST', 'users/alice/messages', { text: 'psst' }, 204);
  await mustCall('POST', 'messages', { text: 'marker 1' }, 204);
  assert.equal(await nextText(alice), 'psst');
  for (const c of everyone) assert.equal(await nextText(c), 'marker 1');

  // Connection: only bob's connection.
  await mustCall('POST', `connections/${encodeURIComponent(bob.connection.connectionId)}/messages`, { text: 'to your connection' }, 204);
  await mustCall('POST', 'messages', { text: 'marker 2' }, 204);
  assert.equal(await nextText(bob), 'to your connection');
  for (const c of everyone) assert.equal(await nextText(c), 'marker 2');

  // Group: alice and carol join, the emulator's state says so, the group
  // message reaches them only; after carol leaves, only alice.
  const group = 'team a/b';
  await mustCall('PUT', `groups/${encodeURIComponent(group)}/users/alice`, undefined, 204);
  await mustCall('PUT', `groups/${encodeURIComponent(group)}/users/carol`, undefined, 204);
  const members = await state('groups');
  const entry = members.items.find((g) => g.name === group);
  assert.ok(entry, `the emulator lists group ${group}: ${JSON.stringify(members)}`);
  assert.deepEqual(entry.connections.sort(), [alice, carol].map((c) => c.connection.connectionId).sort());
  await mustCall('POST', `groups/${encodeURIComponent(group)}/messages`, { text: 'to the group' }, 204);
  await mustCall('POST', 'messages', { text: 'marker 3' }, 204);
  assert.equal(await nextText(alice), 'to the group');
  assert.equal(await nextText(carol), 'to the group');
  for (const c of everyone) assert.equal(await nextText(c), 'marker 3');
  await mustCall('DELETE', `groups/${encodeURIComponent(group)}/users/carol`, undefined, 204);
  await mustCall('POST', `groups/${encodeURIComponent(group)}/messages`, { text: 'to the group again' }, 204);
  await mustCall('POST', 'messages', { text: 'marker 4' }, 204);
  assert.equal(await nextText(alice), 'to the group again');
  for (const c of everyone) assert.equal(await nextText(c), 'marker 4');

  // A message to a user who is not online is refused (the presence check
  // is a CheckUserExistenceWithAck answered NotFound).
  assert.equal((await api('POST', 'users/nobody-here/messages', { text: 'lost' })).status, 404);

  // Client results: the server asks bob's client, which answers.
  const asked = await mustCall('POST', `connections/${encodeURIComponent(bob.connection.connectionId)}/ask`, { q: 'ready?' }, 200);
  assert.deepEqual(asked.answer, { echoed: { q: 'ready?' }, from: 'bob' });
  // A client with no handler for it fails the invocation, reported.
  const failed = await api('POST', `connections/${encodeURIComponent(alice.connection.connectionId)}/ask`, { q: 'ready?' });
  assert.equal(failed.status, 502, JSON.stringify(failed.body));
  // An unknown connection is 404.
  assert.equal((await api('POST', 'connections/no-such-connection/ask', { q: 'x' })).status, 404);

  // Everything the app did is on the feed as service messages, in order,
  // and none as a REST call. A last message to a group of its own closes
  // the window: once it is on the feed, every earlier event is too.
  await mustCall('POST', `groups/the-end/messages`, { text: 'the end' }, 204);
  await feed.waitFor((ev) => ev.kind === 'service' && ev.method === 'GroupBroadcastData' && ev.group === 'the-end', 'the last GroupBroadcastData on the feed');
  const rest = feed.events.filter((ev) => ev.kind === 'rest');
  assert.deepEqual(rest, [], 'no REST call went out');
  const methods = new Set(feed.events.map((ev) => ev.method));
  for (const m of ['BroadcastData', 'UserData', 'MultiConnectionData', 'GroupBroadcastData', 'UserJoinGroupWithAck', 'UserLeaveGroupWithAck', 'CheckUserExistenceWithAck', 'ClientInvocation']) {
    assert.ok(methods.has(m), `${m} on the feed: ${[...methods].join(', ')}`);
  }
});

test('the emulator dashboard lists the service connections and their messages', async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    await page.goto(`${emulatorURL}/`);
    await page.locator('#conn-state.live').waitFor({ timeout: waitMs });
    const servers = await (await fetch(`${emulatorURL}/_emulator/api/hubs/chat/servers`)).json();
    assert.ok(servers.servers.length > 0, 'the chat has service connections');
    const first = servers.servers[0];
    assert.equal(first.hub, 'chat');
    assert.ok(first.messagesIn > 0 && first.acks >= 0, JSON.stringify(first));
    await page.selectOption('#hub', 'chat');
    const row = page.locator(`#servers tr[data-id="${first.id}"]`);
    await row.waitFor({ timeout: waitMs });
    assert.equal(await page.textContent('#servers-total'), String(servers.servers.length));
    assert.equal(await page.isVisible('#servers-empty'), false);
    // A send shows up in the live feed as a service message.
    await mustCall('POST', 'messages', { text: 'seen on the dashboard' }, 204);
    await page.locator('#feed li[data-kind="service"]', { hasText: 'BroadcastData' }).first().waitFor({ timeout: waitMs });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
