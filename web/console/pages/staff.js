// Staff members: invite with a role (the single-use link is shown to hand over), disable.
import { actorLabel, api, loadStaffNames, session } from '../api.js';
import { actionButton, form, field, h, select, table, time, toast } from '../dom.js';

const roles = [['viewer', 'viewer: alerts, providers, incidents (read only)'],
  ['support', 'support: + account lookups and unmasking'],
  ['responder', 'responder: + providers and incidents'],
  ['admin', 'admin: + staff and the audit log']];

export async function staffPage({ refresh }) {
  const { staff } = await api('GET', '/staff');
  await loadStaffNames({ force: true });
  const link = h('div', { 'aria-live': 'polite' });
  return [h('h2', {}, 'Staff'),
    h('section', { class: 'card' },
      table('staff', ['Name', 'Role', 'Since', 'Invited by', 'State'], staff, (m) => [
        m.name, m.role, time(m.createdAt), actorLabel(m.createdBy),
        m.disabled ? h('span', { class: 'pill' }, 'disabled') : m.id === session.me.id ? h('span', { class: 'pill ok' }, 'you') :
          actionButton('Disable', async () => {
            await api('POST', `/staff/${encodeURIComponent(m.id)}/disable`);
            toast(`${m.name} disabled; their sessions are ended`);
            await refresh();
          }, { kind: 'danger' })])),
    h('section', { class: 'card', 'aria-labelledby': 'invite-title' }, h('h3', { id: 'invite-title' }, 'Invite a member'),
      form([...field('Name', 'name', { required: true, maxlength: 256, autocomplete: 'off' }), ...select('Role', 'role', roles)],
        'Create an enrollment link', async (data) => {
          const invite = await api('POST', '/staff/invites', { name: data.get('name'), role: data.get('role') });
          link.replaceChildren(
            h('p', {}, `Single use, valid until ${time(invite.expiresAt)}. Hand it to ${data.get('name')} in person or over a channel you trust:`),
            h('div', { class: 'link-box mono', id: 'invite-link' }, invite.url));
        }), link)];
}
