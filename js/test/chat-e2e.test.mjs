// End-to-end test of the chat example (bin/chat) in a real browser: Debian's
// headless Chromium, driven by playwright-core (no browser download). The
// example runs on its embedded SignalR emulator; alice and bob chat in two
// desktop pages and carol on a phone-sized one, and every message must reach
// exactly the pages it is meant for.
//
// Run: go build -o bin/ ./cmd/... ./examples/... && cd js && node --test test/chat-e2e.test.mjs
// Screenshots: js/test-results/chat.png (desktop) and chat-phone.png (phone).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const binary = fileURLToPath(new URL('../../bin/chat', import.meta.url));
const results = fileURLToPath(new URL('../test-results/', import.meta.url));
const chromiumPath = '/usr/bin/chromium';
const waitMs = 15_000; // upper bound for any one DOM condition

let server; // the chat example's process
let workdir; // its working directory: empty, so no local.settings.json
let baseURL; // http://127.0.0.1:<port>/
let browser;
const pages = {}; // name -> { page, problems }

// Starts bin/chat on a free port with the embedded emulator and reads the
// URL it prints.
async function startServer() {
  assert.ok(existsSync(binary), `${binary} is missing: run "go build -o bin/ ./cmd/... ./examples/..." (or make build) first`);
  const env = { ...process.env };
  delete env.AzureSignalRConnectionString; // use the embedded emulator
  delete env.PORT;
  workdir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
  server = spawn(binary, ['-addr', '127.0.0.1:0'], { cwd: workdir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout });
  const seen = [];
  const url = await new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`bin/chat exited early with code ${code}; it printed:\n${seen.join('\n')}`)));
    lines.on('line', (line) => {
      seen.push(line);
      const m = line.match(/open (http:\/\/\S+\/) in/);
      if (m) resolve(m[1]);
    });
  });
  assert.match(seen[0], /^no AzureSignalRConnectionString set: using the embedded SignalR emulator at http:\/\/127\.0\.0\.1:\d+$/);
  return url;
}

// Opens the page as name and connects; problems collects the page's script
// errors and console errors.
async function openAs(name, contextOptions) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.setDefaultTimeout(waitMs);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  await page.goto(baseURL);
  await page.fill('#name', name);
  await page.click('#connect');
  await page.waitForSelector('#status[data-state="connected"]');
  assert.equal(await page.textContent('#status'), `online as ${name}`);
  pages[name] = { page, problems };
  return page;
}

// send writes text in page's composer to audience ("all", "user", "group")
// and waits until the API accepted it (the box empties) or failed.
async function send(page, audience, recipient, text) {
  await page.selectOption('#audience', audience);
  if (audience !== 'all') await page.fill('#recipient', recipient);
  await page.fill('#message', text);
  await page.click('#send');
  await page.waitForFunction(
    () => document.querySelector('#message').value === '' || document.querySelector('#messages li.notice[data-kind="error"]'),
  );
  const errors = await page.$$eval('#messages li.notice[data-kind="error"]', (items) => items.map((i) => i.textContent));
  assert.deepEqual(errors, [], `sending ${JSON.stringify(text)} failed`);
}

// received lists the messages page got over SignalR, oldest first.
function received(page) {
  return page.$$eval('#messages li.msg[data-dir="in"]', (items) =>
    items.map((i) => ({
      from: i.dataset.from,
      audience: i.dataset.audience,
      where: i.querySelector('.where').textContent,
      text: i.querySelector('.text').textContent,
    })),
  );
}

// waitFor waits until page has received a message with exactly text, and
// returns it.
async function waitFor(page, text) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages li.msg[data-dir="in"] .text')].some((e) => e.textContent === t),
    text,
  );
  return (await received(page)).find((m) => m.text === text);
}

// texts is the text of every message page received.
async function texts(page) {
  return (await received(page)).map((m) => m.text);
}

