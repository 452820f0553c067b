// The dashboard under load: starts bin/dashboard-load (an emulator with
// --connections real WebSocket clients in one hub and a light steady REST
// traffic), opens the dashboard in Debian's headless Chromium and measures
//
//   - time to first render: from navigation start until the first row of
//     the connections table is in the DOM, and until the frame after it;
//   - after --settle seconds (30) under the traffic: the JS heap (CDP
//     Performance.getMetrics JSHeapUsedSize, before and after a forced GC),
//     the DOM node count, the rows and feed entries shown, and the long
//     tasks (> 50 ms) the page had meanwhile;
//   - responsiveness: a real click on Next (then Prev) until the next rows
//     are in the DOM and painted (the frame after), the page request's
//     wait before it was sent and its time to an answer (Resource Timing),
//     and the Event Timing API's duration of those clicks (input to next
//     paint);
//   - the emulator process's resident memory (the clients are another
//     process).
//
// Each of --runs (1) runs starts a fresh harness; with several, the median
// and range of each figure are printed at the end. It checks that the page
// pages (one page of rows, other ids after Next) and that the feed stays
// capped, and exits 1 if not. It is a measuring script, not a test: the
// figures go to BENCHMARKS.md.
//
//   make build && cd js && node support/dashboard-load.mjs --connections 10000 --runs 3
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { binaryPath, startProgram, stopProgram } from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    settle: { type: 'string', default: '30' },
    runs: { type: 'string', default: '1' },
    clicks: { type: 'string', default: '6' },
  },
});
const connections = Number(opt.connections);
const settleMs = Number(opt.settle) * 1000;

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Installed before the page's own script: records when the first row of
// the connections table appears, and every long task and event timing.
function probe() {
  const load = { firstRow: null, firstRowFrame: null, longTasks: [], events: [] };
  window.__load = load;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) load.longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((list) => { for (const e of list.getEntries()) load.events.push({ name: e.name, duration: e.duration }); }).observe({ type: 'event', durationThreshold: 16, buffered: true });
  const mo = new MutationObserver(() => {
    if (load.firstRow === null && document.querySelector('#connections tbody tr')) {
      load.firstRow = performance.now();
      mo.disconnect();
      requestAnimationFrame(() => requestAnimationFrame((t) => { load.firstRowFrame = t; }));
    }
  });
  mo.observe(document, { childList: true, subtree: true });
}

// clickAndTime clicks selector for real and resolves to the ms from the
// click event until the first row's id changed, and until the frame after.
async function clickAndTime(page, selector) {
  const armed = page.evaluate((sel) => new Promise((resolve, reject) => {
    const body = document.querySelector('#connections tbody');
    const before = body.firstElementChild?.dataset.id;
    performance.clearResourceTimings(); // the buffer (250 entries) fills up with the refreshes
    let clickedAt;
    document.querySelector(sel).addEventListener('click', (e) => { clickedAt = e.timeStamp; }, { once: true, capture: true });
    const timer = setTimeout(() => reject(new Error('the rows did not change within 10 s')), 10000);
    const mo = new MutationObserver(() => {
      const now = body.firstElementChild?.dataset.id;
      if (clickedAt === undefined || now === before) return;
      const rowsAt = performance.now();
      mo.disconnect();
      requestAnimationFrame(() => requestAnimationFrame((t) => {
        clearTimeout(timer);
        // The page request the click made: how long it waited before it
        // was sent, and how long the emulator took to answer it.
        const fetched = performance.getEntriesByType('resource')
          .find((e) => e.name.includes('/connections?') && e.startTime >= clickedAt);
        resolve({
          rows: rowsAt - clickedAt, painted: t - clickedAt, first: now,
          queued: fetched ? fetched.requestStart - fetched.startTime : NaN,
          answered: fetched ? fetched.responseEnd - fetched.requestStart : NaN,
        });
      }));
    });
    mo.observe(body, { childList: true });
  }), selector);
  await page.waitForTimeout(50); // the observer is in place
  await page.click(selector);
  return armed;
}

