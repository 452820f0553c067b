// Fault injection of the Go emulator seen by the official JavaScript
// client: a connection dropped abruptly (TCP reset, no close frame; by user,
// by connection, or the whole hub) leads a client built
// withAutomaticReconnect back in; an offline endpoint keeps it out until it
// is back; negotiate refusals and latency are ridden out; a delivery delay
// loses and reorders nothing; upstream failures and hangs reject the
// invocation without closing the connection.
//
// Run: go build -o bin/ ./cmd/... && cd js && node --test test/faults.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import * as signalR from '@microsoft/signalr';
import { binaryPath, firstLine, inbox, parseConnectionString, restCaller, startProgram, stopProgram, tokenMinter } from '../support/harness.mjs';

let emulator;
let endpoint;
let mintToken;
let rest;

before(async () => {
  const binary = binaryPath('signalr-emulator', 'go build -o bin/ ./cmd/...');
  const started = await startProgram(binary, ['-port', '0'], firstLine);
  emulator = started.proc;
  const settings = parseConnectionString(started.value);
  endpoint = `${settings.Endpoint}:${settings.Port}`;
  mintToken = tokenMinter(settings.AccessKey);
  rest = restCaller(endpoint, mintToken);
});

after(() => stopProgram(emulator, 'the emulator exits cleanly on SIGTERM'));

