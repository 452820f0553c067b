// The dashboard's "Service connections" block: the app servers connected
// over the service protocol (/server/?hub=, the Persistent transport) to
// the hub the page shows, from GET /_emulator/api/hubs/{hub}/servers. It
// stands apart from dashboard.js: it reads the hub from the page's select
// and the token dashboard.js keeps in sessionStorage, and polls.
'use strict';
(() => {
  const api = '/_emulator/api';
  const $ = (id) => document.getElementById(id);
  const cell = (text, cls, title) => {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    if (title) td.title = title;
    td.textContent = text;
    return td;
  };
  const ago = (iso) => {
    const s = Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    return Math.floor(s / 3600) + 'h ago';
  };
  let busy = false;
  async function loadServers() {
    const hub = $('hub').value;
    if (busy || !hub || hub === '(none yet)') return;
    busy = true;
    try {
      const token = sessionStorage.getItem('emulatorToken') || '';
      const headers = token ? { Authorization: 'Bearer ' + token } : {};
      const resp = await fetch(`${api}/hubs/${encodeURIComponent(hub)}/servers`, { headers });
      if (!resp.ok) return;
      const { servers } = await resp.json();
      $('servers-total').textContent = servers.length;
      $('servers-empty').hidden = servers.length > 0;
      $('servers').tBodies[0].replaceChildren(...servers.map((s) => {
        const tr = document.createElement('tr');
        tr.dataset.id = s.id;
        tr.append(
          cell(s.id, 'id', `${s.kind} connection${s.serverId ? ' of server ' + s.serverId : ''}`),
          cell(ago(s.connectedSince), '', s.connectedSince),
          cell(`${s.messagesIn} / ${s.messagesOut}`, 'num', `${s.bytesIn} bytes in, ${s.bytesOut} bytes out`),
          cell(String(s.acks), 'num'),
        );
        return tr;
      }));
    } catch {
      // The main refresh reports failures; this block keeps its last rows.
    } finally {
      busy = false;
    }
  }
  $('hub').addEventListener('change', loadServers);
  loadServers();
  setInterval(loadServers, 2000);
})();
