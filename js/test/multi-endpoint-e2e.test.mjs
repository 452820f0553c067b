// The chat example on two endpoints in a real browser (Debian's headless
// Chromium, driven by playwright-core): bin/chat -endpoints 2, what
// `make run ENDPOINTS=2` runs. Two pages land on different embedded
// emulators (the chat's router takes them in turn) and still talk through
// the hub: a broadcast, a direct message and a group message each reach the
// page on the other endpoint. When the endpoint of one page goes offline,
// that page comes back by itself on the other endpoint and keeps talking.
//
// Which endpoint a page is on is read from the WebSocket it opened (its
// port) and checked against that emulator's control API.
//
// Run: make build && cd js && node --test test/multi-endpoint-e2e.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { binaryPath, openURL, startProgram, stopProgram } from '../support/harness.mjs';

const chromiumPath = '/usr/bin/chromium';
const waitMs = 15_000; // upper bound for any one DOM condition
const recoverMs = 40_000; // upper bound for a page to reconnect after an outage

let chat; // bin/chat's process
let workdir;
let baseURL;
let emulators; // [{ name, port }] as the chat prints them
let browser;
const pages = {}; // name -> { page, sockets: [port of each WebSocket opened], problems }

before(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'chat-multi-e2e-'));
  const env = { ...process.env };
  delete env.AzureSignalRConnectionString;
  delete env.PORT;
  const started = await startProgram(binaryPath('chat'), ['-addr', '127.0.0.1:0', '-endpoints', '2', '-health-interval', '100ms'], openURL, { cwd: workdir, env });
  chat = started.proc;
  baseURL = started.value;
  emulators = started.seen
    .map((l) => l.match(/^embedded SignalR emulator (\S+) at http:\/\/127\.0\.0\.1:(\d+)$/))
    .filter(Boolean)
    .map((m) => ({ name: m[1], port: Number(m[2]) }));
  assert.equal(emulators.length, 2, started.seen.join('\n'));
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await stopProgram(chat, 'bin/chat exits cleanly');
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

// openAs opens the chat page as name, connects, and records the port of
// every WebSocket the page opens.
async function openAs(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(waitMs);
  const entry = { page, sockets: [], problems: [] };
  page.on('websocket', (ws) => entry.sockets.push(Number(new URL(ws.url()).port)));
  page.on('pageerror', (err) => entry.problems.push(`page error: ${err.message}`));
  await page.goto(baseURL);
  await page.fill('#name', name);
  await page.click('#connect');
  await page.waitForSelector('#status[data-state="connected"]');
  assert.equal(await page.textContent('#status'), `online as ${name}`);
  pages[name] = entry;
  return entry;
}

// usersOn lists the users connected to the emulator on port.
async function usersOn(port) {
  const page = await (await fetch(`http://127.0.0.1:${port}/_emulator/api/hubs/chat/connections?limit=1000`)).json();
  return page.connections.map((c) => c.user);
}

// send writes text in page's composer to audience and waits until it went.
async function send(page, audience, recipient, text) {
  await page.selectOption('#audience', audience);
  if (audience !== 'all') await page.fill('#recipient', recipient);
  await page.fill('#message', text);
  const before = await page.$$eval('#messages li.notice[data-kind="error"]', (items) => items.length);
  await page.click('#send');
  await page.waitForFunction(
    (n) => document.querySelector('#message').value === '' || document.querySelectorAll('#messages li.notice[data-kind="error"]').length > n,
    before,
  );
  const errors = await page.$$eval('#messages li.notice[data-kind="error"]', (items) => items.map((i) => i.textContent));
  assert.deepEqual(errors.slice(before), [], `sending ${JSON.stringify(text)} failed`);
}

// waitFor waits until page has received a message with exactly text and
// returns how it is shown.
async function waitFor(page, text, timeout = waitMs) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages li.msg[data-dir="in"] .text')].some((e) => e.textContent === t),
    text,
    { timeout },
  );
  return page.$$eval('#messages li.msg[data-dir="in"]', (items, t) => items
    .map((i) => ({ from: i.dataset.from, audience: i.dataset.audience, text: i.querySelector('.text').textContent }))
    .find((m) => m.text === t), text);
}

const texts = (page) => page.$$eval('#messages li.msg[data-dir="in"] .text', (items) => items.map((i) => i.textContent));

test('two pages land on different endpoints and still talk', async () => {
  const alice = await openAs('alice');
  const bob = await openAs('bob');
  assert.equal(alice.sockets.length, 1, `alice opened one WebSocket: ${alice.sockets}`);
  assert.equal(bob.sockets.length, 1, `bob opened one WebSocket: ${bob.sockets}`);
  const ports = emulators.map((e) => e.port);
  assert.ok(ports.includes(alice.sockets[0]) && ports.includes(bob.sockets[0]), `sockets ${alice.sockets} ${bob.sockets}, emulators ${ports}`);
  assert.notEqual(alice.sockets[0], bob.sockets[0], 'the two pages are on different endpoints');
  assert.deepEqual(await usersOn(alice.sockets[0]), ['alice']);
  assert.deepEqual(await usersOn(bob.sockets[0]), ['bob']);

  await send(alice.page, 'all', '', 'hello from alice');
  assert.deepEqual(await waitFor(bob.page, 'hello from alice'), { from: 'alice', audience: 'all', text: 'hello from alice' });
  await send(bob.page, 'user', 'alice', 'psst, alice');
  assert.deepEqual(await waitFor(alice.page, 'psst, alice'), { from: 'bob', audience: 'user', text: 'psst, alice' });

  await alice.page.fill('#group', 'ops');
  await alice.page.click('#join');
  await alice.page.waitForSelector('#groups [data-group="ops"]');
  await send(bob.page, 'group', 'ops', 'to ops');
  assert.deepEqual(await waitFor(alice.page, 'to ops'), { from: 'bob', audience: 'group', text: 'to ops' });
  await send(alice.page, 'all', '', 'marker');
  await waitFor(bob.page, 'marker');
  assert.ok(!(await texts(bob.page)).includes('to ops'), 'bob, not a member, did not get the group message');
});

test("a page whose endpoint goes offline comes back on the other one and keeps talking", async () => {
  const { alice, bob } = pages;
  const down = emulators.find((e) => e.port === alice.sockets[0]);
  const response = await fetch(`http://127.0.0.1:${down.port}/_emulator/api/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"offline":true}',
  });
  assert.equal(response.status, 200);
  // The page notices the drop, then reconnects by itself.
  await alice.page.waitForSelector('#status:not([data-state="connected"])');
  await alice.page.waitForSelector('#status[data-state="connected"]', { timeout: recoverMs });
  const now = alice.sockets.at(-1);
  assert.equal(now, bob.sockets[0], `alice is now on bob's endpoint (sockets ${alice.sockets})`);
  assert.ok((await usersOn(now)).includes('alice'));

  await send(bob.page, 'all', '', 'still here?');
  await waitFor(alice.page, 'still here?');
  await send(alice.page, 'user', 'bob', 'yes, on the other endpoint');
  await waitFor(bob.page, 'yes, on the other endpoint');
  assert.deepEqual([...alice.problems, ...bob.problems], []);
});
