// Account lookup: numbers are masked; showing one in full asks for a reason, and both go to the audit log.
import { api, can } from '../api.js';
import { errorBox, field, form, h, time, toast } from '../dom.js';

function accountCard(account) {
  const number = h('td', { class: 'mono', id: 'account-number' }, account.number);
  return h('section', { class: 'card', 'aria-labelledby': 'account-title' },
    h('h3', { id: 'account-title' }, 'Account'),
    h('table', { class: 'facts' }, h('tbody', {},
      h('tr', {}, h('th', { scope: 'row' }, 'Number'), number),
      h('tr', {}, h('th', { scope: 'row' }, 'Account id'), h('td', { class: 'mono' }, account.uuid)),
      h('tr', {}, h('th', { scope: 'row' }, 'Created'), h('td', {}, time(account.createdAt))),
      h('tr', {}, h('th', { scope: 'row' }, 'Registration Lock'), h('td', {}, account.registrationLock ? 'on' : 'off')),
      h('tr', {}, h('th', { scope: 'row' }, 'Devices'), h('td', {}, account.devices.length === 0 ? 'none' :
        account.devices.map((d) => h('div', {}, `device ${d.id} · linked ${time(d.created)} · last seen ${time(d.lastSeen)}`)))))),
    can('unmask_numbers') && h('div', { class: 'unmask' },
      form(field('Reason for showing the full number', 'reason',
        { required: true, minlength: 3, maxlength: 2000, hint: 'Recorded in the audit log with your name.' }),
      'Unmask', async (data, el) => {
        const full = await api('POST', `/accounts/${encodeURIComponent(account.uuid)}/unmask`, { reason: data.get('reason') });
        number.textContent = full.number;
        el.remove();
        toast('Unmasked; the reason is in the audit log');
      }, { kind: 'secondary' })));
}

export async function lookupPage() {
  const result = h('div', { id: 'lookup-result', 'aria-live': 'polite' });
  return [h('h2', {}, 'Account lookup'),
    h('section', { class: 'card' },
      form([...field('Phone number or account id', 'q', { required: true, placeholder: '+33612345678', autocomplete: 'off' }),
            ...field('Support case', 'case', { placeholder: 'CASE-1234', maxlength: 128,
              hint: 'Lookups without a case reference raise an alert when they pile up.' })],
      'Look up', async (data) => {
        const query = new URLSearchParams({ q: data.get('q').trim(), case: data.get('case').trim() });
        result.replaceChildren();
        try {
          result.replaceChildren(accountCard(await api('GET', `/accounts?${query}`)));
        } catch (error) {
          result.replaceChildren(errorBox(error));
        }
      }, { id: 'lookup' })),
    result];
}
