// The official browser client, in Debian's headless Chromium, against the
// Go emulator (bin/signalr-emulator) with Long Polling and with
// MessagePack: each page receives a broadcast, a user and a group message
// with typed arguments intact and is closed by REST with its reason. The
// page (test/pages/transports.html) is served from another origin than the
// emulator, as an app's page would be, so CORS is exercised too.
//
// Run: go build -o bin/ ./cmd/... && cd js && node --test test/transports-e2e.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { binaryPath, firstLine, parseConnectionString, restCaller, startProgram, stopProgram, tokenMinter } from '../support/harness.mjs';

const files = {
  '/': ['text/html', new URL('./pages/transports.html', import.meta.url)],
  '/signalr.min.js': ['text/javascript', new URL('../node_modules/@microsoft/signalr/dist/browser/signalr.min.js', import.meta.url)],
  '/signalr-protocol-msgpack.min.js': ['text/javascript',
    new URL('../node_modules/@microsoft/signalr-protocol-msgpack/dist/browser/signalr-protocol-msgpack.min.js', import.meta.url)],
};
const waitMs = 15_000;

let emulator;
let endpoint; // http://127.0.0.1:<port> (the page is on localhost: another origin)
let mintToken;
let rest;
let pageServer;
let pageBase;
let browser;

before(async () => {
  const binary = binaryPath('signalr-emulator', 'go build -o bin/ ./cmd/...');
  const started = await startProgram(binary, ['-port', '0'], firstLine, { stdio: ['ignore', 'pipe', 'ignore'] });
  emulator = started.proc;
  const settings = parseConnectionString(started.value);
  endpoint = `http://127.0.0.1:${settings.Port}`;
  mintToken = tokenMinter(settings.AccessKey);
  rest = restCaller(endpoint, mintToken);

  pageServer = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = files[path];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file[0] }).end(readFileSync(file[1]));
  });
  await new Promise((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageBase = `http://localhost:${pageServer.address().port}/`;

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve()));
  await stopProgram(emulator, 'the emulator exits cleanly on SIGTERM');
});

const typed = [42, -7, 3.25, 2 ** 40, 'héllo ✓ 😀 中文', { n: 1, nested: { list: [1, 'two', null, true], f: -0.5 } }, null, false, []];

// open loads the page connected as user with transport and protocol, and
// records the requests it makes to the emulator.
async function open(hub, user, transport, protocol) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(waitMs);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // The client logs the REST close it is told about as an error.
    if (msg.type() === 'error' && !/Server returned an error on close: kicked out/.test(msg.text())) {
      problems.push(`console error: ${msg.text()}`);
    }
  });
  const network = { polls: 0, posts: 0, websockets: 0, eventStreams: 0 };
  page.on('request', (req) => {
    if (!req.url().startsWith(`${endpoint}/client/?`)) return;
    if (req.method() === 'GET' && /[?&]_=\d+/.test(req.url())) network.polls++;
    if (req.method() === 'GET' && (req.headers().accept || '').includes('text/event-stream')) network.eventStreams++;
    if (req.method() === 'POST') network.posts++;
  });
  page.on('websocket', () => network.websockets++);
  const clientURL = `${endpoint}/client/?hub=${hub}`;
  const query = new URLSearchParams({
    url: clientURL, transport, protocol, token: mintToken(clientURL, { 'asrs.s.uid': user }),
  });
  await page.goto(`${pageBase}?${query}`);
  await page.waitForSelector('#status:not([data-state="starting"])');
  const state = await page.getAttribute('#status', 'data-state');
  assert.equal(state, 'connected', await page.textContent('#status'));
  const connectionId = await page.textContent('#status');
  // next waits for the page's next received message.
  let seen = 0;
  const next = async () => {
    await page.waitForFunction((n) => window.received.length > n, seen);
    return page.evaluate((n) => window.received[n], seen++);
  };
  return { page, context, problems, network, connectionId, next };
}

for (const [transport, protocol] of [['LongPolling', 'json'], ['LongPolling', 'messagepack'], ['WebSockets', 'messagepack']]) {
  test(`browser, ${transport} + ${protocol}: typed broadcast, user and group messages, REST close with reason`, async () => {
    const hub = `browser${transport}${protocol}`.toLowerCase();
    const alice = await open(hub, 'alice', transport, protocol);
    const bob = await open(hub, 'bob', transport, protocol);
    try {
      assert.equal(await rest('POST', `/api/hubs/${hub}/:send`, { target: 'newMessage', arguments: typed }), 202);
      assert.deepEqual(await alice.next(), typed);
      assert.deepEqual(await bob.next(), typed);

      assert.equal(await rest('POST', `/api/hubs/${hub}/users/alice/:send`, { target: 'newMessage', arguments: ['to alice', typed[5]] }), 202);
      assert.deepEqual(await alice.next(), ['to alice', typed[5]]);

      const id = encodeURIComponent(alice.connectionId);
      assert.equal(await rest('PUT', `/api/hubs/${hub}/groups/g1/connections/${id}`), 200);
      assert.equal(await rest('POST', `/api/hubs/${hub}/groups/g1/:send`, { target: 'newMessage', arguments: ['to g1', 1.5] }), 202);
      assert.deepEqual(await alice.next(), ['to g1', 1.5]);

      assert.equal(await rest('POST', `/api/hubs/${hub}/:send`, { target: 'newMessage', arguments: ['marker'] }), 202);
      assert.deepEqual(await bob.next(), ['marker'], 'bob got neither the user nor the group message');
      assert.deepEqual(await alice.next(), ['marker']);

      assert.equal(await rest('DELETE', `/api/hubs/${hub}/connections/${id}`, undefined, '&reason=kicked%20out'), 200);
      await alice.page.waitForSelector('#status[data-state="closed"]');
      assert.match(await alice.page.textContent('#status'), /kicked out/);

      // The transport in use is the one forced.
      if (transport === 'LongPolling') {
        assert.ok(alice.network.polls >= 2, `alice polled (${JSON.stringify(alice.network)})`);
        assert.equal(alice.network.websockets, 0);
        assert.equal(alice.network.eventStreams, 0);
        assert.ok(alice.network.posts >= 1, 'the handshake was POSTed');
      } else {
        assert.equal(alice.network.websockets, 1, JSON.stringify(alice.network));
        assert.equal(alice.network.polls, 0);
      }
      for (const who of [alice, bob]) assert.deepEqual(who.problems, []);
    } finally {
      await alice.context.close();
      await bob.context.close();
    }
  });
}

test('browser, ServerSentEvents + json works; ServerSentEvents + messagepack is refused at negotiate', async () => {
  const sse = await open('browsersse', 'carol', 'ServerSentEvents', 'json');
  try {
    assert.equal(await rest('POST', '/api/hubs/browsersse/:send', { target: 'newMessage', arguments: typed }), 202);
    assert.deepEqual(await sse.next(), typed);
    assert.equal(sse.network.eventStreams, 1, JSON.stringify(sse.network));
  } finally {
    await sse.context.close();
  }
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const clientURL = `${endpoint}/client/?hub=browsersse`;
    const query = new URLSearchParams({ url: clientURL, transport: 'ServerSentEvents', protocol: 'messagepack', token: mintToken(clientURL) });
    await page.goto(`${pageBase}?${query}`);
    await page.waitForSelector('#status[data-state="failed"]', { timeout: waitMs });
    assert.match(await page.textContent('#status'), /'ServerSentEvents' does not support Binary/);
  } finally {
    await context.close();
  }
});
