// Calls to the staff API (/staff/api/...). The session is the HttpOnly `lk_staff` cookie, sent on these
// same-origin requests; failures arrive as {"error", "message"} and are thrown as ApiError.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

export async function api(method, path, body) {
  const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/staff/api${path}`, options);
  } catch {
    throw new ApiError(0, { error: 'network', message: 'The server could not be reached' });
  }
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === 'object' ? data : null);
  return data;
}

// The signed-in member ({id, name, role, permissions}) or null; pages ask `can(permission)`.
export const session = { me: null };

export function can(permission) {
  return Boolean(session.me && session.me.permissions.includes(permission));
}

// Audit actors are "staff:<id>"; admins (who may list staff) see names, everyone sees "you" for themselves.
const names = new Map();
let namesLoadedAt = 0;

export async function loadStaffNames({ force = false } = {}) {
  if (!can('manage_staff') || (!force && Date.now() - namesLoadedAt < 60_000)) return;
  const { staff } = await api('GET', '/staff');
  for (const m of staff) names.set(`staff:${m.id}`, m.name);
  namesLoadedAt = Date.now();
}

export function actorLabel(actor) {
  if (!actor) return '—';
  if (session.me && actor === `staff:${session.me.id}`) return `${session.me.name} (you)`;
  return names.get(actor) || actor;
}
