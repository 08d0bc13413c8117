// Anomaly alerts raised now, and the rules that raise them.
import { api } from '../api.js';
import { h, table, time } from '../dom.js';

const minutes = (ms) => `${Math.round(ms / 60000)} min`;

export async function alertsPage() {
  const { alerts, rules } = await api('GET', '/alerts');
  return [h('h2', {}, 'Alerts'),
    h('section', { class: 'card', 'aria-labelledby': 'raised' }, h('h3', { id: 'raised' }, `Raised now (${alerts.length})`),
      alerts.length === 0 ? h('p', { class: 'muted', id: 'no-alerts' }, 'No alert is raised.') :
        table('alerts', ['Rule', 'Subject', 'What happened', 'Value / threshold', 'First seen', 'Last seen'], alerts, (a) => [
          h('span', { class: 'pill bad' }, a.rule), a.subject || '—', a.message,
          `${Number(a.value.toFixed(3))} / ${a.threshold}`, time(a.firstSeen), time(a.lastSeen)])),
    h('section', { class: 'card', 'aria-labelledby': 'rules' }, h('h3', { id: 'rules' }, 'Rules'),
      table('alert-rules', ['Rule', 'Threshold', 'Window'], rules, (r) => [r.rule, r.threshold, minutes(r.window)]))];
}
