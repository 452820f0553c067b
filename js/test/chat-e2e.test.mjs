// End-to-end test of the chat example (bin/chat) in a real browser: Debian's
// headless Chromium, driven by playwright-core (no browser download). The
// example runs on its embedded SignalR emulator; alice and bob chat in two
// desktop pages and carol on a phone-sized one, and every message must reach
// exactly the pages it is meant for. The pages talk through the hub
// (connection.invoke, which the emulator hands to the example's hub
// functions upstream), never through the HTTP API, and say who comes and
// goes. The server is also restarted under the open pages (they must come
// back by themselves, with their groups), and a second server points at a
// SignalR Service that is not there.
//
// Run: go build -o bin/ ./cmd/... ./examples/... && cd js && node --test test/chat-e2e.test.mjs
// Screenshots: js/test-results/chat.png (desktop), chat-phone.png (phone) and
// chat-offline.png (desktop, while the server is down).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { binaryPath, openURL, startProgram, stopProgram } from '../support/harness.mjs';

const results = fileURLToPath(new URL('../test-results/', import.meta.url));
const chromiumPath = '/usr/bin/chromium';
const waitMs = 15_000; // upper bound for any one DOM condition
const recoverMs = 40_000; // upper bound for a page to reconnect after an outage

let server; // the chat example's process
const workdirs = []; // working directories: empty, so no local.settings.json
let baseURL; // http://127.0.0.1:<port>/
let browser;
const pages = {}; // name -> { page, problems, apiCalls }

// spawnChat starts bin/chat with args in an empty working directory and
// resolves with the process, the URL it prints and every line it printed
// up to that one. env adds to (or, with undefined, removes from) the
// environment; by default the embedded emulator is used.
async function spawnChat(args, env = {}) {
  const binary = binaryPath('chat', 'go build -o bin/ ./cmd/... ./examples/...');
  const fullEnv = { ...process.env, AzureSignalRConnectionString: undefined, PORT: undefined, ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const dir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
  const { proc, value: url, seen } = await startProgram(binary, args, openURL, { cwd: dir, env: fullEnv });
  return { proc, url, seen, dir };
}

// stopChat stops a bin/chat with SIGTERM and checks it exits 0.
const stopChat = (proc) => stopProgram(proc, 'bin/chat exits cleanly on SIGTERM');

// Starts bin/chat on addr with the embedded emulator and reads the URL it
// prints.
async function startServer(addr = '127.0.0.1:0') {
  const started = await spawnChat(['-addr', addr]);
  server = started.proc;
  workdirs.push(started.dir);
  assert.match(started.seen[0], /^no AzureSignalRConnectionString set: using the embedded SignalR emulator at http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(started.seen.includes('Functions:'), 'it lists the routes it serves');
  return started.url;
}

// freePort finds a port nothing listens on.
async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// errorCount counts the error lines on page.
function errorCount(page) {
  return page.$$eval('#messages li.notice[data-kind="error"]', (items) => items.length);
}

// What the browser and the client log while a server is down: failed
// requests and connection attempts. Anything else is a problem.
const outageNoise = /ERR_CONNECTION_REFUSED|status of 404|Failed to fetch|Failed to complete negotiation|Failed to start the (connection|transport)|WebSocket|Connection disconnected|Error from HTTP request/;

// forgetOutageNoise drops the outage noise from each page's problems.
function forgetOutageNoise() {
  for (const p of Object.values(pages)) {
    p.problems = p.problems.filter((text) => text.startsWith('page error') || !outageNoise.test(text));
  }
}

// Opens the page as name and connects; problems collects the page's script
// errors and console errors, apiCalls its requests to the HTTP API other
// than negotiate (the page should send through the hub).
async function openAs(name, contextOptions) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.setDefaultTimeout(waitMs);
  const problems = [];
  const apiCalls = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.pathname.startsWith('/api/') && url.pathname !== '/api/negotiate') apiCalls.push(`${req.method()} ${url.pathname}`);
  });
  await page.goto(baseURL);
  await page.fill('#name', name);
  await page.click('#connect');
  await page.waitForSelector('#status[data-state="connected"]');
  assert.equal(await page.textContent('#status'), `online as ${name}`);
  // Once connected the welcome hint is gone, and no banner shows.
  await page.waitForSelector('#messages li.notice[data-kind="welcome"]', { state: 'detached' });
  assert.equal(await page.isVisible('#banner'), false);
  pages[name] = { page, problems, apiCalls };
  return page;
}