async function measureOnce(browser, run) {
  const binary = binaryPath('dashboard-load', 'make build');
  const started = await startProgram(binary, ['-connections', String(connections)], (line) => (line.startsWith('ready ') ? line : undefined));
  const harness = started.proc;
  try {
    const url = started.seen.find((l) => l.startsWith('dashboard ')).split(' ')[1];
    const connectMs = Number(started.value.split(' ')[2]);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.addInitScript(probe);
    await page.goto(url);
    await page.locator('#connections tbody tr').first().waitFor({ timeout: 60000 });
    await page.waitForFunction(() => window.__load.firstRowFrame !== null);
    const first = await page.evaluate(() => ({
      firstRow: window.__load.firstRow, firstRowFrame: window.__load.firstRowFrame,
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    }));

    await page.waitForTimeout(settleMs);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const before = await metric();
    await cdp.send('HeapProfiler.collectGarbage');
    const after = await metric();
    const dom = await page.evaluate(() => ({
      nodes: document.getElementsByTagName('*').length,
      rows: document.querySelectorAll('#connections tbody tr').length,
      feed: document.querySelectorAll('#feed li').length,
      feedMax: Number(document.getElementById('feed').dataset.max),
      feedCount: Number(document.getElementById('feed-count').textContent),
      total: Number(document.getElementById('conn-total').textContent),
      longTasks: window.__load.longTasks.slice(),
    }));
    assert.ok(dom.rows > 0 && dom.rows <= 100, `one page of rows is shown, not ${dom.rows}`);
    assert.ok(dom.total >= connections * 0.99, `the total counts every connection (${dom.total})`);
    assert.ok(dom.feed <= dom.feedMax, `the feed holds ${dom.feed} entries, more than its cap ${dom.feedMax}`);

    const clicks = [];
    const seen = new Set();
    const n = Number(opt.clicks);
    for (let i = 0; i < n; i++) {
      const sel = i < Math.ceil(n / 2) ? '#conn-next' : '#conn-prev';
      const c = await clickAndTime(page, sel);
      seen.add(c.first);
      clicks.push(c);
    }
    assert.ok(seen.size >= 2, 'Next and Prev show other connections');
    const eventTimings = await page.evaluate(() => window.__load.events.filter((e) => e.name === 'click' || e.name === 'pointerup').map((e) => e.duration));
    assert.deepEqual(problems, []);
    const status = started.seen.filter((l) => l.startsWith('status ')).pop() ?? '';
    const rss = Number(status.match(/rss=(\d+)/)?.[1] ?? NaN);
    await context.close();
    const lt = dom.longTasks;
    return {
      run, connections, connectMs,
      firstRowMs: first.firstRow, firstRowFrameMs: first.firstRowFrame, fcpMs: first.fcp,
      heapUsedMB: before.JSHeapUsedSize / 2 ** 20, heapAfterGcMB: after.JSHeapUsedSize / 2 ** 20,
      cdpNodes: after.Nodes, domElements: dom.nodes, rows: dom.rows, feedItems: dom.feed, feedMax: dom.feedMax, feedEvents: dom.feedCount,
      longTasks: lt.length, longTaskMaxMs: lt.length ? Math.max(...lt) : 0, longTaskTotalMs: lt.reduce((a, b) => a + b, 0),
      clickRowsMs: clicks.map((c) => c.rows), clickPaintMs: clicks.map((c) => c.painted),
      clickQueuedMs: clicks.map((c) => c.queued), clickAnsweredMs: clicks.map((c) => c.answered),
      clickEventTimingMaxMs: eventTimings.length ? Math.max(...eventTimings) : 0,
      emulatorRssMB: rss / 2 ** 20,
      load: readFileSync('/proc/loadavg', 'utf8').trim(),
    };
  } finally {
    await stopProgram(harness, 'dashboard-load exits cleanly on SIGTERM');
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const summary = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
const results = [];
try {
  for (let r = 1; r <= Number(opt.runs); r++) {
    const res = await measureOnce(browser, r);
    results.push(res);
    console.log(JSON.stringify(res));
  }
} finally {
  await browser.close();
}
console.log(`date ${new Date().toISOString()}, ${results.length} run(s) of ${connections} connections; median (min–max):`);
for (const key of ['connectMs', 'firstRowMs', 'firstRowFrameMs', 'fcpMs', 'heapUsedMB', 'heapAfterGcMB', 'cdpNodes', 'domElements', 'rows', 'feedItems', 'feedEvents', 'longTasks', 'longTaskMaxMs', 'clickEventTimingMaxMs', 'emulatorRssMB']) {
  console.log(`  ${key}: ${summary(results.map((r) => r[key]))}`);
}
console.log(`  clickRowsMs (every click): ${summary(results.flatMap((r) => r.clickRowsMs))}`);
console.log(`  clickPaintMs (every click): ${summary(results.flatMap((r) => r.clickPaintMs))}`);
console.log(`  clickQueuedMs (every click: the page request waiting to be sent): ${summary(results.flatMap((r) => r.clickQueuedMs))}`);
console.log(`  clickAnsweredMs (every click: request sent to answer read): ${summary(results.flatMap((r) => r.clickAnsweredMs))}`);
