// The chat page: connects to hub "chat" with the official @microsoft/signalr
// browser client through the example's /api/negotiate, and calls the
// example's HTTP API to send messages and join or leave groups.
//
// Every piece of user text reaches the page through textContent, never
// innerHTML, so a message cannot inject markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $('status'),
    identity: $('identity'),
    name: $('name'),
    connect: $('connect'),
    groupForm: $('group-form'),
    group: $('group'),
    join: $('join'),
    groups: $('groups'),
    messages: $('messages'),
    composer: $('composer'),
    audience: $('audience'),
    recipient: $('recipient'),
    message: $('message'),
    send: $('send'),
  };

  let connection = null; // the current HubConnection
  let me = ''; // the user id we are connected as
  const joined = new Set(); // groups joined from this page

  // el creates an element with a class and, optionally, text.
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setStatus(state, text) {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
  }

  // enableChat turns the controls that need a user id on or off.
  function enableChat(on) {
    for (const c of [ui.group, ui.join, ui.audience, ui.recipient, ui.message, ui.send]) c.disabled = !on;
  }

  // append adds a list item and keeps the newest in view when the reader was
  // already at the bottom.
  function append(item) {
    const list = ui.messages;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    list.append(item);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  // notice shows a line about the chat itself: connected, joined, errors.
  function notice(text, kind = 'info') {
    const item = el('li', 'notice', text);
    item.dataset.kind = kind;
    append(item);
  }

  // hue gives each name a stable colour.
  function hue(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }

  // addMessage shows one message: dir is "in" (received over SignalR) or
  // "out" (a copy of what we sent that will not come back to us).
  function addMessage({ dir, from, text, audience, where }) {
    const item = el('li', 'msg');
    item.dataset.dir = dir;
    item.dataset.audience = audience;
    item.dataset.from = from;
    if (from === me) item.classList.add('mine');

    const avatar = el('span', 'avatar', Array.from(from)[0]?.toUpperCase() ?? '?');
    avatar.setAttribute('aria-hidden', 'true');
    avatar.style.setProperty('--hue', hue(from));

    const bubble = el('div', 'bubble');
    const meta = el('div', 'meta');
    meta.append(el('span', 'from', from), el('span', 'where', where));
    const time = el('time', 'time', new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    time.dateTime = new Date().toISOString();
    meta.append(time);
    bubble.append(meta, el('p', 'text', text));
    item.append(avatar, bubble);
    append(item);
  }

  // onMessage handles newMessage(body): body is whatever was POSTed to the
  // API, normally {from, text, to}, but any JSON value is shown.
  function onMessage(body) {
    const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
    const msg = isObject ? body : {};
    const from = typeof msg.from === 'string' && msg.from ? msg.from : 'someone';
    const text = typeof msg.text === 'string' ? msg.text : JSON.stringify(body);
    const to = msg.to !== null && typeof msg.to === 'object' ? msg.to : {};
    let audience = 'all';
    let where = 'to everyone';
    if (typeof to.user === 'string') {
      audience = 'user';
      where = to.user === me ? 'to you' : `to ${to.user}`;
    } else if (typeof to.group === 'string') {
      audience = 'group';
      where = `in ${to.group}`;
    }
    addMessage({ dir: 'in', from, text, audience, where });
  }

  // api calls the example's HTTP API and throws its error message on
  // failure (a 502 carries the service's reasons).
  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (res.ok) return;
    let message = `${res.status} ${res.statusText}`;
    try {
      const problem = await res.json();
      if (typeof problem.error === 'string') message = problem.error;
      if (Array.isArray(problem.failures) && problem.failures.length > 0) {
        message += `: ${problem.failures.map((f) => f.reason).join('; ')}`;
      }
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(message);
  }

  const segment = (s) => encodeURIComponent(s);

  async function connect(name) {
    if (connection) {
      const old = connection;
      connection = null;
      await old.stop();
    }
    me = name;
    joined.clear();
    renderGroups();
    enableChat(false);

    // The client appends /negotiate to the path and keeps the query, so
    // this negotiates at POST /api/negotiate?userId=<name>; the example
    // answers with the service URL and a token for that user.
    const conn = new signalR.HubConnectionBuilder()
      .withUrl(`${location.origin}/api?userId=${encodeURIComponent(name)}`)
      .withAutomaticReconnect()
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    conn.on('newMessage', onMessage);
    conn.onreconnecting(() => setStatus('reconnecting', 'reconnecting…'));
    conn.onreconnected(() => setStatus('connected', `online as ${me}`));
    conn.onclose((err) => {
      if (connection !== conn) return; // replaced by a newer connection
      setStatus('disconnected', 'offline');
      enableChat(false);
      notice(err ? `Disconnected: ${err.message}` : 'Disconnected.', err ? 'error' : 'info');
    });
    connection = conn;

    setStatus('connecting', 'connecting…');
    try {
      await conn.start();
    } catch (err) {
      if (connection === conn) {
        connection = null;
        setStatus('disconnected', 'offline');
        notice(`Could not connect: ${err.message}`, 'error');
      }
      return;
    }
    setStatus('connected', `online as ${name}`);
    enableChat(true);
    ui.connect.textContent = 'Switch';
    notice(`Connected as ${name}.`);
    ui.message.focus();
  }

  function renderGroups() {
    ui.groups.replaceChildren();
    for (const g of [...joined].sort()) {
      const chip = el('li', 'chip');
      chip.dataset.group = g;
      const pick = el('button', 'chip-name', g);
      pick.type = 'button';
      pick.title = `Write to ${g}`;
      pick.addEventListener('click', () => {
        ui.audience.value = 'group';
        ui.recipient.value = g;
        updateAudience();
        ui.message.focus();
      });
      const leave = el('button', 'chip-leave', '×');
      leave.type = 'button';
      leave.setAttribute('aria-label', `Leave ${g}`);
      leave.addEventListener('click', () => leaveGroup(g));
      chip.append(pick, leave);
      ui.groups.append(chip);
    }
  }

  async function joinGroup(g) {
    await api('PUT', `/api/groups/${segment(g)}/users/${segment(me)}`);
    joined.add(g);
    renderGroups();
    notice(`You joined ${g}.`);
  }

  async function leaveGroup(g) {
    try {
      await api('DELETE', `/api/groups/${segment(g)}/users/${segment(me)}`);
      joined.delete(g);
      renderGroups();
      notice(`You left ${g}.`);
    } catch (err) {
      notice(`Could not leave ${g}: ${err.message}`, 'error');
    }
  }

  function updateAudience() {
    const kind = ui.audience.value;
    ui.recipient.hidden = kind === 'all';
    ui.recipient.required = kind !== 'all';
    ui.recipient.placeholder = kind === 'group' ? 'group name' : 'user name';
  }

  async function sendMessage() {
    const text = ui.message.value.trim();
    const kind = ui.audience.value;
    const recipient = ui.recipient.value.trim();
    if (!text || (kind !== 'all' && !recipient)) return;

    const body = { from: me, text, sentAt: new Date().toISOString() };
    let path = '/api/messages';
    let echo = null; // what to show when the message will not come back to us
    if (kind === 'user') {
      body.to = { user: recipient };
      path = `/api/users/${segment(recipient)}/messages`;
      if (recipient !== me) echo = `to ${recipient}`;
    } else if (kind === 'group') {
      body.to = { group: recipient };
      path = `/api/groups/${segment(recipient)}/messages`;
      if (!joined.has(recipient)) echo = `in ${recipient}`;
    }

    ui.send.disabled = true;
    try {
      await api('POST', path, body);
      ui.message.value = '';
      if (echo) addMessage({ dir: 'out', from: me, text, audience: kind, where: echo });
    } catch (err) {
      notice(`Not sent: ${err.message}`, 'error');
    } finally {
      ui.send.disabled = connection === null;
      ui.message.focus();
    }
  }

  ui.identity.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = ui.name.value.trim();
    if (name) connect(name);
  });

  ui.groupForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const g = ui.group.value.trim();
    if (!g || !me) return;
    ui.join.disabled = true;
    try {
      await joinGroup(g);
      ui.group.value = '';
    } catch (err) {
      notice(`Could not join ${g}: ${err.message}`, 'error');
    } finally {
      ui.join.disabled = connection === null;
    }
  });

  ui.audience.addEventListener('change', updateAudience);
  ui.composer.addEventListener('submit', (event) => {
    event.preventDefault();
    sendMessage();
  });

  updateAudience();
  if (typeof signalR === 'undefined') {
    ui.connect.disabled = true;
    setStatus('disconnected', 'no client');
    notice('The SignalR browser client (/vendor/signalr.min.js) did not load. Run "cd js && npm ci" in the repository, then reload.', 'error');
  } else {
    ui.name.focus();
  }
})();
