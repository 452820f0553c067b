// Smoke test of the Go SignalR Service emulator (bin/signalr-emulator) with
// the official JavaScript client. It needs no other part of the library:
// tokens are minted here with node:crypto, and REST calls are plain fetches.
//
// Run: go build -o bin/ ./cmd/... && cd js && node --test test/emulator.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { binaryPath, firstLine, parseConnectionString, restCaller, startProgram, stopProgram, tokenMinter } from '../support/harness.mjs';

let emulator; // the child process
let endpoint; // http://localhost:<port>
let mintToken; // signs with the emulator's access key
let rest; // calls its REST API

// Starts the emulator on a free port and reads the connection string it
// prints as its first line.
before(async () => {
  const binary = binaryPath('signalr-emulator', 'go build -o bin/ ./cmd/...');
  const started = await startProgram(binary, ['-port', '0'], firstLine);
  emulator = started.proc;
  const settings = parseConnectionString(started.value);
  assert.match(settings.Endpoint, /^http:\/\/localhost$/);
  endpoint = `${settings.Endpoint}:${settings.Port}`;
  mintToken = tokenMinter(settings.AccessKey);
  rest = restCaller(endpoint, mintToken);
  assert.equal(settings.Version, '1.0');
});

after(() => stopProgram(emulator, 'the emulator exits cleanly on SIGTERM'));

// Connects the official client as user alice, and records what it receives.
async function connect(hub = 'chat', user = 'alice') {
  const clientURL = `${endpoint}/client/?hub=${hub}`;
  const received = [];
  let notify = () => {};
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(clientURL, { accessTokenFactory: () => mintToken(clientURL, { 'asrs.s.uid': user }) })
    .configureLogging(signalR.LogLevel.None)
    .build();
  connection.on('newMessage', (...args) => {
    received.push(args);
    notify();
  });
  const closed = new Promise((resolve) => connection.onclose(resolve));
  await connection.start();
  const next = () =>
    new Promise((resolve) => {
      if (received.length > 0) return resolve(received.shift());
      notify = () => {
        notify = () => {};
        resolve(received.shift());
      };
    });
  return { connection, next, closed };
}

test('the official client negotiates, connects and receives REST sends', async () => {
  const { connection, next } = await connect();
  try {
    assert.equal(connection.state, signalR.HubConnectionState.Connected);
    assert.ok(connection.connectionId, 'negotiate gave a connection id');

    assert.equal(await rest('POST', '/api/hubs/chat/:send', { target: 'newMessage', arguments: ['to all', 1] }), 202);
    assert.deepEqual(await next(), ['to all', 1]);

    assert.equal(await rest('POST', '/api/hubs/chat/users/alice/:send', { Target: 'newMessage', Arguments: ['to alice'] }), 202);
    assert.deepEqual(await next(), ['to alice']);

    const id = encodeURIComponent(connection.connectionId);
    assert.equal(await rest('PUT', `/api/hubs/chat/groups/admins/connections/${id}`), 200);
    assert.equal(await rest('POST', '/api/hubs/chat/groups/admins/:send', { target: 'newMessage', arguments: ['to admins'] }), 202);
    assert.deepEqual(await next(), ['to admins']);

    assert.equal(await rest('POST', `/api/hubs/chat/connections/${id}/:send`, { target: 'newMessage', arguments: ['to you'] }), 202);
    assert.deepEqual(await next(), ['to you']);
  } finally {
    await connection.stop();
  }
});

test('invoke() is answered with an error, not left hanging', async () => {
  const { connection } = await connect();
  try {
    await assert.rejects(connection.invoke('echo', 'hi'), /no upstream configured/);
  } finally {
    await connection.stop();
  }
});

test('a REST close ends the connection with the reason', async () => {
  const { connection, closed } = await connect();
  const id = encodeURIComponent(connection.connectionId);
  assert.equal(await rest('DELETE', `/api/hubs/chat/connections/${id}`, undefined, '&reason=kicked'), 200);
  const error = await closed;
  assert.match(String(error), /kicked/);
  assert.equal(connection.state, signalR.HubConnectionState.Disconnected);
});

test('a bad token is refused with 401 and a reason', async () => {
  const clientURL = `${endpoint}/client/?hub=chat`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(clientURL, { accessTokenFactory: () => mintToken('http://elsewhere/client/?hub=chat') })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await assert.rejects(connection.start(), /401|audience/);
});
