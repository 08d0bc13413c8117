// Incidents: create one from a breach report (pasted or uploaded CSV/JSON) or from a compromised provider's
// suspects, see its impact, approve it (a second person), execute it and watch the progress, download the report.
import { actorLabel, api, can, session } from '../api.js';
import { actionButton, field, form, h, select, table, time, toast, utcMillis } from '../dom.js';

const stateClass = { draft: 'pill', approved: 'pill warn', running: 'pill warn', completed: 'pill ok', cancelled: 'pill' };

export async function incidentsPage({ navigate }) {
  const { incidents } = await api('GET', '/incidents');
  const list = h('section', { class: 'card' },
    incidents.length === 0 ? h('p', { class: 'muted' }, 'No incident yet.') :
      table('incidents', ['Created', 'Description', 'Source', 'By', 'State'], incidents, (i) => [
        time(i.createdAt), h('a', { href: `#/incidents/${encodeURIComponent(i.id)}` }, i.description),
        i.source === 'provider' || i.provider ? `provider ${i.provider}` : 'breach report', actorLabel(i.createdBy),
        h('span', { class: stateClass[i.state] || 'pill' }, i.state)]));
  return [h('h2', {}, 'Incidents'), list, can('manage_incidents') && createCard(navigate)];
}

function createCard(navigate) {
  const content = h('textarea', { id: 'f-content', name: 'content', required: true, spellcheck: 'false',
    'aria-describedby': 'f-content-hint', placeholder: 'number,seen_at\n+33612345678,2026-11-20T10:00:00Z' });
  const format = select('Format', 'format', [['csv', 'CSV (a number column, or one number per line)'], ['json', 'JSON']]);
  const upload = h('input', { type: 'file', id: 'f-file', accept: '.csv,.json,.txt,text/csv,application/json,text/plain',
    onchange: async () => {
      const file = upload.files[0];
      if (!file) return;
      content.value = await file.text();
      format[1].value = /\.json$/i.test(file.name) || /^\s*[[{]/.test(content.value) ? 'json' : 'csv';
    } });
  return h('section', { class: 'card', 'aria-labelledby': 'new-incident' }, h('h3', { id: 'new-incident' }, 'New incident from a breach report'),
    form([...field('Description', 'description', { required: true, maxlength: 2000 }),
      h('div', { class: 'row' },
        h('div', {}, field('Breach window start (UTC)', 'start', { type: 'datetime-local', required: true, step: 60 })),
        h('div', {}, field('Breach window end (UTC)', 'end', { type: 'datetime-local', required: true, step: 60 }))),
      h('label', { for: 'f-file' }, 'Upload the report'), upload,
      h('label', { for: 'f-content' }, 'or paste it'), content,
      h('p', { class: 'hint', id: 'f-content-hint' }, 'Numbers in international format. Lines that cannot be read are listed after import.'),
      ...format],
    'Create incident (draft)', async (data) => {
      const windowStart = utcMillis(data.get('start'));
      const windowEnd = utcMillis(data.get('end'));
      if (!(windowStart < windowEnd)) throw new Error('The window must start before it ends');
      const created = await api('POST', '/incidents', {
        description: data.get('description'), windowStart, windowEnd,
        report: { format: data.get('format'), content: data.get('content') },
      });
      if (created.problems.length) toast(`${created.problems.length} report lines skipped: ${created.problems.slice(0, 3).join('; ')}`);
      navigate(`#/incidents/${encodeURIComponent(created.incident.id)}`);
    }, { id: 'create-incident' }));
}

function stats(counts, state, rate) {
  return [
    ['Numbers in report', counts.numbers], ['With an account', counts.withAccount],
    ['Registered in window', counts.registeredInWindow], ['With Registration Lock', counts.withRegistrationLock],
    ['Unregistered', counts.unregistered], ['Notified', counts.notified], ['Errors', counts.failed],
    ['Re-registered since', counts.reregistered], ['Notifications / s', rate == null ? '—' : rate.toFixed(1)], ['State', state],
  ].map(([label, value]) => h('div', { class: 'stat' }, h('b', { 'data-stat': label }, value), h('span', {}, label)));
}

let pollTimer = null;

export function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

export async function incidentPage({ param: id, refresh }) {
  const base = `/incidents/${encodeURIComponent(id)}`;
  const [{ incident: i, impact, targets, targetsShown }, first] = await Promise.all([api('GET', base), api('GET', `${base}/progress`)]);
  const grid = h('div', { class: 'grid', id: 'progress' }, stats(impact, i.state, i.startedAt ? first.notifiedPerSecond : null));
  const bar = h('progress', { max: Math.max(1, impact.withAccount), value: impact.unregistered, 'aria-label': 'Accounts unregistered' });
  const live = h('p', { class: 'muted', 'aria-live': 'polite', id: 'progress-note' });

  const poll = async () => {
    pollTimer = null;
    try {
      const p = await api('GET', `${base}/progress`);
      grid.replaceChildren(...stats(p.counts, p.state, p.notifiedPerSecond));
      bar.max = Math.max(1, p.counts.withAccount);
      bar.value = p.counts.unregistered;
      live.textContent = `Updated ${time(Date.now())}`;
      if (p.state !== 'running') return refresh();
    } catch (error) {
      live.textContent = `Progress not available: ${error.message}; retrying`;
    }
    pollTimer = setTimeout(poll, 1000);
  };
  stopPolling();
  if (i.state === 'running') pollTimer = setTimeout(poll, 1000);

  const act = (label, path, kind) => actionButton(label, async () => {
    await api('POST', `${base}/${path}`);
    toast(`${label}: done`);
    await refresh();
  }, { kind, id: `incident-${path}` });
  const manage = can('manage_incidents');
  const mine = i.createdBy === `staff:${session.me.id}`;
  const actions = manage ? [
    i.state === 'draft' && act('Approve', 'approve', ''),
    i.state === 'draft' && mine && h('span', { class: 'muted small' }, 'Someone other than the creator must approve.'),
    i.state === 'approved' && act('Execute: unregister and notify', 'execute', 'danger'),
    i.state === 'completed' && act('Run again for the remaining targets', 'execute', 'secondary'),
    (i.state === 'draft' || i.state === 'approved') && act('Cancel', 'cancel', 'secondary'),
  ] : [];
  const reports = manage && h('p', { class: 'downloads' }, 'Report: ',
    h('a', { href: `/staff/api${base}/report?format=json`, download: `incident-${id}.json`, id: 'report-json' }, 'JSON'), ' · ',
    h('a', { href: `/staff/api${base}/report?format=csv`, download: `incident-${id}.csv`, id: 'report-csv' }, 'CSV'));
  const origin = i.provider ? `registrations through provider ${i.provider}` : 'a breach report';
  return [h('h2', {}, i.description),
    h('section', { class: 'card', 'aria-labelledby': 'incident-state' },
      h('p', {}, h('span', { class: stateClass[i.state] || 'pill', id: 'incident-state' }, i.state), ' ',
        h('span', { class: 'muted' }, `From ${origin} · window ${time(i.windowStart)} – ${time(i.windowEnd)}`)),
      h('p', { class: 'muted small' }, `Created by ${actorLabel(i.createdBy)} at ${time(i.createdAt)}`,
        i.approvedBy ? ` · approved by ${actorLabel(i.approvedBy)} at ${time(i.approvedAt)}` : '',
        i.startedAt ? ` · started ${time(i.startedAt)}` : '', i.completedAt ? ` · completed ${time(i.completedAt)}` : ''),
      grid, bar, live, h('div', { class: 'actions' }, actions), reports),
    h('section', { class: 'card', 'aria-labelledby': 'targets-title' },
      h('h3', { id: 'targets-title' }, `Affected numbers (${targetsShown} shown of ${impact.numbers})`),
      table('targets', ['Number', 'Account', 'In window', 'Lock', 'Language', 'Unregistered', 'Notified'], targets, (t) => [
        h('span', { class: 'mono' }, t.number), t.hasAccount ? 'yes' : 'no', t.registeredInWindow ? 'yes' : 'no',
        t.registrationLock ? 'yes' : 'no', t.language || '—', time(t.unregisteredAt),
        t.notifiedAt ? time(t.notifiedAt) : t.error ? h('span', { class: 'error' }, t.error) : '—']))];
}