// control calls the emulator's control API (loopback needs no token).
async function control(method, path, body) {
  const resp = await fetch(`${endpoint}/_emulator/api${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : undefined };
}

const withTimeout = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);

test('an abrupt drop leads the client with automatic reconnect back in', async () => {
  const clientURL = `${endpoint}/client/?hub=chat`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(clientURL, { accessTokenFactory: () => mintToken(clientURL, { 'asrs.s.uid': 'dropped-user' }) })
    .withAutomaticReconnect([0, 100, 200, 400, 800])
    .configureLogging(signalR.LogLevel.None)
    .build();
  const messages = inbox(connection, 'newMessage');
  const reconnecting = new Promise((resolve) => connection.onreconnecting(resolve));
  const reconnected = new Promise((resolve) => connection.onreconnected(resolve));
  await connection.start();
  try {
    const before = connection.connectionId;
    const dropped = await control('POST', '/faults', { drop: { hub: 'chat', user: 'dropped-user' } });
    assert.equal(dropped.status, 200);
    assert.equal(dropped.body.dropped, 1);

    const error = await withTimeout(reconnecting, 5000, 'onreconnecting');
    assert.ok(error instanceof Error, 'a reset is an error, not a clean close');
    const after = await withTimeout(reconnected, 5000, 'onreconnected');
    assert.notEqual(after, before, 'a new connection');

    assert.equal(await rest('POST', '/api/hubs/chat/users/dropped-user/:send', { target: 'newMessage', arguments: ['back'] }), 202);
    assert.deepEqual(await withTimeout(messages.next(), 5000, 'the message after the reconnect'), ['back']);
  } finally {
    await connection.stop();
  }
});

test('an offline endpoint refuses negotiate until it is back', async () => {
  assert.equal((await control('POST', '/faults', { offline: true })).status, 200);
  const clientURL = `${endpoint}/client/?hub=chat`;
  const make = () =>
    new signalR.HubConnectionBuilder()
      .withUrl(clientURL, { accessTokenFactory: () => mintToken(clientURL, {}) })
      .configureLogging(signalR.LogLevel.None)
      .build();
  try {
    await assert.rejects(make().start(), /503|offline/i);
  } finally {
    assert.equal((await control('DELETE', '/faults')).status, 204);
  }
  const connection = make();
  await connection.start();
  await connection.stop();
});

// client connects to hub as user with automatic reconnect on a quick schedule.
async function reconnecting(hub, user, base = endpoint) {
  const clientURL = `${base}/client/?hub=${hub}`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(clientURL, { accessTokenFactory: () => mintToken(clientURL, { 'asrs.s.uid': user }) })
    .withAutomaticReconnect([0, 100, 200, 400, 800, 800])
    .configureLogging(signalR.LogLevel.None)
    .build();
  const dropped = [];
  const back = [];
  connection.onreconnecting((err) => dropped.push(err));
  connection.onreconnected((id) => back.push(id));
  await connection.start();
  return { connection, dropped, back };
}

// until polls cond (an observable state) every 10 ms for up to ms.
async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('drops by connection and by hub: only the chosen clients go, each comes back', async () => {
  const a = await reconnecting('drops', 'a');
  const b = await reconnecting('drops', 'b');
  try {
    const one = await control('POST', '/faults', { drop: { hub: 'drops', connection: a.connection.connectionId } });
    assert.equal(one.body.dropped, 1);
    await until(() => a.back.length === 1, 5000, 'a reconnected');
    assert.equal(a.dropped.length, 1);
    assert.ok(a.dropped[0] instanceof Error, 'a reset is an error');
    assert.equal(b.dropped.length, 0, 'b was not touched');

    const all = await control('POST', '/faults', { drop: { hub: 'drops' } });
    assert.equal(all.body.dropped, 2);
    await until(() => a.back.length === 2 && b.back.length === 1, 5000, 'both reconnected');
    assert.equal(await rest('POST', '/api/hubs/drops/:send', { target: 'ping', arguments: [] }), 202);
  } finally {
    await a.connection.stop();
    await b.connection.stop();
  }
});

test('negotiate refused twice with 503 while reconnecting: the client keeps trying and comes back', async () => {
  const c = await reconnecting('chat', 'n503');
  try {
    assert.equal((await control('POST', '/faults', { kind: 'negotiate', status: 503, count: 2 })).status, 200);
    assert.equal((await control('POST', '/faults', { drop: { hub: 'chat', user: 'n503' } })).body.dropped, 1);
    await until(() => c.back.length === 1, 8000, 'reconnected after the refusals');
    const { body } = await control('GET', '/faults');
    assert.deepEqual(body.faults, [], 'both refusals were used up by the reconnect attempts');
    assert.equal(c.connection.state, signalR.HubConnectionState.Connected);
  } finally {
    await control('DELETE', '/faults');
    await c.connection.stop();
  }
});

test('negotiate latency: start waits for it and connects', async () => {
  assert.equal((await control('POST', '/faults', { kind: 'negotiate', delayNs: 300e6, count: 1 })).status, 200);
  const started = Date.now();
  const c = await reconnecting('chat', 'slow-negotiate');
  try {
    assert.ok(Date.now() - started >= 300, 'the negotiate was held');
    assert.equal(c.connection.state, signalR.HubConnectionState.Connected);
  } finally {
    await c.connection.stop();
  }
});

test('a delivery delay holds messages but delivers every one, in order', async () => {
  const c = await reconnecting('chat', 'late-reader');
  const messages = inbox(c.connection, 'newMessage');
  try {
    assert.equal((await control('POST', '/faults', { kind: 'delivery', delayNs: 100e6 })).status, 200);
    for (let i = 0; i < 5; i++) {
      assert.equal(await rest('POST', '/api/hubs/chat/users/late-reader/:send', { target: 'newMessage', arguments: [i] }), 202);
    }
    const got = [];
    for (let i = 0; i < 5; i++) got.push((await withTimeout(messages.next(), 5000, `message ${i}`))[0]);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    // Writes coalesce the messages queued meanwhile, so the delay strikes
    // once per write, not once per message.
    const [fault] = (await control('GET', '/faults')).body.faults;
    assert.ok(fault.struck >= 1 && fault.struck <= 5, `the delay held ${fault.struck} write(s)`);
  } finally {
    await control('DELETE', '/faults');
    await c.connection.stop();
  }
});

test('upstream faults: a failed call and a hung one reject the invocation; the upstream is not reached', async () => {
  const calls = [];
  const upstream = createServer((req, res) => {
    calls.push(req.headers['x-asrs-event']);
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const binary = binaryPath('signalr-emulator', 'go build -o bin/ ./cmd/...');
  const started = await startProgram(binary, ['-port', '0', '-upstream-timeout', '500ms',
    '-upstream', `http://127.0.0.1:${upstream.address().port}/{hub}/{category}/{event}`], firstLine);
  const settings = parseConnectionString(started.value);
  const base = `${settings.Endpoint}:${settings.Port}`;
  const ctl = (body) => fetch(`${base}/_emulator/api/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  try {
    assert.equal((await ctl({ kind: 'upstream', route: 'broken', status: 502 })).status, 200);
    assert.equal((await ctl({ kind: 'upstream', route: 'stuck', hang: true })).status, 200);
    const mint = tokenMinter(settings.AccessKey);
    const clientURL = `${base}/client/?hub=chat`;
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(clientURL, { accessTokenFactory: () => mint(clientURL, { 'asrs.s.uid': 'up' }) })
      .configureLogging(signalR.LogLevel.None)
      .build();
    await connection.start();
    try {
      await assert.rejects(connection.invoke('broken'), /502/);
      await assert.rejects(connection.invoke('stuck'), /did not answer within/);
      await connection.invoke('fine');
      assert.equal(connection.state, signalR.HubConnectionState.Connected, 'the connection survives both');
      assert.ok(calls.includes('fine'), 'a call without a fault reaches the upstream');
      assert.ok(!calls.includes('broken') && !calls.includes('stuck'), 'the faulted calls never reached it');
    } finally {
      await connection.stop();
    }
  } finally {
    await stopProgram(started.proc, 'the second emulator exits cleanly');
    await new Promise((resolve) => upstream.close(resolve));
  }
});
