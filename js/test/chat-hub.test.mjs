// Hub suite: the official @microsoft/signalr client (Node) against the chat
// example (bin/chat) on its embedded emulator. Clients invoke the chat's hub
// methods; the emulator POSTs each call upstream to the example's hub
// functions (/runtime/webhooks/signalr), which answer with the invocation's
// result and send through the output bindings.
//
// Run: go build -o bin/ ./examples/chat && cd js && node --test test/chat-hub.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { binaryPath, openURL, startProgram, stopProgram } from '../support/harness.mjs';

const waitMs = 10_000; // upper bound for anything to arrive

let server; // the chat process
let workdir; // its empty working directory: no local.settings.json
let base; // http://127.0.0.1:<port>/
const open = new Set(); // connections to stop after the suite

before(async () => {
  const binary = binaryPath('chat');
  workdir = mkdtempSync(join(tmpdir(), 'chat-hub-'));
  const env = { ...process.env };
  delete env.AzureSignalRConnectionString;
  delete env.PORT;
  const started = await startProgram(binary, ['-addr', '127.0.0.1:0'], openURL, { cwd: workdir, env });
  server = started.proc;
  base = started.value;
  const { seen } = started;
  assert.match(seen[0], /^no AzureSignalRConnectionString set: using the embedded SignalR emulator/);
  assert.ok(seen.includes(`the embedded emulator calls the hub functions at ${base}runtime/webhooks/signalr`), seen.join('\n'));
});