before(async () => {
  baseURL = await startServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await openAs('alice', { viewport: { width: 1280, height: 800 } });
  await openAs('bob', { viewport: { width: 1280, height: 800 } });
  await openAs('carol', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
});

after(async () => {
  await browser?.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  server.kill('SIGTERM');
  const { code } = await exited;
  assert.equal(code, 0, 'bin/chat exits cleanly on SIGTERM');
});

test('a broadcast reaches every page, showing who sent it', async () => {
  const { alice, bob, carol } = { alice: pages.alice.page, bob: pages.bob.page, carol: pages.carol.page };
  await send(bob, 'all', '', 'Hello, everyone!');
  for (const page of [alice, bob, carol]) {
    const m = await waitFor(page, 'Hello, everyone!');
    assert.deepEqual(m, { from: 'bob', audience: 'all', where: 'to everyone', text: 'Hello, everyone!' });
  }
});

test('a direct message reaches only its user', async () => {
  const { alice, bob, carol } = { alice: pages.alice.page, bob: pages.bob.page, carol: pages.carol.page };
  await send(bob, 'user', 'alice', 'psst, alice');
  const m = await waitFor(alice, 'psst, alice');
  assert.deepEqual(m, { from: 'bob', audience: 'user', where: 'to you', text: 'psst, alice' });

  // A later broadcast arrives everywhere; by then the direct message would
  // have arrived too, had it gone to the wrong pages.
  await send(alice, 'all', '', 'marker after the direct message');
  await waitFor(bob, 'marker after the direct message');
  await waitFor(carol, 'marker after the direct message');
  assert.ok(!(await texts(bob)).includes('psst, alice'), 'bob did not receive the message he sent to alice');
  assert.ok(!(await texts(carol)).includes('psst, alice'), 'carol did not receive it');
  // The sender sees a copy of what he sent, marked as outgoing.
  const outgoing = await bob.$$eval('#messages li.msg[data-dir="out"] .text', (items) => items.map((i) => i.textContent));
  assert.deepEqual(outgoing, ['psst, alice']);
});

test('a group message reaches only the members, until they leave', async () => {
  const { alice, bob, carol } = { alice: pages.alice.page, bob: pages.bob.page, carol: pages.carol.page };
  await alice.fill('#group', 'g1');
  await alice.click('#join');
  await alice.waitForSelector('#groups li[data-group="g1"]');

  await send(bob, 'group', 'g1', 'hi, g1');
  const m = await waitFor(alice, 'hi, g1');
  assert.deepEqual(m, { from: 'bob', audience: 'group', where: 'in g1', text: 'hi, g1' });
  await send(carol, 'all', '', 'marker after the group message');
  await waitFor(bob, 'marker after the group message');
  await waitFor(carol, 'marker after the group message');
  assert.ok(!(await texts(bob)).includes('hi, g1'), 'bob is not in g1');
  assert.ok(!(await texts(carol)).includes('hi, g1'), 'carol is not in g1');

  await alice.click('#groups li[data-group="g1"] .chip-leave');
  await alice.waitForSelector('#groups li[data-group="g1"]', { state: 'detached' });
  await send(bob, 'group', 'g1', 'anyone still in g1?');
  await send(bob, 'all', '', 'marker after leaving');
  await waitFor(alice, 'marker after leaving');
  assert.ok(!(await texts(alice)).includes('anyone still in g1?'), 'alice left g1 before that message');

  // Join again, so the screenshot shows a group.
  await alice.fill('#group', 'g1');
  await alice.click('#join');
  await alice.waitForSelector('#groups li[data-group="g1"]');
  await send(bob, 'group', 'g1', 'welcome back to g1');
  await waitFor(alice, 'welcome back to g1');
});

test('message text is shown as text, never as markup', async () => {
  const { alice, bob } = { alice: pages.alice.page, bob: pages.bob.page };
  const attack = '<img src=x onerror="window.__pwned=1"><b>bold?</b>';
  await send(bob, 'all', '', attack);
  const m = await waitFor(alice, attack);
  assert.equal(m.text, attack);
  assert.equal(await alice.$$eval('#messages img, #messages b', (found) => found.length), 0);
  assert.equal(await alice.evaluate(() => window.__pwned), undefined);
  // A name is text too.
  const bobItems = await alice.$$eval('#messages li.msg[data-from="bob"] .from', (items) => items.map((i) => i.innerHTML));
  assert.ok(bobItems.every((html) => html === 'bob'));
});

test('without the npm-installed client the page says how to install it', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(waitMs);
    // Answer as bin/chat does when js/node_modules is missing.
    await page.route('**/vendor/signalr.min.js', (route) =>
      route.fulfill({ status: 404, contentType: 'text/plain', body: 'the @microsoft/signalr browser client is not installed' }));
    await page.goto(baseURL);
    await page.waitForSelector('#messages li.notice[data-kind="error"]');
    assert.match(await page.textContent('#messages li.notice[data-kind="error"]'), /cd js && npm ci/);
    assert.equal(await page.isDisabled('#connect'), true);
  } finally {
    await context.close();
  }
});

test('the pages had no script or console errors; screenshots saved', async () => {
  const { alice, carol } = { alice: pages.alice.page, carol: pages.carol.page };
  for (const [name, { problems }] of Object.entries(pages)) {
    assert.deepEqual(problems, [], `${name}'s page`);
  }
  // A conversation for the screenshots.
  await send(carol, 'user', 'alice', 'Sent from my phone: see you at 6?');
  await waitFor(alice, 'Sent from my phone: see you at 6?');
  await send(alice, 'all', '', 'Deal. Dinner at 6, everyone welcome.');
  await waitFor(carol, 'Deal. Dinner at 6, everyone welcome.');

  mkdirSync(results, { recursive: true });
  await alice.screenshot({ path: join(results, 'chat.png') });
  await carol.screenshot({ path: join(results, 'chat-phone.png') });
  assert.ok(existsSync(join(results, 'chat.png')) && existsSync(join(results, 'chat-phone.png')));
});
