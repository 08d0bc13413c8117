// The Latchkey staff console: plain ES modules, no build step and no inline script or style (the server's
// Content-Security-Policy forbids both). Pages are chosen by the URL fragment (#/lookup, #/incidents/ID, ...);
// the navigation shows only the pages the signed-in role may open (GET /staff/api/me lists its permissions).
import { api, can, loadStaffNames, session } from './api.js';
import { errorBox, h } from './dom.js';
import { alertsPage } from './pages/alerts.js';
import { auditPage } from './pages/audit.js';
import { incidentPage, incidentsPage, stopPolling } from './pages/incidents.js';
import { lookupPage } from './pages/lookup.js';
import { providersPage } from './pages/providers.js';
import { enrollPage, signInPage } from './pages/sign-in.js';
import { staffPage } from './pages/staff.js';

const pages = [
  { path: 'lookup', title: 'Account lookup', permission: 'lookup_accounts', render: lookupPage },
  { path: 'alerts', title: 'Alerts', permission: 'view_alerts', render: alertsPage },
  { path: 'providers', title: 'Providers', permission: 'view_providers', render: providersPage },
  { path: 'incidents', title: 'Incidents', permission: 'view_incidents', render: incidentsPage, detail: incidentPage },
  { path: 'audit', title: 'Audit log', permission: 'view_audit', render: auditPage, detail: auditPage },
  { path: 'staff', title: 'Staff', permission: 'manage_staff', render: staffPage },
];

const main = document.getElementById('app');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

function show(nodes, title) {
  main.replaceChildren(...nodes.flat().filter(Boolean));
  document.title = `${title} · Latchkey staff console`;
  main.focus({ preventScroll: true });
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function firstPage() {
  return pages.find((p) => can(p.permission));
}

async function loadMe() {
  try {
    session.me = await api('GET', '/me');
  } catch (error) {
    if (error.status !== 401 && error.status !== 403) throw error;
    session.me = null;
  }
}

async function signedIn() {
  await loadMe();
  navigate(`#/${firstPage().path}`);
}

function drawChrome(current) {
  const visible = session.me ? pages.filter((p) => can(p.permission)) : [];
  nav.replaceChildren(...visible.map((p) =>
    h('a', { href: `#/${p.path}`, class: p === current ? 'active' : null, 'aria-current': p === current ? 'page' : null }, p.title)));
  who.replaceChildren(...(session.me ? [
    h('span', { id: 'whoami' }, `${session.me.name} · ${session.me.role}`),
    h('button', { type: 'button', class: 'secondary', id: 'sign-out', onclick: async () => {
      try {
        await api('POST', '/sign-out');
      } finally {
        session.me = null;
        navigate('#/sign-in');
      }
    } }, 'Sign out'),
  ] : []));
}

async function route() {
  stopPolling();
  const hash = location.hash;
  if (hash.startsWith('#enroll=')) {
    drawChrome(null);
    return show(enrollPage({ token: decodeURIComponent(hash.slice('#enroll='.length)), signedIn }), 'Enroll');
  }
  try {
    if (!session.me) await loadMe();
  } catch (error) {
    drawChrome(null);
    return show([h('h2', {}, 'The console cannot reach the server'), errorBox(error)], 'Error');
  }
  if (!session.me) {
    drawChrome(null);
    return show(signInPage({ signedIn }), 'Sign in');
  }
  const [, path = '', param = ''] = hash.match(/^#\/([a-z-]*)\/?(.*)$/) || [];
  const page = pages.find((p) => p.path === path && can(p.permission)) || firstPage();
  drawChrome(page);
  const context = { param: decodeURIComponent(param), refresh: route, navigate };
  try {
    await loadStaffNames().catch(() => {});
    const render = param && page.detail ? page.detail : page.render;
    show(await render(context), page.title);
  } catch (error) {
    if (error.status === 401) {
      session.me = null;
      return route();
    }
    show([h('h2', {}, page.title), errorBox(error)], page.title);
  }
}

window.addEventListener('hashchange', route);
route();
