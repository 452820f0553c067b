// Fault injection of the Go emulator seen by the official JavaScript
// client: a connection dropped abruptly (TCP reset, no close frame) leads a
// client built withAutomaticReconnect back in, and an offline endpoint
// keeps it out until it is back.
//
// Run: go build -o bin/ ./cmd/... && cd js && node --test test/faults.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
