// The chat page: connects to hub "chat" with the official @microsoft/signalr
// browser client through the example's /api/negotiate, and talks through the
// hub: connection.invoke("broadcast" | "sendToUser" | "sendToGroup" |
// "joinGroup" | "leaveGroup", ...), which SignalR Service (serverless) hands
// to the example's hub functions at /runtime/webhooks/signalr; a function's
// error comes back as the invoke's rejection.
//
// The connection survives outages: the client reconnects with backoff for
// as long as the page is open (and starts again if it ever gives up), the
// page re-joins its groups after every (re)connect, and a banner says why it
// is offline while Send waits, keeping the draft.
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
    banner: $('banner'),
    bannerReason: $('banner-reason'),
    bannerRetry: $('banner-retry'),
  };

  let connection = null; // the current HubConnection
  let me = ''; // the user id we are connected as
  let online = false; // connection is connected and its groups re-joined
  let sending = false; // a send is in flight
  let joining = false; // a join is in flight
  const joined = new Set(); // groups joined from this page

  // offline is what the banner shows: why the page is offline, and when the
  // next attempt starts (0: under way).
  const offline = { reason: '', retryAt: 0 };
  let bannerTicker = null; // refreshes the banner's countdown
  let restartTimer = null; // our own restart, after the client gave up

  // invokeTimeoutMs bounds a hub call. A SignalR Service with no upstream
  // URL for the hub never answers an invocation; the embedded emulator
  // gives up on the hub functions after 15 s.
  const invokeTimeoutMs = 20_000;

  // trace records, per connection attempt, where the negotiation went: the
  // app's answer (the SignalR Service URL) or the app's failure. Errors then
  // name the server that could not be reached.
  const trace = { serviceUrl: '', appError: '' };

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

  // updateControls enables what can be used now: writing needs a name;
  // sending and joining need the connection, so they wait while offline
  // (the draft stays in the box).
  function updateControls() {
    for (const c of [ui.group, ui.audience, ui.recipient, ui.message]) c.disabled = !me;
    ui.send.disabled = !online || sending;
    ui.join.disabled = !online || joining;
  }

  // backoff is the wait before retry number n (1, 2, ...): 1 s, 2 s, 4 s,
  // 8 s, then 10 s for ever, each within ±20% so that many pages do not
  // retry in step after a restart.
  function backoff(n) {
    const base = Math.min(1000 * 2 ** Math.max(n - 1, 0), 10_000);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  // reasonOf is an error's message without the client's generic prefixes.
  function reasonOf(err) {
    const text = err && err.message ? err.message : String(err || 'the connection was lost');
    return text
      .replace(/^Failed to complete negotiation with the server: /, '')
      .replace(/^(TypeError|Error): /, '')
      .replace(/\.$/, '');
  }

  // explain says which server failed: the chat server (its negotiate) or
  // the SignalR Service its negotiate pointed at, by URL.
  function explain(err, lost = false) {
    if (trace.appError) return `the chat server at ${location.origin} ${trace.appError}`;
    if (trace.serviceUrl) {
      const what = lost ? 'lost the connection to' : 'cannot reach';
      return `${what} the SignalR Service at ${trace.serviceUrl} (${reasonOf(err)})`;
    }
    return reasonOf(err);
  }

  // tracingHttpClient is the client's own HTTP client, noting the app's
  // negotiate answer in trace. (A function, because signalR may have failed
  // to load.)
  function tracingHttpClient() {
    return new (class extends signalR.DefaultHttpClient {
      async send(request) {
        const url = new URL(request.url, location.href);
        const isApp = url.origin === location.origin && url.pathname === '/api/negotiate';
        if (isApp) {
          trace.serviceUrl = '';
          trace.appError = '';
        }
        let res;
        try {
          res = await super.send(request);
        } catch (err) {
          if (isApp) trace.appError = appNegotiateError(err);
          throw err;
        }
        if (isApp && res.statusCode === 200) {
          try {
            trace.serviceUrl = JSON.parse(res.content).url || '';
          } catch {
            // not the {url, accessToken} answer: the client reports that
          }
        }
        return res;
      }
    })(signalR.NullLogger.instance);
  }

  // appNegotiateError describes a failed POST /api/negotiate.
  function appNegotiateError(err) {
    if (!(err instanceof signalR.HttpError)) return `is not answering (${reasonOf(err)})`;
    let text = err.message;
    try {
      const problem = JSON.parse(err.message);
      if (typeof problem.error === 'string') text = problem.error;
    } catch {
      // plain text
    }
    return `refused negotiate with ${err.statusCode}: ${text}`;
  }

  // showOffline shows the banner with reason; retryInMs is the wait before
  // the next attempt (0: under way, undefined: keep the current one).
  function showOffline(reason, retryInMs) {
    online = false;
    offline.reason = reason;
    if (retryInMs !== undefined) offline.retryAt = Date.now() + retryInMs;
    setStatus('reconnecting', 'reconnecting…');
    renderBanner();
    ui.banner.hidden = false;
    bannerTicker ??= setInterval(renderBanner, 1000);
    updateControls();
  }

  function renderBanner() {
    ui.bannerReason.textContent = `Offline: ${offline.reason}.`;
    const wait = Math.ceil((offline.retryAt - Date.now()) / 1000);
    ui.bannerRetry.textContent = wait > 0 ? `Trying again in ${wait} s; Send waits, your draft is kept.` : 'Reconnecting…';
  }

  function hideOffline() {
    ui.banner.hidden = true;
    clearInterval(bannerTicker);
    bannerTicker = null;
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

  // onMessage handles newMessage(body): body is {from, text, to, sentAt} from
  // the hub functions, or whatever was POSTed to the HTTP API (any JSON
  // value is shown).
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

  // invoke calls a hub method on conn and resolves with its result. It
  // rejects with the hub function's error (such as "nobody named dave is
  // online"), the client's (the connection closed), or, after
  // invokeTimeoutMs without an answer, says where the service should send
  // hub calls.
  async function invoke(conn, method, ...args) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${invokeTimeoutMs / 1000} s; ` +
        `the SignalR Service's upstream URL should be ${location.origin}/runtime/webhooks/signalr`)), invokeTimeoutMs);
    });
    try {
      return await Promise.race([conn.invoke(method, ...args), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // onPresence handles presence({user, online}): another user's first
  // connection opened or last one closed.
  function onPresence(p) {
    if (p === null || typeof p !== 'object' || typeof p.user !== 'string' || p.user === me) return;
    notice(p.online ? `${p.user} is online.` : `${p.user} went offline.`, 'presence');
  }

  // connect connects as name, replacing any connection of another name.
  async function connect(name) {
    const old = connection;
    connection = null;
    clearTimeout(restartTimer);
    if (old) await old.stop();
    me = name;
    online = false;
    joined.clear();
    renderGroups();
    updateControls();

    let conn = null;
    // Reconnect for ever: the policy never returns null. Each wait shows in
    // the banner with the reason of the last failure.
    const retryPolicy = {
      nextRetryDelayInMilliseconds(retry) {
        const delay = retry.previousRetryCount === 0 ? 0 : backoff(retry.previousRetryCount);
        if (connection === conn && retry.previousRetryCount > 0) showOffline(explain(retry.retryReason), delay);
        return delay;
      },
    };
    // The client appends /negotiate to the path and keeps the query, so
    // this negotiates at POST /api/negotiate?userId=<name>; the example
    // answers with the service URL and a token for that user.
    conn = new signalR.HubConnectionBuilder()
      .withUrl(`${location.origin}/api?userId=${encodeURIComponent(name)}`, { httpClient: tracingHttpClient() })
      .withAutomaticReconnect(retryPolicy)
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    conn.on('newMessage', onMessage);
    conn.on('presence', onPresence);
    conn.onreconnecting((err) => {
      if (connection !== conn) return;
      notice(`Connection lost: ${explain(err, true)}. Reconnecting…`, 'warn');
      showOffline(explain(err, true), 0);
    });
    conn.onreconnected(() => {
      if (connection === conn) cameOnline(conn, true);
    });
    conn.onclose((err) => {
      // The client stopped for good (the service closed the connection
      // without allowing a reconnect): start again ourselves.
      if (connection !== conn) return;
      const delay = backoff(1);
      if (online) notice(`Disconnected: ${explain(err, true)}.`, 'warn');
      showOffline(explain(err, true), delay);
      restartTimer = setTimeout(() => startConnection(conn, 1), delay);
    });
    connection = conn;
    setStatus('connecting', 'connecting…');
    await startConnection(conn, 0, false);
  }

  // startConnection starts conn; on failure it tries again after a backoff,
  // for as long as conn is the page's connection. retries counts the
  // attempts that failed before this one.
  async function startConnection(conn, retries, wasOnline = true) {
    if (connection !== conn) return;
    try {
      await conn.start();
    } catch (err) {
      if (connection !== conn) return;
      const delay = backoff(retries + 1);
      if (retries === 0 && !wasOnline) notice(`Could not connect: ${explain(err)}`, 'error');
      showOffline(explain(err), delay);
      restartTimer = setTimeout(() => startConnection(conn, retries + 1, wasOnline), delay);
      return;
    }
    await cameOnline(conn, wasOnline);
  }

  // cameOnline re-joins the page's groups (membership belongs to a
  // connection, and a reconnect is a new one), then enables sending and says
  // the connection is back.
  async function cameOnline(conn, wasOnline) {
    const rejoined = [];
    for (const g of [...joined].sort()) {
      try {
        await invoke(conn, 'joinGroup', g);
        rejoined.push(g);
      } catch (err) {
        if (connection === conn) notice(`Could not rejoin ${g}: ${err.message}`, 'error');
      }
      if (connection !== conn) return;
    }
    if (connection !== conn || conn.state !== signalR.HubConnectionState.Connected) return;
    online = true;
    hideOffline();
    setStatus('connected', `online as ${me}`);
    updateControls();
    if (wasOnline) {
      notice(`Back online as ${me}${rejoined.length ? `; rejoined ${rejoined.join(', ')}` : ''}.`, 'ok');
      return;
    }
    for (const hint of ui.messages.querySelectorAll('li.notice[data-kind="welcome"]')) hint.remove();
    ui.connect.textContent = 'Switch';
    notice(`Connected as ${me}.`);
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
    await invoke(connection, 'joinGroup', g);
    joined.add(g);
    renderGroups();
    notice(`You joined ${g}.`);
  }

  async function leaveGroup(g) {
    try {
      await invoke(connection, 'leaveGroup', g);
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
    if (!online || sending || !text || (kind !== 'all' && !recipient)) return;

    // The hub function adds the sender (our user id) and the time.
    let call = ['broadcast', text];
    let echo = null; // what to show when the message will not come back to us
    if (kind === 'user') {
      call = ['sendToUser', recipient, text];
      if (recipient !== me) echo = `to ${recipient}`;
    } else if (kind === 'group') {
      call = ['sendToGroup', recipient, text];
      if (!joined.has(recipient)) echo = `in ${recipient}`;
    }

    sending = true;
    updateControls();
    try {
      await invoke(connection, ...call);
      ui.message.value = '';
      if (echo) addMessage({ dir: 'out', from: me, text, audience: kind, where: echo });
    } catch (err) {
      notice(`Not sent: ${err.message}`, 'error');
    } finally {
      sending = false;
      updateControls();
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
    if (!g || !online || joining) return;
    joining = true;
    updateControls();
    try {
      await joinGroup(g);
      ui.group.value = '';
    } catch (err) {
      notice(`Could not join ${g}: ${err.message}`, 'error');
    } finally {
      joining = false;
      updateControls();
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
