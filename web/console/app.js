// The Latchkey staff console: one ES module, no build step, no inline script (the server's CSP forbids it).
// Pages are chosen by the URL fragment; every call goes to /staff/api with the session cookie.

const app = document.getElementById('app');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let me = null;

// ---- helpers ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false && value != null) el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function show(...nodes) {
  app.replaceChildren(...nodes);
  app.focus();
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.classList.add('show');
  setTimeout(() => t.classList.remove('show'), 2500);
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—';
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

async function api(method, path, body) {
  const options = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(`/staff/api${path}`, options);
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, error.message);
}

// A form whose submit runs `action`; errors are shown under it.
function form(fields, label, action, { danger = false } = {}) {
  const status = h('div');
  const button = h('button', { type: 'submit', class: danger ? 'danger' : '' }, label);
  const el = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      status.replaceChildren();
      try {
        await action(new FormData(el));
      } catch (error) {
        status.replaceChildren(errorBox(error));
      } finally {
        button.disabled = false;
      }
    },
  }, fields, button, status);
  return el;
}

function field(label, name, attrs = {}) {
  const id = `f-${name}`;
  const input = attrs.multiline ? h('textarea', { id, name, ...attrs, multiline: null })
                                : h('input', { id, name, ...attrs });
  return [h('label', { for: id }, label), input];
}

// ---- WebAuthn (binary fields travel as base64url) ----

