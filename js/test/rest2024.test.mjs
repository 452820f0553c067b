// REST API 2024-12-01 with the official @microsoft/signalr client: client
// results (Client.Invoke) and :execute filters (Client.Execute with the
// typed filter builder), through the library's REST client and the Go
// emulator, as the interop suite runs them (see interop.test.mjs).
//
// Run: go build -o bin/ ./internal/cmd/interop-server && cd js && node --test test/rest2024.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { binaryPath, firstLine, inbox, startProgram, stopProgram } from '../support/harness.mjs';

let server;
let app;

before(async () => {
  ({ proc: server, value: app } = await startProgram(binaryPath('interop-server'), [], firstLine));
});

after(() => stopProgram(server, 'the interop server exits cleanly'));

// Connects as user through the app's negotiate endpoint; handlers maps
// client method names to handlers. Messages for newMessage are recorded in
// order.
async function connect(user, handlers = {}) {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${app}/api?userId=${encodeURIComponent(user)}`)
    .configureLogging(signalR.LogLevel.None)
    .build();
  for (const [name, handler] of Object.entries(handlers)) connection.on(name, handler);
  const { next, pending } = inbox(connection, 'newMessage');
  const closed = new Promise((resolve) => connection.onclose(resolve));
  await connection.start();
  return { connection, next, closed, pending };
}

async function invoke(connectionId, target, args = [], timeout = '') {
  const q = new URLSearchParams({ connectionId, target, timeout });
  const response = await fetch(`${app}/control/invoke?${q}`, { method: 'POST', body: JSON.stringify(args) });
  return { status: response.status, body: await response.json() };
}

async function execute(filter, commands) {
  const response = await fetch(`${app}/control/execute`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ filter, commands }),
  });
  assert.equal(response.status, 204, await response.text());
}

async function broadcast(marker) {
  const response = await fetch(`${app}/control/output`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ target: 'newMessage', arguments: [marker] }),
  });
  assert.equal(response.status, 200, await response.text());
}

test('Client.Invoke gets the value a connection.on handler returns', async () => {
  const { connection } = await connect('ann', {
    getAnswer: () => 42,
    add: (a, b) => a + b,
    later: async (x) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { echoed: x };
    },
  });
  try {
    assert.deepEqual(await invoke(connection.connectionId, 'getAnswer'), { status: 200, body: { result: 42 } });
    assert.deepEqual(await invoke(connection.connectionId, 'add', [2, 3]), { status: 200, body: { result: 5 } });
    // Several in flight on one connection, each matched to its own answer.
    const answers = await Promise.all([1, 2, 3, 4].map((i) => invoke(connection.connectionId, 'later', [`x${i}`])));
    assert.deepEqual(answers.map((a) => a.body.result.echoed), ['x1', 'x2', 'x3', 'x4']);
  } finally {
    await connection.stop();
  }
});

test('a throwing handler is a typed client error; a missing one too', async () => {
  const { connection } = await connect('ben', {
    explode: () => {
      throw new Error('kaboom');
    },
  });
  try {
    const thrown = await invoke(connection.connectionId, 'explode');
    assert.equal(thrown.status, 502);
    assert.equal(thrown.body.failure, 'client error');
    assert.match(thrown.body.message, /kaboom/);
    const missing = await invoke(connection.connectionId, 'noSuchHandler');
    assert.equal(missing.body.failure, 'client error');
    assert.match(missing.body.message, /didn't provide a result/);
  } finally {
    await connection.stop();
  }
});

test('a client that closes before answering, or is gone, gives the documented errors', async () => {
  let release;
  const { connection, closed } = await connect('cat', {
    hang: () => new Promise((resolve) => (release = resolve)),
  });
  const id = connection.connectionId;
  const pending = invoke(id, 'hang');
  // Wait until the handler runs, then close the client.
  while (!release) await new Promise((resolve) => setTimeout(resolve, 5));
  await connection.stop();
  await closed;
  const answer = await pending;
  assert.equal(answer.status, 502);
  assert.equal(answer.body.failure, 'connection closed');
  release(1);
  // Once the emulator has let it go, the connection is unknown: a 404, not
  // an InvokeError.
  for (;;) {
    const hub = await (await fetch(`${app}/control/snapshot`)).json();
    if (!(hub.Connections ?? []).some((c) => c.ID === id)) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const gone = await invoke(id, 'hang');
  assert.deepEqual(gone, { status: 502, body: { status: 404, code: 'Error.Connection.NotExisted' } });
});

test(':execute filters reach exactly the selected official clients', async () => {
  const clients = {
    alice: await connect('alice'),
    bob: await connect('bob'),
    "o'hara": await connect("o'hara"),
    'listener-1': await connect('listener-1'),
    'listener-2': await connect('listener-2'),
  };
  const all = Object.keys(clients);
  // Checks that exactly the named clients got marker before the broadcast
  // marker that follows it, and the others only the broadcast.
  async function expectReached(marker, names) {
    const end = `${marker}-end`;
    await broadcast(end);
    for (const name of all) {
      const c = clients[name];
      if (names.includes(name)) assert.deepEqual(await c.next(), [marker], `${name} should get ${marker}`);
      assert.deepEqual(await c.next(), [end], `${name}: ${marker}`);
      assert.equal(c.pending(), 0, name);
    }
  }
  try {
    const send = (marker) => ({ type: 'SendMessage', target: 'newMessage', arguments: [marker] });
    await execute({ op: 'eq', field: 'userId', value: "o'hara" }, [send('by user')]);
    await expectReached('by user', ["o'hara"]);

    await execute({ op: 'startswith', field: 'userId', value: 'listener-' }, [{ type: 'JoinGroup', group: 'listeners' }, send('prefix')]);
    await expectReached('prefix', ['listener-1', 'listener-2']);

    await execute({ op: 'in', field: 'userId', values: ['alice', 'bob'] }, [{ type: 'JoinGroup', group: 'people' }]);
    await execute({ op: 'ingroup', value: 'listeners' }, [send('group')]);
    await expectReached('group', ['listener-1', 'listener-2']);

    await execute(
      { op: 'or', of: [{ op: 'and', of: [{ op: 'ingroup', value: 'people' }, { op: 'ne', field: 'userId', value: 'bob' }] }, { op: 'eq', field: 'connectionId', value: clients['listener-2'].connection.connectionId }] },
      [send('combined')],
    );
    await expectReached('combined', ['alice', 'listener-2']);

    await execute({ op: 'not', of: [{ op: 'ingroup', value: 'listeners' }] }, [{ type: 'LeaveGroup', group: 'people' }, send('not')]);
    await expectReached('not', ['alice', 'bob', "o'hara"]);
    await execute({ op: 'ingroup', value: 'people' }, [send('left')]);
    await expectReached('left', []);

    await execute({ op: 'raw', value: "userId eq 'bob'" }, [{ type: 'CloseConnection', reason: 'execute says bye' }]);
    const error = await clients.bob.closed;
    assert.match(String(error), /execute says bye/);
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.connection.stop()));
  }
});
