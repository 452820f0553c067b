// The emulator's dashboard in a real browser (Debian's headless Chromium via
// playwright-core): an official client's connection appears with its user
// and groups, a REST send and an upstream call appear in the live feed, and
// closing the connection from the page closes the client. It also writes
// the 1280x800 screenshot the README shows (docs/dashboard.png).
//
// Run: go build -o bin/ ./cmd/... && cd js && node --test test/dashboard-e2e.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import * as signalR from '@microsoft/signalr';
import { binaryPath, firstLine, parseConnectionString, restCaller, startProgram, stopProgram, tokenMinter } from '../support/harness.mjs';

const screenshot = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
let emulator;
let endpoint; // http://localhost:<port>
let dashboard; // http://127.0.0.1:<port>/
let mintToken;
let rest;
let upstream; // a plain HTTP server standing in for the app's upstream
let upstreamCalls = 0;
let browser;
const clients = [];

before(async () => {
  upstream = createServer((req, res) => {
    upstreamCalls++;
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const binary = binaryPath('signalr-emulator', 'go build -o bin/ ./cmd/...');
  const started = await startProgram(binary, ['-port', '0', '-upstream', `http://127.0.0.1:${upstream.address().port}/{hub}/{category}/{event}`], firstLine);
  emulator = started.proc;
  const settings = parseConnectionString(started.value);
  endpoint = `${settings.Endpoint}:${settings.Port}`;
  dashboard = `http://127.0.0.1:${settings.Port}/`;
  mintToken = tokenMinter(settings.AccessKey);
  rest = restCaller(endpoint, mintToken);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  for (const c of clients) await c.stop().catch(() => {});
  await browser?.close();
  await stopProgram(emulator, 'the emulator exits cleanly on SIGTERM');
  await new Promise((resolve) => upstream.close(resolve));
});

async function connect(user, transport = signalR.HttpTransportType.WebSockets) {
  const clientURL = `${endpoint}/client/?hub=chat`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(clientURL, { transport, accessTokenFactory: () => mintToken(clientURL, { 'asrs.s.uid': user }) })
    .configureLogging(signalR.LogLevel.None)
    .build();
  const closed = new Promise((resolve) => connection.onclose(resolve));
  await connection.start();
  clients.push(connection);
  return { connection, closed };
}

test('the dashboard shows a client, its traffic, and closes it', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
  await page.goto(dashboard);
  await page.locator('#conn-state.live').waitFor({ timeout: 5000 });

  // Some company for the screenshot.
  await connect('bob', signalR.HttpTransportType.ServerSentEvents);
  const carol = await connect('carol', signalR.HttpTransportType.LongPolling);
  assert.equal(await rest('PUT', `/api/hubs/chat/groups/support/connections/${carol.connection.connectionId}`), 200);

  const { connection, closed } = await connect('alice');
  const id = connection.connectionId;
  assert.equal(await rest('PUT', `/api/hubs/chat/groups/admins/connections/${id}`), 200);
  const shownAt = Date.now();
  // The page has no hub selected until the first one appears.
  const row = page.locator(`tr[data-id="${id}"]`);
  await row.filter({ hasText: 'alice' }).filter({ has: page.locator('.groups .tag', { hasText: 'admins' }) }).waitFor({ timeout: 1000 });
  const took = Date.now() - shownAt;
  assert.ok(took <= 1000, `the connection appeared with its user and group in ${took} ms`);

  assert.equal(await rest('POST', '/api/hubs/chat/groups/admins/:send', { target: 'newMessage', arguments: ['hello admins'] }), 202);
  await page.locator('#feed li[data-kind="rest"]', { hasText: 'newMessage' }).first().waitFor({ timeout: 5000 });
  await connection.send('broadcast', 'from alice');
  await page.locator('#feed li[data-kind="upstream"]', { hasText: 'broadcast' }).first().waitFor({ timeout: 5000 });
  await page.locator('#feed li[data-kind="upstream"]', { hasText: 'connected' }).first().waitFor({ timeout: 5000 });
  assert.ok(upstreamCalls >= 4, 'the upstream was called');
  await page.waitForTimeout(300); // let the coalesced refresh land before the picture
  await page.screenshot({ path: screenshot });

  await row.locator('button', { hasText: 'Close' }).click();
  const error = await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the client was not closed')), 5000))]);
  assert.match(String(error), /Closed from the emulator dashboard/);
  await row.waitFor({ state: 'detached', timeout: 5000 });
  await page.locator('#feed li[data-kind="disconnected"]', { hasText: 'alice' }).first().waitFor({ timeout: 5000 });
  assert.deepEqual(problems, []);
  await context.close();
});