// send writes text in page's composer to audience ("all", "user", "group")
// and waits until the API accepted it (the box empties) or failed.
async function send(page, audience, recipient, text) {
  await page.selectOption('#audience', audience);
  if (audience !== 'all') await page.fill('#recipient', recipient);
  await page.fill('#message', text);
  const before = await errorCount(page);
  await page.click('#send');
  await page.waitForFunction(
    (n) => document.querySelector('#message').value === '' || document.querySelectorAll('#messages li.notice[data-kind="error"]').length > n,
    before,
  );
  const errors = await page.$$eval('#messages li.notice[data-kind="error"]', (items) => items.map((i) => i.textContent));
  assert.deepEqual(errors.slice(before), [], `sending ${JSON.stringify(text)} failed`);
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

// notices is the text of page's notices of kind.
function notices(page, kind) {
  return page.$$eval(`#messages li.notice[data-kind="${kind}"]`, (items) => items.map((i) => i.textContent));
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
  for (const dir of workdirs) rmSync(dir, { recursive: true, force: true });
  if (server) await stopChat(server);
});

test('a broadcast reaches every page, showing who sent it', async () => {
  const { alice, bob, carol } = { alice: pages.alice.page, bob: pages.bob.page, carol: pages.carol.page };
  await send(bob, 'all', '', 'Hello, everyone!');
  for (const page of [alice, bob, carol]) {
    const m = await waitFor(page, 'Hello, everyone!');
    assert.deepEqual(m, { from: 'bob', audience: 'all', where: 'to everyone', text: 'Hello, everyone!' });
  }
});

