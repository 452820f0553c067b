// The dashboard stays light with many connections: with 300 real WebSocket
// clients in one hub (bin/dashboard-load), the page shows one page of rows
// at a time, Next walks through every connection once in id order, Prev
// comes back, and the live feed keeps at most its cap of entries however
// many events arrive. Behaviour only: the timings at 10,000 connections
// are measured by support/dashboard-load.mjs (BENCHMARKS.md).
//
// Run: make build && cd js && node --test test/dashboard-paging.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { binaryPath, startProgram, stopProgram } from '../support/harness.mjs';

const connections = 300;
let harness;
let dashboard; // http://127.0.0.1:<port>/
let browser;

before(async () => {
  const binary = binaryPath('dashboard-load', 'make build');
  // No traffic of its own: the test makes the feed's events itself.
  const started = await startProgram(binary, ['-connections', String(connections), '-users', '50', '-groups', '5',
    '-broadcast-rate', '0', '-group-rate', '0', '-churn-rate', '0'], (line) => (line.startsWith('ready ') ? line : undefined));
  harness = started.proc;
  dashboard = started.seen.find((l) => l.startsWith('dashboard ')).split(' ')[1];
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await stopProgram(harness, 'dashboard-load exits cleanly on SIGTERM');
});

// rowIds waits until the table's first row differs from notFirst and
// returns the ids shown.
async function rowIds(page, notFirst) {
  await page.waitForFunction((prev) => {
    const first = document.querySelector('#connections tbody tr');
    return first && first.dataset.id !== prev;
  }, notFirst, { timeout: 10000 });
  return page.$$eval('#connections tbody tr', (rows) => rows.map((r) => r.dataset.id));
}

test('the dashboard pages through 300 connections and caps its feed', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
  await page.goto(dashboard);
  await page.locator('#conn-state.live').waitFor({ timeout: 5000 });
  await page.locator('#conn-total', { hasText: String(connections) }).waitFor({ timeout: 5000 });

  // One page at a time, and every connection once, in id order.
  const pages = [await rowIds(page, undefined)];
  assert.ok(pages[0].length > 0 && pages[0].length < connections, `the first page shows ${pages[0].length} rows, not all ${connections}`);
  while (await page.locator('#conn-next').isEnabled()) {
    await page.click('#conn-next');
    pages.push(await rowIds(page, pages.at(-1)[0]));
    assert.ok(pages.length <= connections, 'Next ends');
  }
  assert.ok(pages.length >= 2, 'there is more than one page');
  for (const p of pages) assert.ok(p.length <= pages[0].length, 'no page is longer than the first');
  const all = pages.flat();
  assert.equal(all.length, connections, 'the pages together show every connection');
  assert.equal(new Set(all).size, connections, 'no connection is shown twice');
  assert.deepEqual(all, [...all].sort(), 'the pages go in id order');

  await page.click('#conn-prev');
  assert.deepEqual(await rowIds(page, pages.at(-1)[0]), pages.at(-2), 'Prev shows the page before again');
  while (await page.locator('#conn-prev').isEnabled()) {
    const first = await page.locator('#connections tbody tr').first().getAttribute('data-id');
    await page.click('#conn-prev');
    await rowIds(page, first);
  }
  assert.deepEqual(await page.$$eval('#connections tbody tr', (rows) => rows.map((r) => r.dataset.id)), pages[0], 'back at the first page');

  // More events than the feed holds: it keeps the newest, up to its cap.
  const cap = Number(await page.locator('#feed').getAttribute('data-max'));
  assert.ok(cap > 0, 'the feed states its cap');
  const sends = cap + 50;
  const status = await page.evaluate(async (n) => {
    const codes = [];
    for (let i = 0; i < n; i++) {
      const resp = await fetch('/_emulator/api/hubs/load/send', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ target: `t${i}`, arguments: [i] }),
      });
      codes.push(resp.status);
    }
    return [...new Set(codes)];
  }, sends);
  assert.deepEqual(status, [204]);
  await page.waitForFunction((n) => Number(document.getElementById('feed-count').textContent) >= n, sends, { timeout: 10000 });
  await page.locator('#feed li').first().filter({ hasText: `send t${sends - 1}` }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#feed li').count(), cap, `the feed keeps ${cap} entries`);
  assert.equal(await page.locator('#feed li', { hasText: 'send t0 ' }).count(), 0, 'the oldest entries are gone');
  assert.deepEqual(problems, []);
  await context.close();
});
