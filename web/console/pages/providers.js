// SMS providers: mark one compromised from the time its breach began (routing stops, open verification
// sessions end), list the registrations it verified since, open an incident from them, or restore it.
import { actorLabel, api, can } from '../api.js';
import { actionButton, field, form, h, table, time, toast, utcMillis } from '../dom.js';

function suspectsCard(provider, suspects, navigate) {
  return h('section', { class: 'card', id: 'suspects-card', 'aria-labelledby': 'suspects-title' },
    h('h3', { id: 'suspects-title' }, `Registrations verified through ${provider} since the breach (${suspects.length})`),
    suspects.length === 0 ? h('p', { class: 'muted' }, 'None.') :
      table('suspects', ['Number', 'Account id', 'Registered', 'Kind'], suspects, (s) => [
        h('span', { class: 'mono' }, s.number), h('span', { class: 'mono' }, s.uuid), time(s.at),
        s.replacedExisting ? h('span', { class: 'pill bad' }, 're-registration of an existing account') : 'new account']),
    can('manage_incidents') && suspects.length > 0 &&
      form(field('Incident description', 'suspects-description', { required: true, value: `${provider} compromised` }),
        'Create an incident from these registrations', async (data) => {
          const created = await api('POST', '/incidents', { description: data.get('suspects-description'), fromProvider: provider });
          navigate(`#/incidents/${created.incident.id}`);
        }));
}

function compromiseForm(p, refresh) {
  const key = p.name.replace(/[^A-Za-z0-9_-]/g, '_');
  return form([...field('Breach began (UTC)', `since-${key}`, { type: 'datetime-local', required: true, step: 60 }),
    ...field('Note', `note-${key}`, { maxlength: 2000, placeholder: 'ticket, source of the report' })],
  `Mark ${p.name} compromised`, async (data) => {
    const since = utcMillis(data.get(`since-${key}`));
    if (Number.isNaN(since)) throw new Error('Breach start: expected a date and time');
    const result = await api('POST', `/providers/${encodeURIComponent(p.name)}/compromise`,
      { breachStartedAt: since, note: data.get(`note-${key}`) || '' });
    toast(`${p.name}: ${result.invalidatedSessions} open sessions ended, ${result.suspects} suspect registrations`);
    await refresh();
  }, { kind: 'danger', id: `compromise-${key}` });
}

export async function providersPage({ refresh, navigate }) {
  const { providers } = await api('GET', '/providers');
  const details = h('div', { 'aria-live': 'polite' });
  const showSuspects = async (name) => {
    const { suspects } = await api('GET', `/providers/${encodeURIComponent(name)}/suspects`);
    details.replaceChildren(suspectsCard(name, suspects, navigate));
  };
  const status = (p) => p.compromised
    ? [h('span', { class: 'pill bad' }, 'compromised'), h('div', { class: 'small' }, `breach since ${time(p.breachStartedAt)}`),
      h('div', { class: 'small muted' }, `marked by ${actorLabel(p.markedBy)} at ${time(p.markedAt)}${p.note ? ` · ${p.note}` : ''}`)]
    : h('span', { class: p.enabled ? 'pill ok' : 'pill' }, p.enabled ? 'in use' : 'disabled');
  const actions = (p) => p.compromised
    ? [actionButton('Suspects', () => showSuspects(p.name), { id: `suspects-${p.name}` }),
      can('manage_providers') && actionButton('Restore', async () => {
        await api('POST', `/providers/${encodeURIComponent(p.name)}/restore`);
        toast(`${p.name} restored: it routes messages again`);
        await refresh();
      }, { id: `restore-${p.name}` })]
    : can('manage_providers') && h('details', {}, h('summary', {}, 'Mark compromised…'), compromiseForm(p, refresh));
  return [h('h2', {}, 'SMS providers'),
    h('section', { class: 'card' }, table('providers', ['Provider', 'State', ''], providers, (p) => [h('b', {}, p.name), status(p), actions(p)])),
    details];
}