test('every page hears who comes online and who leaves', async () => {
  const { alice, bob, carol } = { alice: pages.alice.page, bob: pages.bob.page, carol: pages.carol.page };
  // Those who connected earlier heard about those who came later (bob may
  // also reach carol's page, if his announcement was still on its way when
  // she connected), and nobody is told about themselves.
  const heard = (page, text) => page.waitForFunction((t) => [...document.querySelectorAll('#messages li.notice[data-kind="presence"]')]
    .some((n) => n.textContent === t), text);
  await heard(alice, 'bob is online.');
  await heard(alice, 'carol is online.');
  await heard(bob, 'carol is online.');
  for (const [name, page] of Object.entries({ alice, bob, carol })) {
    assert.ok(!(await notices(page, 'presence')).includes(`${name} is online.`), `${name} was told about herself`);
  }

  const context = await browser.newContext();
  try {
    const gina = await context.newPage();
    gina.setDefaultTimeout(waitMs);
    await gina.goto(baseURL);
    await gina.fill('#name', 'gina');
    await gina.click('#connect');
    await gina.waitForSelector('#status[data-state="connected"]');
    for (const page of [alice, bob, carol]) await heard(page, 'gina is online.');
  } finally {
    await context.close();
  }
  for (const page of [alice, bob, carol]) await heard(page, 'gina went offline.');
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

test('a direct message to a user who is not online says so, and keeps the draft', async () => {
  const { alice, bob } = { alice: pages.alice.page, bob: pages.bob.page };
  await alice.selectOption('#audience', 'user');
  await alice.fill('#recipient', 'dave');
  await alice.fill('#message', 'are you there, dave?');
  const before = await errorCount(alice);
  await alice.click('#send');
  await alice.waitForFunction((n) => document.querySelectorAll('#messages li.notice[data-kind="error"]').length > n, before);
  const said = await alice.$$eval('#messages li.notice[data-kind="error"]', (items) => items.at(-1).textContent);
  assert.match(said, /nobody named dave is online/);
  assert.equal(await alice.inputValue('#message'), 'are you there, dave?', 'the draft is kept');
  // Nothing that looks delivered: no outgoing copy.
  const outgoing = await alice.$$eval('#messages li.msg[data-dir="out"] .text', (items) => items.map((i) => i.textContent));
  assert.ok(!outgoing.includes('are you there, dave?'));
  // The same message to a user who is online goes through.
  await send(alice, 'user', 'bob', 'are you there, bob?');
  await waitFor(bob, 'are you there, bob?');
});

test('a hub call that gets no answer fails after 20 s, naming the upstream URL, and keeps the draft', async () => {
  // A service with no upstream for the hub never answers an invocation
  // (Microsoft's emulator, or Azure without an upstream URL). Stand in for
  // one by dropping hank's broadcast calls on their way to the service; his
  // page runs on a fake clock, so the 20 s pass at once.
  const context = await browser.newContext();
  try {
    const hank = await context.newPage();
    hank.setDefaultTimeout(waitMs);
    await hank.clock.install();
    await hank.routeWebSocket(/\/client\//, (ws) => {
      const service = ws.connectToServer();
      ws.onMessage((message) => {
        if (typeof message === 'string' && message.includes('"target":"broadcast"')) return; // lost
        service.send(message);
      });
      service.onMessage((message) => ws.send(message));
    });
    await hank.goto(baseURL);
    await hank.fill('#name', 'hank');
    await hank.click('#connect');
    await hank.waitForSelector('#status[data-state="connected"]');
    await hank.fill('#message', 'into the void');
    await hank.click('#send');
    await hank.waitForFunction(() => document.querySelector('#send').disabled); // sending
    await hank.clock.fastForward(20_000);
    await hank.waitForSelector('#messages li.notice[data-kind="error"]');
    const said = await hank.textContent('#messages li.notice[data-kind="error"]');
    assert.equal(said, `Not sent: no answer within 20 s; the SignalR Service's upstream URL should be ${new URL(baseURL).origin}/runtime/webhooks/signalr`);
    assert.equal(await hank.inputValue('#message'), 'into the void', 'the draft is kept');
    assert.equal(await hank.isDisabled('#send'), false, 'Send works again');
    // Other hub calls still go through.
    await hank.fill('#group', 'g-hank');
    await hank.click('#join');
    await hank.waitForSelector('#groups li[data-group="g-hank"]');
  } finally {
    await context.close();
  }
});

test('a long group name keeps its leave button in view', async () => {
  for (const name of ['alice', 'carol']) {
    const page = pages[name].page;
    // No space or hyphen: nowhere for the text to wrap.
    const group = `${name}_${'averylonggroupnamewithnowheretobreak'.repeat(2)}`.slice(0, 64);
    await page.fill('#group', group);
    await page.click('#join');
    const chip = `#groups li[data-group="${group}"]`;
    await page.waitForSelector(chip);
    const card = await page.locator('#group-form').boundingBox();
    const leave = await page.locator(`${chip} .chip-leave`).boundingBox();
    const viewport = page.viewportSize();
    assert.ok(leave.x >= card.x && leave.x + leave.width <= card.x + card.width,
      `${name}: the leave button (x ${leave.x}..${leave.x + leave.width}) is outside the groups card (x ${card.x}..${card.x + card.width})`);
    assert.ok(leave.x + leave.width <= viewport.width, `${name}: the leave button is off screen`);
    await page.click(`${chip} .chip-leave`);
    await page.waitForSelector(chip, { state: 'detached' });
  }
});

test('after a server restart every page comes back by itself, with its groups', async (t) => {
  t.after(async () => {
    if (server.exitCode !== null) await startServer(`127.0.0.1:${new URL(baseURL).port}`);
  });
  const { alice, bob, carol } = { alice: pages.alice.page, bob: pages.bob.page, carol: pages.carol.page };
  assert.ok(await alice.isVisible('#groups li[data-group="g1"]'), 'alice is in g1 (from the group test)');
  const port = new URL(baseURL).port;

  // frank's page runs on a fake clock, so that a ten-minute outage takes a
  // moment: the client's default policy would give up after about 45 s.
  const frankContext = await browser.newContext();
  const frank = await frankContext.newPage();
  frank.setDefaultTimeout(waitMs);
  await frank.clock.install();
  await frank.goto(baseURL);
  await frank.fill('#name', 'frank');
  await frank.click('#connect');
  await frank.waitForSelector('#status[data-state="connected"]');

  let negotiations = 0; // frank's attempts: each starts with the app's negotiate
  await frank.route('**/api/negotiate?*', (route) => {
    negotiations++;
    return route.continue();
  });
  // Attempts whose negotiate has not failed or finished yet: the next
  // retry is only scheduled on the fake clock once an attempt has failed.
  let unsettled = 0;
  const isNegotiate = (request) => request.url().includes('/api/negotiate?');
  frank.on('request', (request) => { if (isNegotiate(request)) unsettled++; });
  const settle = (request) => { if (isNegotiate(request)) unsettled--; };
  frank.on('requestfailed', settle);
  frank.on('requestfinished', settle);

  await stopChat(server);
  await frank.waitForSelector('#banner', { state: 'visible' });
  for (let i = 0; i < 60; i++) {
    const before = negotiations;
    await frank.clock.fastForward(10_000); // the longest backoff
    // Real time for the attempt to start and fail, however loaded the
    // machine: wait (up to a generous bound) instead of a fixed pause.
    const deadline = Date.now() + 5_000;
    while ((negotiations === before || unsettled > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  // Up to one try per 10 s for ten minutes (the default policy makes 4,
  // then gives up); an attempt may outlast a step of real time.
  t.diagnostic(`frank: ${negotiations} reconnect attempts in ten minutes of fake time`);
  assert.ok(negotiations >= 20, `${negotiations} reconnect attempts in ten minutes`);
  assert.equal(await frank.getAttribute('#status', 'data-state'), 'reconnecting', 'still reconnecting after ten minutes');
  assert.equal(await frank.isVisible('#banner'), true);
  assert.match(await frank.textContent('#banner'), /the chat server at http:\/\/127\.0\.0\.1:\d+ is not answering/);
  for (const page of [alice, bob, carol]) {
    await page.waitForSelector('#banner', { state: 'visible' });
    assert.equal(await page.isDisabled('#send'), true, 'Send is disabled while offline');
  }
  // Once a retry has failed, the banner says which server is missing.
  await alice.waitForFunction((origin) => document.querySelector('#banner').textContent.includes(`the chat server at ${origin}`),
    new URL(baseURL).origin, { timeout: recoverMs });
  assert.match(await alice.textContent('#banner'), /^\s*Offline: the chat server at http:\/\/127\.0\.0\.1:\d+ is not answering/);

  // A message written while offline: Send and Enter do nothing, and the
  // draft stays.
  await alice.selectOption('#audience', 'all');
  await alice.fill('#message', 'written while the server was down');
  await alice.press('#message', 'Enter');
  assert.equal(await alice.isDisabled('#send'), true);
  await alice.waitForTimeout(300);
  assert.equal(await alice.inputValue('#message'), 'written while the server was down', 'the draft is kept');
  mkdirSync(results, { recursive: true });
  await alice.screenshot({ path: join(results, 'chat-offline.png') });

  await startServer(`127.0.0.1:${port}`);
  for (const [name, page] of Object.entries({ alice, bob, carol })) {
    await page.waitForSelector('#status[data-state="connected"]', { timeout: recoverMs });
    await page.waitForSelector('#banner', { state: 'hidden' });
    const back = await page.$$eval('#messages li.notice[data-kind="ok"]', (items) => items.map((i) => i.textContent));
    const want = name === 'alice' ? 'Back online as alice; rejoined g1.' : `Back online as ${name}.`;
    assert.equal(back.at(-1), want, `${name}'s page says the connection is back`);
  }
  forgetOutageNoise();
  // frank comes back too, at his next try.
  await frank.clock.fastForward(10_000);
  await frank.waitForSelector('#status[data-state="connected"]', { timeout: recoverMs });
  assert.equal(await frank.isVisible('#banner'), false);
  await frankContext.close();

  // The draft is still there and now goes out.
  assert.equal(await alice.isDisabled('#send'), false);
  await alice.click('#send');
  await alice.waitForFunction(() => document.querySelector('#message').value === '');
  await waitFor(bob, 'written while the server was down');
  await waitFor(carol, 'written while the server was down');

  // The new emulator started empty; the page re-joined g1 for alice.
  await send(bob, 'group', 'g1', 'g1, after the restart');
  await waitFor(alice, 'g1, after the restart');
  await send(carol, 'all', '', 'marker after the restart');
  await waitFor(bob, 'marker after the restart');
  assert.ok(!(await texts(bob)).includes('g1, after the restart'), 'bob is not in g1');
});

test('when the SignalR Service cannot be reached, the page names its URL', async () => {
  const port = await freePort();
  const key = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH';
  const other = await spawnChat(['-addr', '127.0.0.1:0'],
    { AzureSignalRConnectionString: `Endpoint=http://127.0.0.1;Port=${port};AccessKey=${key};Version=1.0;` });
  workdirs.push(other.dir);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(waitMs);
    await page.goto(other.url);
    await page.fill('#name', 'erin');
    await page.click('#connect');
    await page.waitForSelector('#messages li.notice[data-kind="error"]');
    const service = `http://127.0.0.1:${port}/client/?hub=chat`;
    const said = await page.textContent('#messages li.notice[data-kind="error"]');
    assert.ok(said.startsWith(`Could not connect: cannot reach the SignalR Service at ${service}`), said);
    assert.doesNotMatch(said, /Failed to complete negotiation/);
    assert.ok((await page.textContent('#banner')).includes(service));
    assert.equal(await page.isVisible('#banner'), true);
    assert.equal(await page.isDisabled('#send'), true);
    assert.notEqual(await page.getAttribute('#status', 'data-state'), 'connected');
  } finally {
    await context.close();
    await stopChat(other.proc);
  }
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

test('the pages had no script or console errors, and sent only through the hub; screenshots saved', async () => {
  const { alice, carol } = { alice: pages.alice.page, carol: pages.carol.page };
  for (const [name, { problems, apiCalls }] of Object.entries(pages)) {
    assert.deepEqual(problems, [], `${name}'s page`);
    assert.deepEqual(apiCalls, [], `${name}'s page called the HTTP API instead of invoking hub methods`);
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
