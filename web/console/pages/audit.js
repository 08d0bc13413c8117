// The hash-chained audit log, newest first, fifty entries a page.
import { actorLabel, api } from '../api.js';
import { h, table, time } from '../dom.js';

const pageSize = 50;

// An entry's details as "key: value" lines (values that are objects stay JSON).
function details(object) {
  const entries = Object.entries(object || {});
  if (entries.length === 0) return '';
  return h('dl', { class: 'details' }, entries.map(([key, value]) => [h('dt', {}, key),
    h('dd', { class: 'mono' }, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value))]));
}

export async function auditPage({ param }) {
  const before = Number(param) || 0;
  const { entries } = await api('GET', `/audit?limit=${pageSize}${before ? `&before=${before}` : ''}`);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Audit pages' },
    before ? h('a', { href: '#/audit' }, 'Newest') : null,
    entries.length === pageSize ? h('a', { href: `#/audit/${entries[entries.length - 1].seq}`, id: 'audit-older' }, 'Older entries') : null);
  return [h('h2', {}, 'Audit log'),
    h('section', { class: 'card' },
      entries.length === 0 ? h('p', { class: 'muted' }, 'No entry.') :
        table('audit', ['#', 'Time', 'Who', 'Action', 'Target', 'Details'], entries, (e) => [
          e.seq, h('span', { class: 'nowrap' }, time(e.at)), actorLabel(e.actor), h('span', { class: 'pill' }, e.action),
          h('span', { class: 'mono small' }, e.target), details(e.details)]),
      pager)];
}
