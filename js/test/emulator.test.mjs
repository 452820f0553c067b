// Smoke test of the Go SignalR Service emulator (bin/signalr-emulator) with
// the official JavaScript client. It needs no other part of the library:
// tokens are minted here with node:crypto, and REST calls are plain fetches.
//
// Run: go build -o bin/ ./cmd/... && cd js && node --test test/emulator.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as signalR from '@microsoft/signalr';

const binary = fileURLToPath(new URL('../../bin/signalr-emulator', import.meta.url));
let emulator; // the child process
let endpoint; // http://localhost:<port>
let accessKey;

// Starts the emulator on a free port and reads the connection string it
// prints as its first line.
before(async () => {
  assert.ok(existsSync(binary), `${binary} is missing: run "go build -o bin/ ./cmd/..." (or make build) first`);
  emulator = spawn(binary, ['-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: emulator.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    emulator.once('exit', (code) => reject(new Error(`emulator exited early with code ${code}`)));
  });
  const settings = Object.fromEntries(
    first.split(';').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2)),
  );
  assert.match(settings.Endpoint, /^http:\/\/localhost$/);
  endpoint = `${settings.Endpoint}:${settings.Port}`;
  accessKey = settings.AccessKey;
  assert.equal(settings.Version, '1.0');
});

after(async () => {
  if (!emulator || emulator.exitCode !== null) return;
  const exited = new Promise((resolve) => emulator.once('exit', (code, signal) => resolve({ code, signal })));
  emulator.kill('SIGTERM');
  const { code } = await exited;
  assert.equal(code, 0, 'the emulator exits cleanly on SIGTERM');
});

const b64url = (data) => Buffer.from(data).toString('base64url');

// Mints an HS256 token the way the Azure SDKs do: key = UTF-8 bytes of the
// access key, aud = the URL the token is for.
function mintToken(aud, claims = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ ...claims, nbf: now, iat: now, exp: now + 3600, aud }));
  const signature = createHmac('sha256', Buffer.from(accessKey, 'utf8')).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

// Calls the REST API with a server token whose aud is the URL without query.
// extraQuery (such as "&reason=x") follows api-version.
async function rest(method, path, body, extraQuery = '') {
  const url = `${endpoint}${path}`;
  const response = await fetch(`${url}?api-version=2022-06-01${extraQuery}`, {
    method,
    headers: { Authorization: `Bearer ${mintToken(url)}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.status;
}

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
