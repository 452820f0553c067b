// Upstream suite: the official @microsoft/signalr client invokes hub methods
// on the Go emulator, which POSTs them upstream (serverless mode) to an app
// serving the library's trigger handler; the app's results come back as the
// invocations' Completions, and connected/disconnected reach the app.
//
// Run: go build -o bin/ ./internal/cmd/upstream-server && cd js && node --test test/upstream.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { binaryPath, firstLine, startProgram, stopProgram } from '../support/harness.mjs';

let server; // the child process
let app; // the app's base URL

before(async () => {
  ({ proc: server, value: app } = await startProgram(binaryPath('upstream-server'), [], firstLine));
  assert.match(app, /^http:\/\/127\.0\.0\.1:\d+$/);
});

after(() => stopProgram(server, 'the upstream server exits cleanly'));

// connect connects as user; transport and protocol ('json' or
// 'messagepack') are forced when given.
async function connect(user, transport, protocol) {
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(`${app}/api?userId=${encodeURIComponent(user)}`, transport === undefined ? {} : { transport })
    .configureLogging(signalR.LogLevel.None);
  if (protocol === 'messagepack') builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  await connection.start();
  return connection;
}

// The connection events the app received for connectionId.
async function eventsOf(connectionId) {
  const response = await fetch(`${app}/control/events`);
  assert.equal(response.status, 200);
  return (await response.json()).filter((e) => e.connectionId === connectionId);
}

async function waitForEvents(connectionId, count) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const events = await eventsOf(connectionId);
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('invoke resolves with the hub method result computed by the Go handler', async () => {
  const connection = await connect('ada');
  try {
    const value = { text: 'héllo', n: [1, 2.5, null, true] };
    assert.deepEqual(await connection.invoke('echo', value), value);
    assert.equal(await connection.invoke('echo', 'just a string'), 'just a string');
    assert.equal(await connection.invoke('add', 2, 40), 42);
    assert.deepEqual(await connection.invoke('whoami'), { connectionId: connection.connectionId, userId: 'ada' });
    // Method names match case-insensitively, as in Azure Functions.
    assert.equal(await connection.invoke('ECHO', 7), 7);
    // A fire-and-forget send reaches the app and needs no Completion.
    await connection.send('echo', 'sent');
    // Several invocations in flight complete each with its own result.
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => connection.invoke('add', i, i)));
    assert.deepEqual(results, [2, 4, 6, 8, 10]);
  } finally {
    await connection.stop();
  }
});

test('invoke of a hub method the app lacks, or one that fails, rejects', async () => {
  const connection = await connect('bob');
  try {
    await assert.rejects(connection.invoke('noSuchMethod', 1), (err) => {
      assert.match(err.message, /Invocation failed, status code 404/);
      return true;
    });
    await assert.rejects(connection.invoke('fail'), (err) => {
      assert.match(err.message, /nope/);
      return true;
    });
    await assert.rejects(connection.invoke('add', 'x'), (err) => {
      assert.match(err.message, /add takes 2 argument\(s\) \(a, b\), the client sent 1/);
      return true;
    });
    // The connection is still usable.
    assert.equal(connection.state, signalR.HubConnectionState.Connected);
    assert.equal(await connection.invoke('echo', 'still here'), 'still here');
  } finally {
    await connection.stop();
  }
});

test('connected and disconnected reach the app, in order', async () => {
  const connection = await connect('cy');
  const id = connection.connectionId;
  let events = await waitForEvents(id, 1);
  assert.deepEqual(events, [{ event: 'connected', connectionId: id, userId: 'cy', error: '' }]);
  await connection.stop();
  events = await waitForEvents(id, 2);
  assert.equal(events.length, 2, JSON.stringify(events));
  assert.equal(events[1].event, 'disconnected');
  assert.equal(events[1].userId, 'cy');
  assert.equal(events[1].error, '', 'a clean stop has no error');
});

// Every transport and protocol the client can use reaches the app's hub
// methods: a MessagePack client's invocation goes upstream as
// application/x-msgpack and the library answers with a MessagePack
// Completion.
for (const [name, transport, protocol] of [
  ['WebSockets', signalR.HttpTransportType.WebSockets, 'messagepack'],
  ['LongPolling', signalR.HttpTransportType.LongPolling, 'messagepack'],
  ['LongPolling', signalR.HttpTransportType.LongPolling, 'json'],
  ['ServerSentEvents', signalR.HttpTransportType.ServerSentEvents, 'json'],
]) {
  test(`invoke over ${name} + ${protocol} resolves with the Go handler's result`, async () => {
    const connection = await connect('dee', transport, protocol);
    try {
      const value = { text: 'héllo ✓', n: [1, 2.5, null, true], nested: { k: -3 } };
      assert.deepEqual(await connection.invoke('echo', value), value);
      assert.equal(await connection.invoke('add', 2, 40), 42);
      assert.deepEqual(await connection.invoke('whoami'), { connectionId: connection.connectionId, userId: 'dee' });
      await assert.rejects(connection.invoke('noSuchMethod'), /Invocation failed, status code 404/);
      await assert.rejects(connection.invoke('fail'), /nope/);
    } finally {
      await connection.stop();
    }
  });
}