after(async () => {
  await Promise.all([...open].map((c) => c.stop()));
  await stopProgram(server, 'bin/chat exits cleanly');
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

// connect connects as user and records what the connection receives:
// received.messages are the newMessage bodies, received.presence the
// presence events, each in arrival order.
async function connect(user, { msgpack = false } = {}) {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(`${base}api?userId=${encodeURIComponent(user)}`)
    .configureLogging(signalR.LogLevel.None);
  if (msgpack) builder = builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  const received = { messages: [], presence: [] };
  connection.on('newMessage', (m) => received.messages.push(m));
  connection.on('presence', (p) => received.presence.push(p));
  await connection.start();
  open.add(connection);
  return { connection, received, user };
}

async function stop(client) {
  await client.connection.stop();
  open.delete(client.connection);
}

// waitUntil polls cond until it holds, or fails with what.
async function waitUntil(cond, what) {
  const deadline = Date.now() + waitMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const texts = (client) => client.received.messages.map((m) => m.text);

test('invoke("echo", x) resolves with x', async () => {
  const { connection } = await connect('ada');
  const value = { text: 'héllo ✓', n: [1, 2.5, null, true], nested: { deep: ['x'] } };
  assert.deepEqual(await connection.invoke('echo', value), value);
  assert.equal(await connection.invoke('echo', 'just a string'), 'just a string');
  assert.equal(await connection.invoke('echo', 42), 42);
  assert.equal(await connection.invoke('echo', null), null);
  // Method names match case-insensitively, as in Azure Functions.
  assert.equal(await connection.invoke('Echo', 'case'), 'case');
  // Several invocations in flight each get their own result.
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map((i) => connection.invoke('echo', i))), [1, 2, 3, 4]);
});

test('whoAmI resolves with a typed result: the caller as the service sees it', async () => {
  const { connection } = await connect('zoe');
  const me = await connection.invoke('whoAmI');
  assert.deepEqual(Object.keys(me).sort(), ['anonymous', 'connectionId', 'user']);
  assert.equal(me.user, 'zoe');
  assert.equal(me.anonymous, false);
  assert.equal(me.connectionId, connection.connectionId);
  // The class-based hub matches method names case-insensitively.
  assert.deepEqual(await connection.invoke('WHOAMI'), me);
});

test('invoking a hub method the app lacks, or with bad arguments, rejects', async () => {
  const { connection } = await connect('bea');
  await assert.rejects(connection.invoke('noSuchMethod', 1), /Invocation failed, status code 404/);
  // Wrong argument counts, for a method with one and with two parameters.
  await assert.rejects(connection.invoke('broadcast'), { message: 'broadcast: invalid arguments: it takes 1 argument(s) (a string), the client sent 0' });
  await assert.rejects(connection.invoke('broadcast', 'a', 'b'), { message: 'broadcast: invalid arguments: it takes 1 argument(s) (a string), the client sent 2' });
  await assert.rejects(connection.invoke('sendToUser', 'bob'), { message: 'sendToUser: invalid arguments: it takes 2 argument(s) (a string, a string), the client sent 1' });
  await assert.rejects(connection.invoke('whoAmI', 1), { message: 'whoAmI: invalid arguments: it takes no arguments, the client sent 1' });
  // A wrong argument type.
  await assert.rejects(connection.invoke('broadcast', 7), { message: 'broadcast: invalid arguments: argument 1 must be a string: the client sent a number' });
  await assert.rejects(connection.invoke('sendToGroup', ['g'], 'hi'), { message: 'sendToGroup: invalid arguments: argument 1 must be a string: the client sent an array' });
  // Errors the hub methods return.
  await assert.rejects(connection.invoke('joinGroup', '   '), { message: 'joinGroup: group is empty' });
  await assert.rejects(connection.invoke('sendToUser', 'nobody-here', 'hi'), { message: 'nobody named nobody-here is online' });
  // The connection is still usable.
  assert.equal(connection.state, signalR.HubConnectionState.Connected);
  assert.equal(await connection.invoke('echo', 'still here'), 'still here');
});

test('broadcast, sendToUser, joinGroup + sendToGroup and leaveGroup reach exactly the right clients', async () => {
  const alice = await connect('alice');
  const alice2 = await connect('alice'); // alice's second window
  const bob = await connect('bob');
  const carol = await connect('carol');
  const everyone = [alice, alice2, bob, carol];
  // Each step ends with a broadcast marker; a message that went astray
  // would show up before it.
  const marker = async (from, text) => {
    await from.connection.invoke('broadcast', text);
    await waitUntil(() => everyone.every((c) => texts(c).includes(text)), `everyone to get ${text}`);
  };

  // A hub method without a result resolves with nothing.
  assert.equal(await alice.connection.invoke('broadcast', 'hello, all'), undefined);
  await marker(carol, 'marker 1');

  await bob.connection.invoke('sendToUser', 'alice', 'psst, alice');
  await marker(carol, 'marker 2');

  // Group membership belongs to the calling connection: alice's first
  // window joins, her second does not.
  await alice.connection.invoke('joinGroup', 'g1');
  await carol.connection.invoke('sendToGroup', 'g1', 'hi, g1'); // carol is not a member
  await marker(bob, 'marker 3');

  await alice.connection.invoke('leaveGroup', 'g1');
  await carol.connection.invoke('sendToGroup', 'g1', 'anyone in g1?');
  // A fire-and-forget send is a hub call too.
  await bob.connection.send('broadcast', 'sent, not invoked');
  await waitUntil(() => everyone.every((c) => texts(c).includes('sent, not invoked')), 'everyone to get the sent message');
  await marker(bob, 'marker 4');

  const common = ['hello, all', 'marker 1', 'marker 2', 'marker 3', 'sent, not invoked', 'marker 4'];
  assert.deepEqual(texts(alice), ['hello, all', 'marker 1', 'psst, alice', 'marker 2', 'hi, g1', 'marker 3', 'sent, not invoked', 'marker 4']);
  assert.deepEqual(texts(alice2), ['hello, all', 'marker 1', 'psst, alice', 'marker 2', 'marker 3', 'sent, not invoked', 'marker 4']);
  assert.deepEqual(texts(bob), common);
  assert.deepEqual(texts(carol), common);

  // The sender and audience come from the server: the caller's user id
  // from its token, not anything the client claims.
  const psst = alice.received.messages.find((m) => m.text === 'psst, alice');
  assert.equal(psst.from, 'bob');
  assert.deepEqual(psst.to, { user: 'alice' });
  assert.ok(!Number.isNaN(Date.parse(psst.sentAt)), `sentAt ${psst.sentAt}`);
  assert.deepEqual(alice.received.messages.find((m) => m.text === 'hi, g1').to, { group: 'g1' });
  assert.equal(alice.received.messages.find((m) => m.text === 'hello, all').to, undefined);

  for (const c of everyone) await stop(c);
});

test('a MessagePack client calls the same typed hub methods', async () => {
  const packed = await connect('mia', { msgpack: true });
  const plain = await connect('noah');
  const me = await packed.connection.invoke('whoAmI');
  assert.equal(me.user, 'mia');
  assert.equal(me.connectionId, packed.connection.connectionId);
  assert.deepEqual(await packed.connection.invoke('echo', { n: [1, 2.5, null, true], s: 'x' }), { n: [1, 2.5, null, true], s: 'x' });
  await assert.rejects(packed.connection.invoke('broadcast'), { message: 'broadcast: invalid arguments: it takes 1 argument(s) (a string), the client sent 0' });
  await assert.rejects(packed.connection.invoke('broadcast', 7), /^Error: broadcast: invalid arguments: argument 1 must be a string: /);
  // What a MessagePack client sends reaches a JSON client.
  await packed.connection.invoke('sendToUser', 'noah', 'packed hello');
  await waitUntil(() => texts(plain).includes('packed hello'), 'noah to get the packed message');
  assert.equal(plain.received.messages.find((m) => m.text === 'packed hello').from, 'mia');
  await stop(packed);
  await stop(plain);
});

test('presence events arrive when a user comes online and goes offline', async () => {
  const watcher = await connect('watcher');
  await waitUntil(() => watcher.received.presence.some((p) => p.user === 'watcher'), 'the watcher to hear of itself');
  const dora = await connect('dora');
  await waitUntil(() => watcher.received.presence.some((p) => p.user === 'dora'), 'dora online');
  await stop(dora);
  await waitUntil(() => watcher.received.presence.some((p) => p.user === 'dora' && !p.online), 'dora offline');
  assert.deepEqual(watcher.received.presence, [
    { user: 'watcher', online: true },
    { user: 'dora', online: true },
    { user: 'dora', online: false },
  ]);
  // (A user with another window still open stays online: the Go test
  // TestPresenceReachesEveryone checks that, as it can tell when the app
  // has handled a disconnect.)
  await stop(watcher);
});
