// The official client against the Go emulator (bin/signalr-emulator) on
// every transport it can force, with each hub protocol: JSON, and
// MessagePack through @microsoft/signalr-protocol-msgpack. Each working
// combination connects, receives a broadcast, a user and a group message
// with typed arguments intact, and is closed by REST with its reason.
// Server-Sent Events with MessagePack is refused, as the client expects
// from negotiate (SSE carries text only).
//
// Run: go build -o bin/ ./cmd/... && cd js && node --test test/transports.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { binaryPath, firstLine, parseConnectionString, restCaller, startProgram, stopProgram, tokenMinter } from '../support/harness.mjs';

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

// The arguments of every send: each JSON type, unicode, nesting, null.
const typed = [42, -7, 3.25, 2 ** 40, 'héllo ✓ 😀 中文', { n: 1, nested: { list: [1, 'two', null, true], f: -0.5 } }, null, false, []];

function build(hub, user, transport, protocol) {
  const clientURL = `${endpoint}/client/?hub=${hub}`;
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(clientURL, {
      transport,
      accessTokenFactory: () => mintToken(clientURL, { 'asrs.s.uid': user }),
    })
    .configureLogging(signalR.LogLevel.None);
  if (protocol === 'messagepack') builder.withHubProtocol(new MessagePackHubProtocol());
  return builder.build();
}

// connect starts a connection and returns it with next(), which resolves
// with the arguments of the next newMessage.
async function connect(hub, user, transport, protocol) {
  const connection = build(hub, user, transport, protocol);
  const received = [];
  const waiters = [];
  connection.on('newMessage', (...args) => {
    const waiter = waiters.shift();
    if (waiter) waiter(args);
    else received.push(args);
  });
  const closed = new Promise((resolve) => connection.onclose(resolve));
  await connection.start();
  const next = () =>
    received.length > 0
      ? Promise.resolve(received.shift())
      : Promise.race([
        new Promise((resolve) => waiters.push(resolve)),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no message within 10s')), 10_000).unref()),
      ]);
  return { connection, next, closed };
}

// name, the client's enum value, the client class that implements it
const transports = [
  ['WebSockets', signalR.HttpTransportType.WebSockets, 'WebSocketTransport'],
  ['ServerSentEvents', signalR.HttpTransportType.ServerSentEvents, 'ServerSentEventsTransport'],
  ['LongPolling', signalR.HttpTransportType.LongPolling, 'LongPollingTransport'],
];

for (const [transportName, transport, transportClass] of transports) {
  for (const protocol of ['json', 'messagepack']) {
    if (transportName === 'ServerSentEvents' && protocol === 'messagepack') {
      test(`${transportName} + ${protocol} is refused at negotiate`, async () => {
        const connection = build('refused', 'alice', transport, protocol);
        await assert.rejects(connection.start(), /'ServerSentEvents' does not support Binary/);
        assert.equal(connection.state, signalR.HubConnectionState.Disconnected);
      });
      continue;
    }
    test(`${transportName} + ${protocol}: broadcast, user and group messages with types intact, REST close with reason`, async () => {
      const hub = `${transportName}${protocol}`.toLowerCase();
      const { connection, next, closed } = await connect(hub, 'alice', transport, protocol);
      const other = await connect(hub, 'bob', transport, protocol);
      try {
        assert.equal(connection.state, signalR.HubConnectionState.Connected);
        assert.equal(connection.connection.transport.constructor.name, transportClass, 'the forced transport is the one in use');

        assert.equal(await rest('POST', `/api/hubs/${hub}/:send`, { target: 'newMessage', arguments: typed }), 202);
        assert.deepEqual(await next(), typed);
        assert.deepEqual(await other.next(), typed);

        assert.equal(await rest('POST', `/api/hubs/${hub}/users/alice/:send`, { target: 'newMessage', arguments: ['to alice', ...typed] }), 202);
        assert.deepEqual(await next(), ['to alice', ...typed]);

        const id = encodeURIComponent(connection.connectionId);
        assert.equal(await rest('PUT', `/api/hubs/${hub}/groups/admins/connections/${id}`), 200);
        assert.equal(await rest('POST', `/api/hubs/${hub}/groups/admins/:send`, { target: 'newMessage', arguments: ['to admins', typed[5]] }), 202);
        assert.deepEqual(await next(), ['to admins', typed[5]]);

        // bob got the broadcast only: a later one reaches him next.
        assert.equal(await rest('POST', `/api/hubs/${hub}/:send`, { target: 'newMessage', arguments: ['marker'] }), 202);
        assert.deepEqual(await other.next(), ['marker']);
        assert.deepEqual(await next(), ['marker']);

        await assert.rejects(connection.invoke('echo', 'hi'), /no upstream configured/);

        assert.equal(await rest('DELETE', `/api/hubs/${hub}/connections/${id}`, undefined, '&reason=kicked%20out'), 200);
        const error = await closed;
        assert.match(String(error), /kicked out/);
        assert.equal(connection.state, signalR.HubConnectionState.Disconnected);
      } finally {
        await connection.stop();
        await other.connection.stop();
      }
    });
  }
}
