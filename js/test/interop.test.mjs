// Interop suite: the official @microsoft/signalr client against the library.
// The client negotiates through the library's negotiate handler, follows its
// {url, accessToken} redirect to the Go emulator, and receives what the test
// sends through the library's output collector (Functions-style JSON
// payloads), as a Functions app would send it. A close through the library's
// REST client ends the connection.
//
// Run: go build -o bin/ ./internal/cmd/interop-server && cd js && node --test test/interop.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { binaryPath, firstLine, inbox, startProgram, stopProgram } from '../support/harness.mjs';

let server; // the child process
let app; // the app's base URL

before(async () => {
  ({ proc: server, value: app } = await startProgram(binaryPath('interop-server'), [], firstLine));
  assert.match(app, /^http:\/\/127\.0\.0\.1:\d+$/);
});

after(() => stopProgram(server, 'the interop server exits cleanly'));

// Sends a Functions output payload (one item or an array) through the
// library's collector; resolves to the HTTP status.
async function output(payload) {
  const response = await fetch(`${app}/control/output`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const body = await response.text();
  assert.equal(response.status, 200, `output ${JSON.stringify(payload)} failed: ${body}`);
}

async function snapshot() {
  const response = await fetch(`${app}/control/snapshot`);
  return response.json();
}

// Connects as user through the app's negotiate endpoint and records what
// arrives for target newMessage, in order.
async function connect(user) {
  const negotiations = [];
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${app}/api?userId=${encodeURIComponent(user)}`, {
      // Observe each HTTP request the client makes, to check the redirect.
      httpClient: new (class extends signalR.DefaultHttpClient {
        send(request) {
          negotiations.push(request.url);
          return super.send(request);
        }
      })(signalR.NullLogger.instance),
    })
    .configureLogging(signalR.LogLevel.None)
    .build();
  const { next, pending } = inbox(connection, 'newMessage');
  const closed = new Promise((resolve) => connection.onclose(resolve));
  await connection.start();
  return { connection, next, closed, negotiations, pending };
}

test('negotiate redirects the official client to the emulator with the library token', async () => {
  const { connection, negotiations } = await connect('alice');
  try {
    assert.equal(connection.state, signalR.HubConnectionState.Connected);
    assert.ok(negotiations[0].startsWith(`${app}/api/negotiate?userId=alice&negotiateVersion=1`), negotiations[0]);
    assert.match(negotiations[1], /^http:\/\/127\.0\.0\.1:\d+\/client\/negotiate\?hub=interop&negotiateVersion=1$/);
    const hub = await snapshot();
    const me = hub.Connections.find((c) => c.ID === connection.connectionId);
    assert.ok(me, 'the emulator holds the connection');
    assert.equal(me.UserID, 'alice', 'the user id came from the library token');
  } finally {
    await connection.stop();
  }
});

test('broadcast, user, group and connection messages arrive through the collector', async () => {
  const alice = await connect('alice');
  const bob = await connect('bob');
  try {
    // Broadcast, written as a JavaScript function writes it.
    await output([{ target: 'newMessage', arguments: ['hello all', 1] }]);
    assert.deepEqual(await alice.next(), ['hello all', 1]);
    assert.deepEqual(await bob.next(), ['hello all', 1]);

    // To one user; .NET property casing is accepted too.
    await output({ UserId: 'alice', Target: 'newMessage', Arguments: ['for alice'] });
    assert.deepEqual(await alice.next(), ['for alice']);

    // Group add then send, in one payload: the collector keeps their order.
    await output([
      { userId: 'alice', groupName: 'g1', action: 'add' },
      { groupName: 'g1', target: 'newMessage', arguments: ['to g1'] },
    ]);
    assert.deepEqual(await alice.next(), ['to g1']);

    // Remove, then a group send that must not arrive, then a broadcast that
    // must: alice's next message is the broadcast.
    await output([
      { userId: 'alice', groupName: 'g1', action: 'Remove' },
      { groupName: 'g1', target: 'newMessage', arguments: ['to g1 after remove'] },
      { target: 'newMessage', arguments: ['marker'] },
    ]);
    assert.deepEqual(await alice.next(), ['marker']);

    // To one connection id.
    await output({ connectionId: bob.connection.connectionId, target: 'newMessage', arguments: ['for bob only'] });
    await output({ target: 'newMessage', arguments: ['marker 2'] });
    assert.deepEqual(await alice.next(), ['marker 2']);

    // bob saw: broadcast (already read), marker, his own, marker 2 and
    // nothing addressed to alice or to g1.
    assert.deepEqual(await bob.next(), ['marker']);
    assert.deepEqual(await bob.next(), ['for bob only']);
    assert.deepEqual(await bob.next(), ['marker 2']);
    assert.equal(bob.pending(), 0);
    assert.equal(alice.pending(), 0);

    // A connection added to a group by connection id.
    await output({ connectionId: bob.connection.connectionId, groupName: 'g2', action: 'add' });
    await output({ groupName: 'g2', target: 'newMessage', arguments: ['to g2'] });
    assert.deepEqual(await bob.next(), ['to g2']);
  } finally {
    await Promise.all([alice.connection.stop(), bob.connection.stop()]);
  }
});

test('a close through the REST client ends the connection with its reason', async () => {
  const { connection, closed } = await connect('carol');
  const id = encodeURIComponent(connection.connectionId);
  const response = await fetch(`${app}/control/close?connectionId=${id}&reason=maintenance`, { method: 'POST' });
  assert.equal(response.status, 204);
  const error = await closed;
  assert.match(String(error), /maintenance/);
  assert.equal(connection.state, signalR.HubConnectionState.Disconnected);
});

test('a contradictory output is refused before any I/O', async () => {
  const response = await fetch(`${app}/control/output`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: 'dave', groupName: 'g1', target: 'newMessage', arguments: [] }),
  });
  assert.equal(response.status, 400, 'a message with two targets is refused before any I/O');
  assert.match(await response.text(), /userId.*groupName|groupName.*userId/);
});
