// The emulator's dashboard: it uses the JSON control API under
// /_emulator/api only. A token (for a remote emulator opened with
// -remote-dashboard) may be given as #token=... in the URL; it is kept in
// this tab only and sent as a bearer token.
'use strict';
(() => {
  const api = '/_emulator/api';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || sessionStorage.getItem('emulatorToken') || '';
  if (token) sessionStorage.setItem('emulatorToken', token);
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') n.className = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v);
    }
    for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(c ?? ''));
    return n;
  };
  const call = async (method, path, body) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const resp = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await resp.text();
    const data = text ? JSON.parse(text) : {};
    if (!resp.ok) throw new Error(data.error || resp.status + ' ' + resp.statusText);
    return data;
  };
  const enc = encodeURIComponent;
  // The page stays light however big the emulator gets: one page of
  // connections (pageSize rows) and at most feedMax feed entries are in the
  // DOM, and feed events are drawn in batches (see addEvent).
  const pageSize = 50;
  const feedMax = Number($('feed').dataset.max) || 200;
  const feedEvery = 250; // ms between two draws of the feed
  const state = { hub: '', cursors: [''], page: 0, paused: false, count: 0, refresh: null, refreshing: false, lastRefresh: 0, hubNames: null, connKey: '', again: false, connSeq: 0, pending: [], frame: 0 };

  const ago = (iso) => {
    const s = Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    return Math.floor(s / 3600) + 'h ago';
  };
  const bytes = (n) => (n < 1024 ? n + ' B' : n < 1 << 20 ? (n / 1024).toFixed(1) + ' KB' : (n / (1 << 20)).toFixed(1) + ' MB');
  const result = (text, ok) => {
    const r = $('action-result');
    r.textContent = text;
    r.className = 'result ' + (ok ? 'ok' : 'bad');
  };

  // Each load* fetches its part and returns the function that draws it (or
  // null when nothing changed), so that a refresh draws everything in one
  // task: one layout, not one per answer.
  async function loadHubs() {
    const { hubs } = await call('GET', '/hubs');
    const names = hubs.map((h) => h.name);
    if (!state.hub && names.length) state.hub = names[0];
    if (state.hub && !names.includes(state.hub)) names.unshift(state.hub);
    const shown = (names.length ? names : ['(none yet)']);
    const h = hubs.find((x) => x.name === state.hub);
    const summary = h ? `${h.connections} connections · ${h.users} users · ${h.groups} groups` : '';
    return () => {
      const select = $('hub');
      if (shown.join('\n') !== state.hubNames) { // the options are rebuilt only when the hubs change
        state.hubNames = shown.join('\n');
        select.replaceChildren(...shown.map((n) => el('option', { value: n }, n)));
      }
      if (select.value !== state.hub) select.value = state.hub;
      if ($('hub-summary').textContent !== summary) $('hub-summary').textContent = summary;
    };
  }

  async function loadConnections() {
    if (!state.hub) return null;
    const q = new URLSearchParams({ limit: String(pageSize), cursor: state.cursors[state.page] });
    if ($('conn-user').value) q.set('user', $('conn-user').value);
    if ($('conn-group').value) q.set('group', $('conn-group').value);
    // A page asked for later (a click on Next during a refresh) wins over
    // an answer that arrives after it.
    const seq = ++state.connSeq;
    const at = state.page;
    const page = await call('GET', `/hubs/${enc(state.hub)}/connections?${q}`);
    return () => {
      if (seq !== state.connSeq) return;
      state.cursors[at + 1] = page.nextCursor || '';
      // The same answer as the last one drawn (an idle hub): nothing to redraw.
      const key = JSON.stringify(page) + '@' + at + '@' + Math.floor(Date.now() / 1000);
      if (key === state.connKey) return;
      state.connKey = key;
      $('conn-total').textContent = page.total;
      $('conn-prev').disabled = at === 0;
      $('conn-next').disabled = !page.nextCursor;
      $('conn-empty').hidden = page.connections.length > 0;
      $('connections').tBodies[0].replaceChildren(...page.connections.map((c) => el('tr', { 'data-id': c.id },
        el('td', { class: 'id', title: c.id }, c.id),
        el('td', {}, c.user || '—'),
        el('td', {}, el('span', { class: 'tag t' }, c.transport), el('span', { class: 'tag t' }, c.protocol)),
        el('td', { class: 'groups' }, ...(c.groups.length ? c.groups.map((g) => el('span', { class: 'tag' }, g)) : ['—'])),
        el('td', { title: c.connectedSince }, ago(c.connectedSince)),
        el('td', { class: 'num', title: c.messagesIn + ' messages' }, bytes(c.bytesIn)),
        el('td', { class: 'num', title: c.framesOut + ' frames' }, bytes(c.bytesOut)),
        el('td', {}, el('button', { class: 'danger', onclick: () => closeConnection(c.id) }, 'Close')),
      )));
    };
  }
  // showConnections loads and draws the current page (Next, Prev, filters).
  const showConnections = async () => { try { (await loadConnections())?.(); } catch (err) { result('Loading connections failed: ' + err.message, false); } };

  async function loadMembers(kind, listId) {
    if (!state.hub) return null;
    const page = await call('GET', `/hubs/${enc(state.hub)}/${kind}?limit=60`);
    const key = JSON.stringify(page);
    if (key === state['members-' + kind]) return null;
    return () => {
      state['members-' + kind] = key;
      const items = page.items.map((m) => el('li', { title: m.connections.slice(0, 50).join('\n') + (m.connections.length > 50 ? '\n…' : '') }, m.name, el('b', {}, String(m.connections.length))));
      if (page.total > page.items.length) items.push(el('li', { class: 'none' }, `+${page.total - page.items.length} more`));
      $(listId).replaceChildren(...(items.length ? items : [el('li', { class: 'none' }, 'none')]));
    };
  }

  async function loadFaults() {
    const f = await call('GET', '/faults');
    const n = f.faults.length + (f.offline ? 1 : 0);
    const text = (f.offline ? 'Endpoint OFFLINE. ' : '') + (f.faults.length ? `${f.faults.length} fault(s) injected: ` + f.faults.map((x) => `${x.kind}${x.status ? ' ' + x.status : ''}${x.delayNs ? ' +' + x.delayNs / 1e6 + 'ms' : ''}${x.hang ? ' hang' : ''}`).join(', ') : '');
    return () => {
      const banner = $('fault-banner');
      if (banner.hidden !== (n === 0)) banner.hidden = n === 0;
      if (banner.textContent !== text) banner.textContent = text;
    };
  }

  // refresh reloads the tables; one runs at a time, and one asked for
  // meanwhile runs once after it.
  async function refresh() {
    if (state.refreshing) { state.again = true; return; }
    state.refreshing = true;
    state.lastRefresh = Date.now();
    try {
      const drawHubs = await loadHubs();
      const draws = await Promise.all([loadConnections(), loadMembers('groups', 'groups'), loadMembers('users', 'users'), loadFaults()]);
      for (const draw of [drawHubs, ...draws]) draw?.();
    } catch (err) {
      result('Refresh failed: ' + err.message, false);
    } finally {
      state.refreshing = false;
      if (state.again) { state.again = false; soon(); }
    }
  }
  // Coalesces the refreshes that a burst of events asks for.
  // The first comes 120 ms after the event, and refreshes start at least
  // 400 ms apart, so that a hub whose clients come and go all the time
  // costs the page a few refreshes a second at most.
  const soon = () => {
    if (state.refresh) return;
    const wait = Math.max(120, state.lastRefresh + 400 - Date.now());
    state.refresh = setTimeout(() => { state.refresh = null; refresh(); }, wait);
  };

  async function closeConnection(id) {
    try {
      await call('POST', `/hubs/${enc(state.hub)}/connections/${enc(id)}/close`, { reason: 'Closed from the emulator dashboard.' });
      result('Asked ' + id + ' to close.', true);
    } catch (err) { result(err.message, false); }
  }

  $('send-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { target: $('send-target').value };
    const kind = $('send-kind').value;
    if (kind) body[kind] = $('send-to').value;
    try {
      body.arguments = $('send-args').value ? JSON.parse($('send-args').value) : [];
      if (!Array.isArray(body.arguments)) throw new Error('arguments must be a JSON array, e.g. ["hello", 1]');
      await call('POST', `/hubs/${enc(state.hub)}/send`, body);
      result(`Sent ${body.target} to ${kind ? kind + ' ' + body[kind] : 'everyone'}.`, true);
    } catch (err) { result(err.message, false); }
  });
  $('group-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const op = e.submitter?.dataset.op || 'add';
    const group = $('group-name').value;
    try {
      await call('POST', `/hubs/${enc(state.hub)}/groups/${enc(group)}/${op}`, { [$('group-kind').value]: $('group-who').value });
      result(`${op === 'add' ? 'Added to' : 'Removed from'} ${group}.`, true);
      soon();
    } catch (err) { result(err.message, false); }
  });
  $('hub').addEventListener('change', () => { state.hub = $('hub').value; state.cursors = ['']; state.page = 0; refresh(); });
  // Next waits for the cursor of the page it goes to (the answer to the
  // current page's request), so two quick clicks do not skip ahead blind.
  $('conn-next').addEventListener('click', () => { if (state.cursors[state.page + 1]) { state.page++; showConnections(); } });
  $('conn-prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); showConnections(); });
  for (const id of ['conn-user', 'conn-group']) $(id).addEventListener('input', () => { state.cursors = ['']; state.page = 0; soon(); });
  $('feed-pause').addEventListener('click', () => { state.paused = !state.paused; $('feed-pause').textContent = state.paused ? 'Resume' : 'Pause'; });
  $('feed-clear').addEventListener('click', () => { state.pending = []; $('feed').replaceChildren(); state.count = 0; $('feed-count').textContent = 0; });

  const describe = (ev) => {
    const who = [ev.user && 'user ' + ev.user, ev.group && 'group ' + ev.group, ev.connection && 'conn ' + ev.connection].filter(Boolean).join(' · ');
    switch (ev.kind) {
      case 'rest': return `${ev.method} ${ev.route}${ev.target ? ' → ' + ev.target : ''}`;
      case 'negotiate': return `negotiate ${ev.hub}`;
      case 'upstream': return `${ev.target}${ev.signed ? ' (signed)' : ''}${ev.error ? ' — ' + ev.error : ''} · ${who}`;
      case 'connected': return `${who} via ${ev.transport}/${ev.protocol}`;
      case 'disconnected': return `${who} — ${ev.reason}`;
      case 'invocation': return `${ev.target}(${ev.invocationId ? '#' + ev.invocationId : 'no result'}) · ${who}`;
      case 'completion': return `#${ev.invocationId} · ${who}`;
      case 'control': return `${ev.route}${ev.target ? ' ' + ev.target : ''}${ev.reason ? ' — ' + ev.reason : ''} · ${who || 'all'}`;
      case 'fault': return `${ev.target}${ev.route ? ' ' + ev.route : ''}${ev.reason ? ' — ' + ev.reason : ''}`;
      case 'service': return `${ev.method}${ev.target ? ' → ' + ev.target : ''} · ${who || 'all'} · ${ev.route}`;
      case 'serverConnected': return `service connection ${ev.connection} (${ev.hub})`;
      case 'serverDisconnected': return `service connection ${ev.connection} — ${ev.reason}`;
      default: return JSON.stringify(ev);
    }
  };
  const fmt = (ns) => (!ns ? '' : ns < 1e6 ? (ns / 1e3).toFixed(0) + 'µs' : (ns / 1e6).toFixed(1) + 'ms');

  // changesState: the event may change what the tables show (a send does
  // not, beyond the byte counts the 5 s refresh picks up).
  const changesState = (ev) => ['connected', 'disconnected', 'fault'].includes(ev.kind) ||
    (ev.kind === 'control' && ev.route !== 'send') ||
    (ev.kind === 'rest' && ev.method !== 'GET' && ev.method !== 'HEAD' && !(ev.route || '').endsWith(':send'));

  function addEvent(ev) {
    if (changesState(ev)) soon();
    if (state.paused) return;
    state.count++;
    state.pending.push(ev);
    if (state.pending.length > feedMax) state.pending.splice(0, state.pending.length - feedMax);
    // Drawn at most four times a second, each time in an animation frame:
    // a layout per event would keep a busy page from ever resting.
    if (!state.frame) state.frame = setTimeout(() => requestAnimationFrame(drawFeed), feedEvery);
  }

  // drawFeed puts the events received since the last frame on top of the
  // feed and trims it to feedMax entries.
  function drawFeed() {
    state.frame = 0;
    const batch = state.pending;
    state.pending = [];
    const list = $('feed');
    const items = batch.reverse().map(feedItem);
    list.prepend(...items);
    while (list.children.length > feedMax) list.lastChild.remove();
    $('feed-count').textContent = state.count;
  }

  const two = (n) => String(n).padStart(2, '0');
  // clock is HH:MM:SS.mmm in local time (toLocaleTimeString costs far
  // more, once per event).
  const clock = (iso) => {
    const d = new Date(iso);
    return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  };

  function feedItem(ev) {
    const time = clock(ev.time);
    const cls = ev.status >= 400 || ev.error ? 's-bad' : 's-ok';
    const li = el('li', { 'data-kind': ev.kind },
      el('span', { class: 'time' }, time),
      el('span', { class: 'kind k-' + ev.kind }, ev.kind),
      el('span', { class: 'what', title: describe(ev) }, describe(ev)),
      el('span', { class: 'status ' + cls }, ev.status ? String(ev.status) : ''),
      el('span', { class: 'dur' }, fmt(ev.durationNs)));
    return li;
  }

  let source;
  function openFeed() {
    if (source) source.close();
    const q = new URLSearchParams();
    if ($('f-user').value) q.set('user', $('f-user').value);
    if ($('f-group').value) q.set('group', $('f-group').value);
    if ($('f-conn').value) q.set('connection', $('f-conn').value);
    if (token) q.set('access_token', token);
    source = new EventSource(`${api}/events?${q}`);
    source.onopen = () => { $('conn-state').textContent = 'live'; $('conn-state').className = 'pill live'; };
    source.onerror = () => { $('conn-state').textContent = 'reconnecting…'; $('conn-state').className = 'pill down'; };
    for (const kind of ['connected', 'disconnected', 'rest', 'negotiate', 'upstream', 'invocation', 'completion', 'control', 'fault', 'service', 'serverConnected', 'serverDisconnected']) {
      source.addEventListener(kind, (m) => addEvent(JSON.parse(m.data)));
    }
  }
  let filterTimer;
  for (const id of ['f-user', 'f-group', 'f-conn']) $(id).addEventListener('input', () => { clearTimeout(filterTimer); filterTimer = setTimeout(openFeed, 300); });

  openFeed();
  refresh();
  setInterval(refresh, 5000); // connected-since and byte counts
})();
