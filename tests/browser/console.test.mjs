// The staff console in Debian's Chromium (playwright-core), WebAuthn through CDP virtual authenticators.
// run.sh starts latchkeyd (two outbox SMS providers, "phished" routed first, then "clean") and passes its port,
// configuration and data folder in LATCHKEY_BROWSER_PORT, LATCHKEY_BROWSER_CONFIG, LATCHKEY_BROWSER_DATA.
// The tests run in order and build on each other: one administrator, one messenger user, one responder, one
// incident. Screenshots of every page go to $LATCHKEY_BROWSER_ARTIFACTS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const binary = process.env.LATCHKEYD;
const port = Number(process.env.LATCHKEY_BROWSER_PORT);
const configPath = process.env.LATCHKEY_BROWSER_CONFIG;
const dataDir = process.env.LATCHKEY_BROWSER_DATA;
const artifacts = process.env.LATCHKEY_BROWSER_ARTIFACTS || join(process.cwd(), 'browser-artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const origin = `http://localhost:${port}`;
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const expectedCsp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

let profiles;
const browsers = [];
const problems = [];  // CSP violations, uncaught page errors and console errors, from every page
const state = {};     // what the tests hand to each other

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const sha256 = (data) => createHash('sha256').update(data).digest();

function outbox(name) {
  const path = join(dataDir, `${name}.jsonl`);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

// The public messenger API, as a client would call it.
async function call(method, path, body, { auth, headers = {} } = {}) {
  const all = { 'Content-Type': 'application/json', ...headers };
  if (auth) all.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  const response = await fetch(`http://127.0.0.1:${port}${path}`,
    { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed = text;
  try { parsed = text ? JSON.parse(text) : null; } catch {}
  return { status: response.status, body: parsed, headers: response.headers };
}

// Registers a messenger account for `number` (proof of work is off in run.sh's configuration); the code is read
// from whichever outbox the server routed it to.
async function registerUser(number) {
  const session = await call('POST', '/v1/verification/session', { number });
  assert.equal(session.status, 200, JSON.stringify(session.body));
  const sent = await call('POST', `/v1/verification/session/${session.body.id}/code`, { transport: 'sms', client: 'browser-test' });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const message = [...outbox('phished'), ...outbox('clean')].filter((m) => m.to === number).pop();
  assert.ok(message, `no SMS to ${number} in either outbox`);
  const code = message.body.match(/(\d{6})/)[1];
  const checked = await call('PUT', `/v1/verification/session/${session.body.id}/code`, { code });
  assert.equal(checked.status, 200, JSON.stringify(checked.body));
  const password = 'browser-test-password-0123456789';
  const registered = await call('POST', '/v1/registration',
    { sessionId: session.body.id, accountAttributes: { registrationId: 4242 }, skipDeviceTransfer: true },
    { auth: `${number}:${password}` });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  const uuid = registered.body.uuid;
  return { number, uuid, whoami: () => call('GET', '/v1/accounts/whoami', undefined, { auth: `${uuid}.1:${password}` }) };
}

// One staff member's browser: its own profile, its own virtual authenticator (a platform passkey with user
// verification), and every CSP violation or page error recorded in `problems`.
async function staffBrowser(name) {
  const context = await chromium.launchPersistentContext(join(profiles, name),
    { executablePath: chromiumPath, args: flags, headless: true, acceptDownloads: true });
  browsers.push(context);
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${name} console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
    automaticPresenceSimulation: true } });
  return { page, context, cdp, authenticatorId };
}

// A full-page screenshot without the toast over it (hidden by attribute: Playwright's `style` option would inject
// an inline style, which the console's CSP rightly blocks and reports).
async function shot(page, name) {
  await page.evaluate(() => { document.getElementById('toast').hidden = true; });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  await page.evaluate(() => { document.getElementById('toast').hidden = false; });
}

async function open(page, hash, heading) {
  const url = `${origin}/console/${hash}`;
  if (page.url() === url) await page.reload();  // a goto that changes nothing would not render the page again
  else await page.goto(url);
  await page.getByRole('heading', { level: 2, name: heading }).waitFor();
}

async function navLinks(page) {
  return page.locator('#nav a').allTextContents();
}

// A direct call to the staff API from inside a signed-in page (its cookie, its origin).
async function staffApi(page, method, path) {
  return page.evaluate(async ([m, p]) => {
    const r = await fetch(`/staff/api${p}`, { method: m });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, [method, path]);
}

const utcInput = (ms) => new Date(ms).toISOString().slice(0, 16);

before(() => {
  assert.ok(binary && port && configPath && dataDir, 'run through run.sh (LATCHKEYD and LATCHKEY_BROWSER_* must be set)');
  mkdirSync(artifacts, { recursive: true });
  profiles = mkdtempSync(join(tmpdir(), 'latchkey-profiles-'));
});

after(async () => {
  for (const context of browsers) await context.close().catch(() => {});
  rmSync(profiles, { recursive: true, force: true });
});

test('the first administrator enrolls from the link `latchkeyd staff invite` prints; the CSP header is sent', async () => {
  const printed = execFileSync(binary, ['staff', 'invite', '--name', 'Ada Admin', '--role', 'admin',
    '-c', configPath, '--data-dir', dataDir], { encoding: 'utf8' });
  const link = printed.match(/(http:\/\/localhost:\d+\/console\/#enroll=[A-Za-z0-9_-]+)/);
  assert.ok(link, `no enrollment link in: ${printed}`);
  state.admin = await staffBrowser('admin');
  const { page } = state.admin;
  const response = await page.goto(link[1]);
  assert.equal(response.headers()['content-security-policy'], expectedCsp);
  await page.getByRole('heading', { name: 'Enroll your passkey' }).waitFor();
  await shot(page, '01-enroll');
  await page.getByRole('button', { name: 'Register a passkey' }).click();
  await page.locator('#whoami', { hasText: 'Ada Admin · admin' }).waitFor();
  assert.ok(!page.url().includes('enroll='), 'the token leaves the address bar');
  assert.deepEqual(await navLinks(page), ['Account lookup', 'Alerts', 'Providers', 'Incidents', 'Audit log', 'Staff']);
  const { credentials } = await state.admin.cdp.send('WebAuthn.getCredentials', { authenticatorId: state.admin.authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].rpId, 'localhost');
  assert.ok(credentials[0].isResidentCredential, 'a discoverable credential');

  // The link is single use.
  const again = await call('POST', '/staff/api/enroll/options', { token: link[1].split('#enroll=')[1] }, { headers: { Origin: origin } });
  assert.ok(again.status >= 400, `a used invite answered ${again.status}`);
});

test('the session cookie is HttpOnly, Secure and SameSite=Strict; sign-out ends it and the passkey signs back in', async () => {
  const { page, context } = state.admin;
  const cookie = (await context.cookies(origin)).find((c) => c.name === 'lk_staff');
  assert.ok(cookie, 'lk_staff cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, 'Strict');

  await page.click('#sign-out');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
  assert.deepEqual(await navLinks(page), [], 'no navigation before signing in');
  assert.equal((await staffApi(page, 'GET', '/me')).status, 401);
  await shot(page, '02-sign-in');

  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.locator('#whoami', { hasText: 'Ada Admin · admin' }).waitFor();
  assert.equal((await staffApi(page, 'GET', '/me')).status, 200);
});

test('a lookup shows the number masked; unmasking asks for a reason; the audit log has both', async () => {
  const { page } = state.admin;
  const number = `+3361${String(Date.now()).slice(-7)}`;
  state.user = await registerUser(number);
  assert.equal((await state.user.whoami()).status, 200);

  await open(page, '#/lookup', 'Account lookup');
  await page.fill('#f-q', number);
  await page.fill('#f-case', 'CASE-77');
  await page.getByRole('button', { name: 'Look up' }).click();
  const masked = (await page.locator('#account-number').textContent()).trim();
  assert.notEqual(masked.replace(/\s/g, ''), number);
  assert.ok(!masked.includes(number.slice(4, 10)), `the middle digits are hidden: ${masked}`);
  await shot(page, '03-lookup-masked');

  // The reason is required by the form, then by the server.
  await page.getByRole('button', { name: 'Unmask' }).click();
  assert.equal(await page.locator('#account-number').textContent(), masked, 'no unmask without a reason');
  await page.fill('#f-reason', 'CASE-77: the owner called support');
  await page.getByRole('button', { name: 'Unmask' }).click();
  await page.locator('#account-number', { hasText: number }).waitFor();
  await shot(page, '04-lookup-unmasked');

  await open(page, '#/audit', 'Audit log');
  const audit = page.locator('#audit');
  await audit.waitFor();
  const rows = await audit.locator('tbody tr').allTextContents();
  const lookup = rows.find((r) => r.includes('account.lookup') && r.includes('CASE-77'));
  const unmask = rows.find((r) => r.includes('account.unmask') && r.includes('CASE-77: the owner called support'));
  assert.ok(lookup, `an account.lookup entry with the case in:\n${rows.join('\n')}`);
  assert.ok(unmask, 'an account.unmask entry with the reason');
  assert.ok(rows.indexOf(unmask) < rows.indexOf(lookup), 'newest first');
  await shot(page, '05-audit');
});

test('an invited responder enrolls in their own browser and sees only the pages their role allows', async () => {
  const { page } = state.admin;
  await open(page, '#/staff', 'Staff');
  await page.fill('#f-name', 'Rita Responder');
  await page.selectOption('#f-role', 'responder');
  await page.getByRole('button', { name: 'Create an enrollment link' }).click();
  const link = (await page.locator('#invite-link').textContent()).trim();
  assert.match(link, new RegExp(`^${origin}/console/#enroll=[A-Za-z0-9_-]+$`));
  await shot(page, '06-staff-invite');

  state.responder = await staffBrowser('responder');
  const responder = state.responder.page;
  await responder.goto(link);
  await responder.getByRole('button', { name: 'Register a passkey' }).click();
  await responder.locator('#whoami', { hasText: 'Rita Responder · responder' }).waitFor();
  assert.deepEqual(await navLinks(responder), ['Account lookup', 'Alerts', 'Providers', 'Incidents']);
  assert.equal((await staffApi(responder, 'GET', '/staff')).status, 403, 'a responder cannot list staff');
  assert.equal((await staffApi(responder, 'GET', '/audit')).status, 403, 'nor read the audit log');
  await responder.goto(`${origin}/console/#/staff`);
  await responder.getByRole('heading', { level: 2, name: 'Account lookup' }).waitFor();

  await open(page, '#/staff', 'Staff');
  await page.locator('#staff tbody tr', { hasText: 'Rita Responder' }).waitFor();
  await shot(page, '07-staff');
});

test('a provider marked compromised stops routing and lists the registrations it verified since the breach', async () => {
  const { page } = state.admin;
  await open(page, '#/providers', 'SMS providers');
  await shot(page, '08-providers');
  await page.locator('#providers tr', { hasText: 'phished' }).getByText('Mark compromised…').click();
  await page.fill('#f-since-phished', utcInput(Date.now() - 3600_000));
  await page.fill('#f-note-phished', 'phishing of the provider console, ticket 9');
  await page.getByRole('button', { name: 'Mark phished compromised' }).click();
  await page.locator('#providers tr', { hasText: 'phished' }).getByText('compromised', { exact: true }).waitFor();

  await page.click('#suspects-phished');
  const suspects = page.locator('#suspects tbody tr');
  await suspects.first().waitFor();
  assert.ok((await suspects.allTextContents()).some((r) => r.includes(state.user.uuid)), 'the user registered through phished');
  await shot(page, '09-providers-compromised');

  const before = outbox('phished').length;
  const other = `+3362${String(Date.now()).slice(-7)}`;
  const session = await call('POST', '/v1/verification/session', { number: other });
  await call('POST', `/v1/verification/session/${session.body.id}/code`, { transport: 'sms', client: 'browser-test' });
  assert.equal(outbox('phished').length, before, 'nothing more goes through the compromised provider');
  assert.ok(outbox('clean').some((m) => m.to === other), 'codes now go through the clean provider');
});

test('an incident from an uploaded CSV breach report: its creator cannot approve, a second person approves and executes', async () => {
  const { page } = state.admin;
  await open(page, '#/incidents', 'Incidents');
  await page.fill('#f-description', 'Phished SMS provider: numbers in the breach report');
  await page.fill('#f-start', utcInput(Date.now() - 7200_000));
  await page.fill('#f-end', utcInput(Date.now() + 3600_000));
  await page.setInputFiles('#f-file', { name: 'breach.csv', mimeType: 'text/csv',
    buffer: Buffer.from(`number,seen_at\n${state.user.number},2026-11-20T10:00:00Z\n+33612000000,2026-11-20T10:05:00Z\n`) });
  await page.waitForFunction(() => document.getElementById('f-content').value.includes('seen_at'));
  assert.equal(await page.inputValue('#f-format'), 'csv');
  await shot(page, '10-incident-new');
  await page.getByRole('button', { name: 'Create incident (draft)' }).click();
  await page.locator('#incident-state', { hasText: 'draft' }).waitFor();
  assert.equal(await page.locator('[data-stat="Numbers in report"]').textContent(), '2');
  assert.equal(await page.locator('[data-stat="With an account"]').textContent(), '1');
  await shot(page, '11-incident-draft');
  state.incidentUrl = page.url();
  state.incidentId = decodeURIComponent(state.incidentUrl.split('#/incidents/')[1]);

  // Two-person rule: the creator's approval is refused, and the page says why.
  await page.click('#incident-approve');
  await page.getByText('two-person rule').waitFor();
  assert.equal(await page.locator('#incident-state').textContent(), 'draft');
  assert.equal((await staffApi(page, 'POST', `/incidents/${state.incidentId}/execute`)).status, 409, 'a draft cannot run');

  const responder = state.responder.page;
  await responder.goto(state.incidentUrl);
  await responder.locator('#incident-state', { hasText: 'draft' }).waitFor();
  await responder.click('#incident-approve');
  await responder.locator('#incident-state', { hasText: 'approved' }).waitFor();
  await responder.click('#incident-execute');
  await responder.locator('#incident-state', { hasText: 'completed' }).waitFor({ timeout: 30_000 });
  assert.equal(await responder.locator('[data-stat="Unregistered"]').textContent(), '1');
  assert.equal(await responder.locator('[data-stat="Notified"]').textContent(), '1');
  assert.equal(await responder.locator('[data-stat="Errors"]').textContent(), '0');
  await shot(responder, '12-incident-completed');

  await open(page, '#/incidents', 'Incidents');
  await page.locator('#incidents tbody tr', { hasText: 'completed' }).waitFor();
  await shot(page, '13-incidents');
});

test('after execution the device credentials fail and the notice went out once, through the clean provider', async () => {
  assert.equal((await state.user.whoami()).status, 401);
  const notices = outbox('clean').filter((m) => m.to === state.user.number);
  assert.equal(notices.length, 1, JSON.stringify(notices));
  assert.match(notices[0].body, /help\.example\.org\/breach/);
  assert.ok(!outbox('phished').some((m) => m.to === state.user.number && m.body.includes('help.example.org')),
    'nothing through the compromised provider');
});

test('the incident report downloads as JSON and CSV', async () => {
  const { page } = state.admin;
  await page.goto(state.incidentUrl);
  await page.locator('#incident-state', { hasText: 'completed' }).waitFor();
  const [jsonDownload] = await Promise.all([page.waitForEvent('download'), page.click('#report-json')]);
  const json = JSON.parse(readFileSync(await jsonDownload.path(), 'utf8'));
  assert.equal(json.incident, state.incidentId);
  assert.equal(json.targets.length, 2);
  const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.click('#report-csv')]);
  assert.equal(csvDownload.suggestedFilename(), `incident-${state.incidentId}.csv`);
  const csv = readFileSync(await csvDownload.path(), 'utf8').trim().split('\n');
  assert.equal(csv.length, 3, csv.join('\n'));
});

test('an incident from the compromised provider\'s suspects can be cancelled; the provider is restored', async () => {
  const { page } = state.admin;
  await open(page, '#/providers', 'SMS providers');
  await page.click('#suspects-phished');
  await page.fill('#f-suspects-description', 'Registrations verified through phished');
  await page.getByRole('button', { name: 'Create an incident from these registrations' }).click();
  await page.locator('#incident-state', { hasText: 'draft' }).waitFor();
  assert.match(await page.locator('h2').textContent(), /Registrations verified through phished/);
  assert.equal(await page.locator('[data-stat="Numbers in report"]').textContent(), '1');
  await page.click('#incident-cancel');
  await page.locator('#incident-state', { hasText: 'cancelled' }).waitFor();
  assert.equal(await page.locator('#incident-approve').count(), 0, 'nothing left to approve');

  await open(page, '#/providers', 'SMS providers');
  await page.click('#restore-phished');
  await page.locator('#providers tr', { hasText: 'phished' }).getByText('in use').waitFor();
});

test('a disabled staff member is signed out at their next request', async () => {
  const { page } = state.admin;
  await open(page, '#/staff', 'Staff');
  await page.locator('#staff tbody tr', { hasText: 'Rita Responder' }).getByRole('button', { name: 'Disable' }).click();
  await page.locator('#staff tbody tr', { hasText: 'Rita Responder' }).getByText('disabled').waitFor();
  const responder = state.responder.page;
  await responder.goto(`${origin}/console/#/alerts`);
  await responder.reload();
  await responder.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
  await responder.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await responder.locator('#sign-in .error').waitFor();
  assert.equal(await responder.locator('#sign-out').count(), 0, 'a disabled member cannot sign back in');
});

test('the alerts page lists the rules', async () => {
  const { page } = state.admin;
  await open(page, '#/alerts', 'Alerts');
  assert.ok(await page.locator('#alert-rules tbody tr').count() >= 1);
  await shot(page, '14-alerts');
});

test('no page broke the Content-Security-Policy or threw', () => {
  const unexpected = problems.filter((p) => !/status of 40[139]/.test(p));  // refused API calls are logged by Chromium
  assert.deepEqual(unexpected, []);
  assert.ok(!problems.some((p) => /Content Security Policy/i.test(p)));
});

// Kept last: the forged assertions below move the credential's sign count on the server.
test('a passkey made for localhost does not work from http://127.0.0.1 (browser refusal and server refusal)', async () => {
  const { page, cdp, authenticatorId } = state.admin;
  const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const id = Buffer.from(credential.credentialId, 'base64').toString('base64url');

  // In the browser: the page on 127.0.0.1 may not use rp id "localhost", nor its own address (an IP address is
  // not a valid rp id), so the console's sign-in fails before any authenticator is asked.
  await page.goto(`http://127.0.0.1:${port}/console/`);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.locator('#sign-in .error').waitFor();
  assert.match(await page.locator('#sign-in .error').textContent(), /relying party/, 'refused by the browser (SecurityError)');
  assert.equal(await page.locator('#sign-out').count(), 0);
  await shot(page, '15-wrong-origin');
  const outcomes = await page.evaluate(async (credentialId) => {
    const raw = Uint8Array.from(atob(credentialId.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const attempt = async (rpId) => {
      try {
        await navigator.credentials.get({ publicKey: { challenge: crypto.getRandomValues(new Uint8Array(32)), rpId,
          allowCredentials: [{ type: 'public-key', id: raw }], userVerification: 'required', timeout: 3000 } });
        return 'signed';
      } catch (error) {
        return error.name;
      }
    };
    return [await attempt('localhost'), await attempt(undefined)];
  }, id);
  assert.deepEqual(outcomes, ['SecurityError', 'SecurityError']);

  // At the server: an assertion signed with the real key still fails when its clientDataJSON names 127.0.0.1,
  // or its authenticator data hashes another rp id; the same construction with the right values passes.
  const key = createPrivateKey({ key: Buffer.from(credential.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
  let counter = credential.signCount + 100;
  const assertion = async ({ clientOrigin = origin, rpId = 'localhost' } = {}) => {
    const options = await call('POST', '/staff/api/sign-in/options', undefined, { headers: { Origin: origin } });
    assert.equal(options.status, 200, JSON.stringify(options.body));
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.body.challenge,
      origin: clientOrigin, crossOrigin: false }));
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter++);
    const authenticatorData = Buffer.concat([sha256(rpId), Buffer.from([0x05]), count]);
    const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientData)]), key);
    return call('POST', '/staff/api/sign-in', { credential: { id, rawId: id, type: 'public-key', response: {
      clientDataJSON: b64url(clientData), authenticatorData: b64url(authenticatorData), signature: b64url(signature),
      userHandle: credential.userHandle ? Buffer.from(credential.userHandle, 'base64').toString('base64url') : null } } },
    { headers: { Origin: origin } });
  };
  const wrongOrigin = await assertion({ clientOrigin: `http://127.0.0.1:${port}` });
  assert.equal(wrongOrigin.status, 401, JSON.stringify(wrongOrigin.body));
  const wrongRp = await assertion({ rpId: '127.0.0.1' });
  assert.equal(wrongRp.status, 401, JSON.stringify(wrongRp.body));
  const control = await assertion();
  assert.equal(control.status, 200, `the control assertion must pass: ${JSON.stringify(control.body)}`);
  const cookie = (control.headers.get('set-cookie') || '').match(/lk_staff=[^;]+/);
  assert.ok(cookie, 'a session cookie');

  // With that session, a change requested from another Origin (or none) is refused; from the console's, it passes.
  const invite = (headers) => call('POST', '/staff/api/staff/invites', { name: 'Mallory', role: 'admin' },
    { headers: { Cookie: cookie[0], ...headers } });
  assert.equal((await invite({ Origin: `http://127.0.0.1:${port}` })).status, 403);
  assert.equal((await invite({})).status, 403);
  assert.equal((await invite({ Origin: origin })).status, 201);
});