const b64url = {
  encode(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  decode(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  },
};

async function enroll(token) {
  const options = await api('POST', '/enroll/options', { token });
  const credential = await navigator.credentials.create({
    publicKey: {
      ...options,
      challenge: b64url.decode(options.challenge),
      user: { ...options.user, id: b64url.decode(options.user.id) },
    },
  });
  const response = credential.response;
  return api('POST', '/enroll', {
    token,
    credential: {
      id: credential.id, rawId: b64url.encode(credential.rawId), type: credential.type,
      response: {
        clientDataJSON: b64url.encode(response.clientDataJSON),
        attestationObject: b64url.encode(response.attestationObject),
      },
    },
  });
}

async function signIn() {
  const options = await api('POST', '/sign-in/options');
  const credential = await navigator.credentials.get({
    publicKey: {
      challenge: b64url.decode(options.challenge),
      rpId: options.rpId,
      timeout: options.timeout,
      userVerification: options.userVerification,
      allowCredentials: [],
    },
  });
  const response = credential.response;
  return api('POST', '/sign-in', {
    credential: {
      id: credential.id, rawId: b64url.encode(credential.rawId), type: credential.type,
      response: {
        clientDataJSON: b64url.encode(response.clientDataJSON),
        authenticatorData: b64url.encode(response.authenticatorData),
        signature: b64url.encode(response.signature),
        userHandle: response.userHandle ? b64url.encode(response.userHandle) : null,
      },
    },
  });
}

// ---- pages ----

const pages = [
  { path: 'lookup', title: 'Account lookup', permission: 'lookup_accounts', render: lookupPage },
  { path: 'alerts', title: 'Alerts', permission: 'view_alerts', render: alertsPage },
  { path: 'providers', title: 'Providers', permission: 'view_providers', render: providersPage },
  { path: 'incidents', title: 'Incidents', permission: 'view_incidents', render: incidentsPage },
  { path: 'audit', title: 'Audit log', permission: 'view_audit', render: auditPage },
  { path: 'staff', title: 'Staff', permission: 'manage_staff', render: staffPage },
];

function can(permission) {
  return me && me.permissions.includes(permission);
}

function drawChrome(current) {
  nav.replaceChildren(...(me ? pages.filter((p) => can(p.permission)).map((p) =>
    h('a', { href: `#/${p.path}`, class: p.path === current ? 'active' : '' }, p.title)) : []));
  who.replaceChildren(...(me ? [
    h('span', {}, `${me.name} · ${me.role}`),
    h('button', { class: 'secondary', id: 'sign-out', onclick: async () => {
      await api('POST', '/sign-out');
      me = null;
      location.hash = '#/sign-in';
    } }, 'Sign out'),
  ] : []));
}

function signInPage() {
  return [h('h2', {}, 'Sign in'),
    h('section', { class: 'card' },
      h('p', {}, 'Staff sign in with a passkey or security key only. There is no password.'),
      form([], 'Sign in with a passkey', async () => {
        const result = await signIn();
        me = (await api('GET', '/me'));
        toast(`Signed in as ${result.staff.name}`);
        location.hash = `#/${pages.find((p) => can(p.permission)).path}`;
      }))];
}

function enrollPage(token) {
  return [h('h2', {}, 'Enroll your passkey'),
    h('section', { class: 'card' },
      h('p', {}, 'This single-use link registers a passkey or security key for your staff account.'),
      form([], 'Register a passkey', async () => {
        const result = await enroll(token);
        history.replaceState(null, '', '/console/#/');
        me = await api('GET', '/me');
        toast(`Welcome, ${result.staff.name}`);
        location.hash = `#/${pages.find((p) => can(p.permission)).path}`;
      }))];
}

async function lookupPage() {
  const result = h('div', { id: 'lookup-result' });
  const render = (account) => h('section', { class: 'card' },
    h('table', {},
      h('tr', {}, h('th', {}, 'Number'), h('td', { class: 'masked', id: 'account-number' }, account.number)),
      h('tr', {}, h('th', {}, 'Account'), h('td', {}, account.uuid)),
      h('tr', {}, h('th', {}, 'Created'), h('td', {}, time(account.createdAt))),
      h('tr', {}, h('th', {}, 'Registration Lock'), h('td', {}, account.registrationLock ? 'on' : 'off')),
      h('tr', {}, h('th', {}, 'Devices'), h('td', {}, account.devices.map((d) =>
        h('div', {}, `#${d.id} · last seen ${time(d.lastSeen)}`))))),
    can('unmask_numbers') && form(field('Reason for showing the full number (audited)', 'reason', { required: true, minlength: 3 }),
      'Unmask', async (data) => {
        const full = await api('POST', `/accounts/${account.uuid}/unmask`, { reason: data.get('reason') });
        document.getElementById('account-number').textContent = full.number;
        toast('Unmasked; the reason is in the audit log');
      }));
  return [h('h2', {}, 'Account lookup'),
    h('section', { class: 'card' },
      form([...field('Number (+33…) or account id', 'q', { required: true }),
            ...field('Support case', 'case', { placeholder: 'CASE-1234' })], 'Look up', async (data) => {
        const params = new URLSearchParams({ q: data.get('q'), case: data.get('case') || '' });
        result.replaceChildren();
        try {
          result.replaceChildren(render(await api('GET', `/accounts?${params}`)));
        } catch (error) {
          result.replaceChildren(errorBox(error));
        }
      })),
    result];
}

async function alertsPage() {
  const data = await api('GET', '/alerts');
  return [h('h2', {}, 'Alerts'),
    h('section', { class: 'card' }, data.alerts.length === 0 ? h('p', { class: 'muted' }, 'No alert is raised.') :
      h('table', { id: 'alerts' }, h('tr', {}, h('th', {}, 'Rule'), h('th', {}, 'Subject'), h('th', {}, 'What'), h('th', {}, 'Since')),
        data.alerts.map((a) => h('tr', {}, h('td', {}, h('span', { class: 'pill bad' }, a.rule)), h('td', {}, a.subject),
          h('td', {}, a.message), h('td', {}, time(a.firstSeen)))))),
    h('section', { class: 'card' }, h('h3', {}, 'Rules'),
      h('table', {}, data.rules.map((r) => h('tr', {}, h('td', {}, r.rule), h('td', {}, `threshold ${r.threshold}`),
        h('td', {}, `window ${Math.round(r.window / 60000)} min`)))))];
}

async function providersPage() {
  const { providers } = await api('GET', '/providers');
  const details = h('div');
  const rows = providers.map((p) => h('tr', {},
    h('td', {}, p.name),
    h('td', {}, p.compromised ? h('span', { class: 'pill bad' }, `compromised since ${time(p.breachStartedAt)}`)
                              : h('span', { class: p.enabled ? 'pill ok' : 'pill' }, p.enabled ? 'in use' : 'disabled')),
    h('td', {}, p.compromised ? [
      h('button', { class: 'secondary', onclick: async () => {
        const { suspects } = await api('GET', `/providers/${encodeURIComponent(p.name)}/suspects`);
        details.replaceChildren(h('section', { class: 'card' }, h('h3', {}, `Registrations through ${p.name} since the breach`),
          h('table', { id: 'suspects' }, suspects.map((s) => h('tr', {}, h('td', { class: 'masked' }, s.number), h('td', {}, time(s.at)),
            h('td', {}, s.replacedExisting ? 're-registration' : 'new')))),
          can('manage_incidents') && form(field('Description', 'description', { required: true }), 'Create an incident from these', async (data) => {
            const created = await api('POST', '/incidents', { description: data.get('description'), fromProvider: p.name });
            location.hash = `#/incidents/${created.incident.id}`;
          })));
      } }, 'Suspects'),
      can('manage_providers') && h('button', { class: 'secondary', onclick: async () => {
        await api('POST', `/providers/${encodeURIComponent(p.name)}/restore`);
        toast(`${p.name} restored`);
        route();
      } }, 'Restore')] :
      can('manage_providers') && form([...field('Breach began (UTC)', `since-${p.name}`, { type: 'datetime-local', required: true }),
        ...field('Note', `note-${p.name}`)], 'Mark compromised', async (data) => {
        const since = Date.parse(`${data.get(`since-${p.name}`)}Z`);
        const result = await api('POST', `/providers/${encodeURIComponent(p.name)}/compromise`,
          { breachStartedAt: since, note: data.get(`note-${p.name}`) || '' });
        toast(`${p.name}: ${result.invalidatedSessions} sessions ended, ${result.suspects} suspect registrations`);
        route();
      }, { danger: true }))));
  return [h('h2', {}, 'SMS providers'), h('section', { class: 'card' }, h('table', { id: 'providers' }, rows)), details];
}

async function incidentsPage() {
  const { incidents } = await api('GET', '/incidents');
  const list = h('section', { class: 'card' }, incidents.length === 0 ? h('p', { class: 'muted' }, 'No incident yet.') :
    h('table', { id: 'incidents' }, h('tr', {}, h('th', {}, 'Created'), h('th', {}, 'Description'), h('th', {}, 'State')),
      incidents.map((i) => h('tr', {}, h('td', {}, time(i.createdAt)),
        h('td', {}, h('a', { href: `#/incidents/${i.id}` }, i.description)), h('td', {}, h('span', { class: 'pill' }, i.state))))));
  const create = can('manage_incidents') && h('section', { class: 'card' }, h('h3', {}, 'New incident from a breach report'),
    form([...field('Description', 'description', { required: true }),
          ...field('Window start (UTC)', 'start', { type: 'datetime-local', required: true }),
          ...field('Window end (UTC)', 'end', { type: 'datetime-local', required: true }),
          h('label', { for: 'f-format' }, 'Format'),
          h('select', { id: 'f-format', name: 'format' }, h('option', { value: 'csv' }, 'CSV'), h('option', { value: 'json' }, 'JSON')),
          ...field('Report (numbers, one per line, or CSV with a number column, or JSON)', 'content', { multiline: true, required: true })],
      'Create incident', async (data) => {
        const created = await api('POST', '/incidents', {
          description: data.get('description'),
          windowStart: Date.parse(`${data.get('start')}Z`), windowEnd: Date.parse(`${data.get('end')}Z`),
          report: { format: data.get('format'), content: data.get('content') },
        });
        if (created.problems.length) toast(`${created.problems.length} lines skipped`);
        location.hash = `#/incidents/${created.incident.id}`;
      }));
  return [h('h2', {}, 'Incidents'), list, create];
}

let pollTimer = null;

async function incidentPage(id) {
  const data = await api('GET', `/incidents/${id}`);
  const i = data.incident;
  const stats = h('div', { class: 'grid', id: 'progress' });
  const bar = h('progress', { max: 1, value: 0 });
  const draw = (counts, state, rate) => {
    stats.replaceChildren(...[
      ['Numbers', counts.numbers], ['With an account', counts.withAccount], ['Registered in window', counts.registeredInWindow],
      ['With Registration Lock', counts.withRegistrationLock], ['Unregistered', counts.unregistered],
      ['Notified', counts.notified], ['Failed', counts.failed], ['Re-registered since', counts.reregistered],
      ['Rate', `${Math.round(rate || 0)}/s`], ['State', state],
    ].map(([label, value]) => h('div', { class: 'stat' }, h('b', { 'data-stat': label }, value), label)));
    bar.max = Math.max(1, counts.withAccount * 2);
    bar.value = counts.unregistered + counts.notified;
  };
  draw(data.impact, i.state, 0);
  const poll = async () => {
    if (!location.hash.startsWith(`#/incidents/${id}`)) return;
    const p = await api('GET', `/incidents/${id}/progress`);
    draw(p.counts, p.state, p.notifiedPerSecond);
    if (p.state === 'running') pollTimer = setTimeout(poll, 1000);
    else if (p.state !== i.state) route();
  };
  clearTimeout(pollTimer);
  if (i.state === 'running') pollTimer = setTimeout(poll, 1000);
  const act = (label, path, danger) => h('button', { class: danger ? 'danger' : '', id: `incident-${path}`, onclick: async (event) => {
    event.target.disabled = true;
    try {
      await api('POST', `/incidents/${id}/${path}`);
      toast(`${label}: done`);
      route();
    } catch (error) {
      event.target.after(errorBox(error));
      event.target.disabled = false;
    }
  } }, label);
  const actions = can('manage_incidents') ? [
    i.state === 'draft' && act('Approve (second person)', 'approve'),
    (i.state === 'approved' || i.state === 'completed') && act(i.state === 'completed' ? 'Re-run' : 'Execute: unregister and notify', 'execute', true),
    (i.state === 'draft' || i.state === 'approved') && act('Cancel', 'cancel'),
    h('a', { href: `/staff/api/incidents/${id}/report?format=csv`, download: `incident-${id}.csv` }, ' Report CSV'),
    h('a', { href: `/staff/api/incidents/${id}/report?format=json`, download: `incident-${id}.json` }, ' Report JSON'),
  ] : [];
  return [h('h2', {}, i.description),
    h('section', { class: 'card' },
      h('p', { class: 'muted' }, `Created by ${i.createdBy} at ${time(i.createdAt)} · window ${time(i.windowStart)} – ${time(i.windowEnd)}` +
        (i.approvedBy ? ` · approved by ${i.approvedBy}` : '')),
      h('p', {}, h('span', { class: 'pill', id: 'incident-state' }, i.state)), stats, bar, h('div', {}, actions)),
    h('section', { class: 'card' }, h('h3', {}, `Affected numbers (${data.targetsShown} shown)`),
      h('table', { id: 'targets' }, h('tr', {}, h('th', {}, 'Number'), h('th', {}, 'Account'), h('th', {}, 'In window'),
        h('th', {}, 'Lock'), h('th', {}, 'Unregistered'), h('th', {}, 'Notified')),
        data.targets.map((t) => h('tr', {}, h('td', { class: 'masked' }, t.number), h('td', {}, t.hasAccount ? 'yes' : 'no'),
          h('td', {}, t.registeredInWindow ? 'yes' : 'no'), h('td', {}, t.registrationLock ? 'yes' : 'no'),
          h('td', {}, time(t.unregisteredAt)), h('td', {}, t.notifiedAt ? time(t.notifiedAt) : (t.error || '—'))))))];
}

async function auditPage(before = 0) {
  const { entries } = await api('GET', `/audit?limit=50${before ? `&before=${before}` : ''}`);
  const older = entries.length === 50 ? h('button', { class: 'secondary', onclick: async () => show(...await auditPage(entries[entries.length - 1].seq)) }, 'Older') : null;
  return [h('h2', {}, 'Audit log'),
    h('section', { class: 'card' }, h('table', { id: 'audit' },
      h('tr', {}, h('th', {}, '#'), h('th', {}, 'Time'), h('th', {}, 'Who'), h('th', {}, 'Action'), h('th', {}, 'Target'), h('th', {}, 'Details')),
      entries.map((e) => h('tr', {}, h('td', {}, e.seq), h('td', {}, time(e.at)), h('td', {}, e.actor), h('td', {}, e.action),
        h('td', {}, e.target), h('td', { class: 'masked' }, JSON.stringify(e.details))))), older)];
}

async function staffPage() {
  const { staff } = await api('GET', '/staff');
  const link = h('div');
  return [h('h2', {}, 'Staff'),
    h('section', { class: 'card' }, h('table', { id: 'staff' },
      h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Role'), h('th', {}, 'Since'), h('th', {}, '')),
      staff.map((m) => h('tr', {}, h('td', {}, m.name), h('td', {}, m.role), h('td', {}, time(m.createdAt)),
        h('td', {}, m.disabled ? h('span', { class: 'pill' }, 'disabled') : m.id !== me.id &&
          h('button', { class: 'secondary', onclick: async () => { await api('POST', `/staff/${m.id}/disable`); route(); } }, 'Disable')))))),
    h('section', { class: 'card' }, h('h3', {}, 'Invite'),
      form([...field('Name', 'name', { required: true }),
            h('label', { for: 'f-role' }, 'Role'),
            h('select', { id: 'f-role', name: 'role' }, ['viewer', 'support', 'responder', 'admin'].map((r) => h('option', { value: r }, r)))],
        'Create enrollment link', async (data) => {
          const invite = await api('POST', '/staff/invites', { name: data.get('name'), role: data.get('role') });
          link.replaceChildren(h('p', {}, `Single use, valid until ${time(invite.expiresAt)}. Hand it over in person:`),
            h('div', { class: 'link-box', id: 'invite-link' }, invite.url));
        }), link)];
}

// ---- routing ----

async function route() {
  clearTimeout(pollTimer);
  const hash = location.hash;
  if (hash.startsWith('#enroll=')) {
    drawChrome('');
    return show(...enrollPage(hash.slice('#enroll='.length)));
  }
  if (!me) {
    try {
      me = await api('GET', '/me');
    } catch {
      me = null;
    }
  }
  if (!me) {
    drawChrome('');
    return show(...signInPage());
  }
  const [, path = '', id] = hash.match(/^#\/([a-z-]*)\/?([^/]*)?/) || [];
  const page = pages.find((p) => p.path === path && can(p.permission)) || pages.find((p) => can(p.permission));
  drawChrome(page.path);
  try {
    show(...(page.path === 'incidents' && id ? await incidentPage(id) : await page.render()));
  } catch (error) {
    if (error.status === 401) {
      me = null;
      return route();
    }
    show(h('h2', {}, page.title), errorBox(error));
  }
}

window.addEventListener('hashchange', route);
route();
