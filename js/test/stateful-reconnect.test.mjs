// Stateful reconnect suite: the official client (the pinned 10.x and the
// 8.0 line) with withStatefulReconnect() on WebSockets, JSON and
// MessagePack, through a TCP proxy that this test cuts: the client keeps
// its connection id, fires neither onreconnecting nor onclose, and gets
// every REST message sent before, during and after the cut exactly once
// and in order; a send() during the cut reaches the upstream once; a cut
// longer than the emulator's window ends in a close and one disconnected
// event.
//
// Run: make build && cd js && node --test test/stateful-reconnect.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as signalR10 from '@microsoft/signalr';
import { MessagePackHubProtocol as MessagePack10 } from '@microsoft/signalr-protocol-msgpack';
import * as signalR8 from 'signalr8';
import { MessagePackHubProtocol as MessagePack8 } from 'signalr8-protocol-msgpack';
import { binaryPath, firstLine, inbox, restCaller, startProgram, stopProgram, tokenMinter } from '../support/harness.mjs';

const WINDOW_MS = 2000; // the emulator's window (-window)
let server;
let emulator; // the emulator's URL
let upstream; // the recording upstream's URL
let mint;
let rest;
let proxy;

// cutProxy forwards TCP connections to target. cut() destroys every
// connection it carries and holds new ones (accepted, not forwarded) until
// heal(), as a network that drops and comes back.
function cutProxy(target) {
  const { hostname, port } = new URL(target);
  const pairs = new Set();
  let held = [];
  let cutting = false;
  const forward = (client) => {
    const upstreamSocket = net.connect(Number(port), hostname);
    const pair = [client, upstreamSocket];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstreamSocket.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstreamSocket.on('error', drop).on('close', drop);
    client.pipe(upstreamSocket);
    upstreamSocket.pipe(client);
    client.resume();
  };
  const srv = net.createServer({ pauseOnConnect: true }, (client) => {
    if (cutting) {
      client.on('error', () => {});
      held.push(client);
    } else forward(client);
  });
  return {
    listen: () => new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${srv.address().port}`))),
    cut() {
      cutting = true;
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    heal() {
      cutting = false;
      const waiting = held;
      held = [];
      for (const c of waiting) if (!c.destroyed) forward(c);
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      for (const c of held) c.destroy();
      return new Promise((resolve) => srv.close(resolve));
    },
  };
}

before(async () => {
  const started = await startProgram(binaryPath('stateful-server'), ['-window', `${WINDOW_MS}ms`], firstLine);
  server = started.proc;
  ({ emulator, upstream } = JSON.parse(started.value));
  mint = tokenMinter(JSON.parse(started.value).accessKey);
  rest = restCaller(emulator, mint);
  proxy = cutProxy(emulator);
  proxy.url = await proxy.listen();
});

after(async () => {
  await proxy?.close();
  await stopProgram(server, 'the stateful server exits cleanly');
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function upstreamEvents(connectionId) {
  const response = await fetch(`${upstream}/events`);
  assert.equal(response.status, 200);
  return (await response.json()).filter((e) => e.connectionId === connectionId).map((e) => `${e.event} ${e.event === 'note' ? e.body.length > 0 : ''}`.trim());
}

async function waitFor(what, cond, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await cond();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(25);
  }
}

const clients = [
  { name: '10.0.11', signalR: signalR10, MessagePack: MessagePack10 },
  { name: '8.0.29', signalR: signalR8, MessagePack: MessagePack8 },
];

function build({ signalR, MessagePack }, protocol, hub) {
  const url = `${proxy.url}/client/?hub=${hub}`;
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(url, {
      transport: signalR.HttpTransportType.WebSockets,
      accessTokenFactory: () => mint(url, { 'asrs.s.uid': 'ada' }),
    })
    .withStatefulReconnect()
    .configureLogging(signalR.LogLevel.None);
  if (protocol === 'messagepack') builder.withHubProtocol(new MessagePack());
  const connection = builder.build();
  const seen = { reconnecting: 0, closed: 0, closeError: undefined };
  connection.onreconnecting(() => seen.reconnecting++);
  connection.onclose((err) => {
    seen.closed++;
    seen.closeError = err;
  });
  return { connection, seen };
}

for (const client of clients) {
  for (const protocol of ['json', 'messagepack']) {
    test(`${client.name} ${protocol}: a cut loses and doubles nothing`, async () => {
      const hub = `sr${client.name.replace(/\./g, '')}${protocol}`;
      const { connection, seen } = build(client, protocol, hub);
      const messages = inbox(connection, 'newMessage', (text) => text);
      const received = [];
      await connection.start();
      const id = connection.connectionId;
      const toMe = (text) => rest('POST', `/api/hubs/${hub}/connections/${encodeURIComponent(id)}/:send`, { target: 'newMessage', arguments: [text] });
      const toAll = (text) => rest('POST', `/api/hubs/${hub}/:send`, { target: 'newMessage', arguments: [text] });
      try {
        const want = [];
        for (let i = 1; i <= 3; i++) {
          want.push(`before-${i}`);
          assert.equal(await (i % 2 ? toMe : toAll)(`before-${i}`), 202);
        }
        for (let i = 0; i < 3; i++) received.push(await messages.next());

        proxy.cut();
        await sleep(200); // the client notices and its reconnect attempt is held
        for (let i = 1; i <= 3; i++) {
          want.push(`during-${i}`);
          assert.equal(await (i % 2 ? toAll : toMe)(`during-${i}`), 202);
        }
        await connection.send('note', 'sent during the cut');
        await sleep(300);
        proxy.heal();

        want.push('after-1');
        assert.equal(await toMe('after-1'), 202);
        while (received.length < want.length) received.push(await messages.next());
        // Acks go out within a second; give duplicates time to show.
        await sleep(1500);
        assert.equal(messages.pending(), 0, 'no message arrives twice');
        assert.deepEqual(received, want, 'every message once, in order');

        assert.equal(connection.connectionId, id, 'same connection id');
        assert.equal(connection.state, client.signalR.HubConnectionState.Connected);
        assert.equal(seen.reconnecting, 0, 'no onreconnecting');
        assert.equal(seen.closed, 0, 'no onclose');
        await waitFor('the note upstream', async () => (await upstreamEvents(id)).length >= 2);
        await sleep(300);
        assert.deepEqual(await upstreamEvents(id), ['connected', 'note true'], 'no disconnected/connected pair; the send once');
      } finally {
        proxy.heal();
        await connection.stop();
      }
      await waitFor('disconnected', async () => (await upstreamEvents(id)).includes('disconnected'));
      assert.deepEqual(await upstreamEvents(id), ['connected', 'note true', 'disconnected']);
    });
  }

  test(`${client.name}: a cut longer than the window ends in a close and one disconnected event`, async () => {
    const hub = `srlong${client.name.replace(/\./g, '')}`;
    const { connection, seen } = build(client, 'json', hub);
    await connection.start();
    const id = connection.connectionId;
    proxy.cut();
    await sleep(WINDOW_MS + 1000);
    await waitFor('disconnected after the window', async () => (await upstreamEvents(id)).includes('disconnected'));
    proxy.heal(); // the client's held attempt now reaches the emulator: 404
    await waitFor('onclose', () => seen.closed === 1);
    assert.equal(connection.state, client.signalR.HubConnectionState.Disconnected);
    assert.equal(seen.reconnecting, 0);
    await sleep(300);
    assert.deepEqual(await upstreamEvents(id), ['connected', 'disconnected'], 'one disconnected event');
  });
}
