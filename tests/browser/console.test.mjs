// The staff console in Debian's Chromium (playwright-core), with WebAuthn through CDP virtual authenticators:
// enrollment from the CLI's link, sign-out and sign-in, masked lookup and unmask with a reason, the audit log,
// inviting a second staff member who enrolls with a second authenticator, marking a provider compromised,
// creating an incident from a CSV breach report, the two-person rule, execution watched to completion, and a
// wrong-origin refusal. Screenshots of the main pages go to $LATCHKEY_BROWSER_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const binary = process.env.LATCHKEYD;
const artifacts = process.env.LATCHKEY_BROWSER_ARTIFACTS || join(process.cwd(), 'browser-artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const flags = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let dir, port, origin, server, configPath;
const contexts = [];
const cspViolations = [];

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readJsonl(path) {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function cli(...args) {
  return execFileSync(binary, [...args, '--config', configPath, '--data-dir', join(dir, 'data')], { encoding: 'utf8' });
}

// A messenger user registering over the public API (proof of work is off in this server's configuration).
async function registerUser(number) {
  const call = async (method, path, body, auth) => {
    const headers = { 'Content-Type': 'application/json' };
    if (auth) headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body: body && JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  const session = await call('POST', '/v1/verification/session', { number });
  assert.equal(session.status, 200, JSON.stringify(session.body));
  const sent = await call('POST', `/v1/verification/session/${session.body.id}/code`, { transport: 'sms', client: 'browser-test' });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const line = readJsonl(join(dir, 'data', 'outbox.jsonl')).filter((l) => l.to === number).pop();
  const code = line.body.match(/(\d{6})/)[1];
  const checked = await call('PUT', `/v1/verification/session/${session.body.id}/code`, { code });
  assert.equal(checked.status, 200, JSON.stringify(checked.body));
  const password = 'browser-test-password-0123456789';
  const registered = await call('POST', '/v1/registration',
    { sessionId: session.body.id, accountAttributes: { registrationId: 4242 }, skipDeviceTransfer: true }, `${number}:${password}`);
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  return { uuid: registered.body.uuid, password, whoami: () => call('GET', '/v1/accounts/whoami', null, `${registered.body.uuid}.1:${password}`) };
}

// A staff member's browser: its own profile and its own virtual authenticator.
async function staffBrowser(name) {
  const profile = join(dir, `profile-${name}`);
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: flags, headless: true });
  contexts.push(context);
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
    automaticPresenceSimulation: true } });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

before(async () => {
  assert.ok(binary, 'set LATCHKEYD to the latchkeyd binary');
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'latchkey-browser-'));
  port = await freePort();
  origin = `http://localhost:${port}`;
  configPath = join(dir, 'latchkey.toml');
  writeFileSync(configPath, `
[server]
listen = "127.0.0.1:${port}"
[storage]
sqlite_path = "latchkey.db"
[verification]
proof_of_work_bits = 0
[accounts]
takeover_delay = "0s"
[staff]
rp_id = "localhost"
origins = ["${origin}"]
[incidents]
support_url = "https://help.example.org/breach"
[[sms.providers]]
name = "phished"
kind = "outbox"
path = "outbox.jsonl"
[[sms.providers]]
name = "clean"
kind = "outbox"
path = "clean.jsonl"
[sms.routing]
default = ["phished", "clean"]
`);
  server = spawn(binary, ['serve', '--config', configPath, '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log += d; });
  for (let i = 0; ; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break; } catch {}
    assert.ok(i < 100, `latchkeyd did not start: ${log}`);
    await sleep(100);
  }
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  if (server) server.kill('SIGTERM');
  await sleep(300);
  rmSync(dir, { recursive: true, force: true });
});

test('the staff console, from enrollment to an executed incident', { timeout: 150_000 }, async () => {
  // The first administrator's link comes from the server host.
  const printed = cli('staff', 'invite', '--name', 'Ada Admin', '--role', 'admin');
  const link = printed.match(/(http:\/\/localhost:\d+\/console\/#enroll=[A-Za-z0-9_-]+)/)[1];
  const admin = await staffBrowser('admin');
  const response = await admin.goto(link);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  await admin.getByRole('button', { name: 'Register a passkey' }).click();
  await admin.getByText('Ada Admin · admin').waitFor();
  await shot(admin, '01-enrolled');

  // Sign out, then back in with the same passkey.
  await admin.click('#sign-out');
  await admin.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
  await shot(admin, '02-sign-in');
  await admin.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await admin.getByText('Ada Admin · admin').waitFor();

  // A messenger user, then a masked lookup and an unmask with a reason.
  const number = `+3361${String(Date.now()).slice(-7)}`;
  const user = await registerUser(number);
  await admin.goto(`${origin}/console/#/lookup`);
  await admin.fill('#f-q', number);
  await admin.fill('#f-case', 'CASE-77');
  await admin.getByRole('button', { name: 'Look up' }).click();
  const masked = await admin.locator('#account-number').textContent();
  assert.match(masked, /•/);
  assert.ok(!masked.replace(/\s/g, '').includes(number.slice(4, 9)), masked);
  await shot(admin, '03-lookup-masked');
  await admin.fill('#f-reason', 'CASE-77: the owner called support');
  await admin.getByRole('button', { name: 'Unmask' }).click();
  await admin.locator('#account-number', { hasText: number }).waitFor();

  await admin.goto(`${origin}/console/#/audit`);
  await admin.locator('#audit', { hasText: 'account.unmask' }).waitFor();
  assert.match(await admin.locator('#audit').textContent(), /account\.lookup/);
  assert.match(await admin.locator('#audit').textContent(), /CASE-77: the owner called support/);
  await shot(admin, '04-audit');

  // A second staff member, invited from the console, enrolls with their own authenticator.
  await admin.goto(`${origin}/console/#/staff`);
  await admin.fill('#f-name', 'Rita Responder');
  await admin.selectOption('#f-role', 'responder');
  await admin.getByRole('button', { name: 'Create enrollment link' }).click();
  const responderLink = (await admin.locator('#invite-link').textContent()).trim();
  await shot(admin, '05-staff');
  const responder = await staffBrowser('responder');
  await responder.goto(responderLink);
  await responder.getByRole('button', { name: 'Register a passkey' }).click();
  await responder.getByText('Rita Responder · responder').waitFor();

  // The phished provider is marked compromised.
  await admin.goto(`${origin}/console/#/providers`);
  await admin.fill('#f-since-phished', new Date(Date.now() - 3600_000).toISOString().slice(0, 16));
  await admin.fill('#f-note-phished', 'console phished, ticket 9');
  await admin.locator('form', { has: admin.locator('#f-since-phished') }).getByRole('button', { name: 'Mark compromised' }).click();
  await admin.locator('#providers', { hasText: 'compromised since' }).waitFor();
  await shot(admin, '06-providers');

  // An incident from the provider's breach report.
  await admin.goto(`${origin}/console/#/incidents`);
  await admin.fill('#f-description', 'Phished SMS provider');
  await admin.fill('#f-start', new Date(Date.now() - 7200_000).toISOString().slice(0, 16));
  await admin.fill('#f-end', new Date(Date.now() + 3600_000).toISOString().slice(0, 16));
  await admin.fill('#f-content', `number,seen\n${number},yes\n+33612000000,maybe\n`);
  await admin.getByRole('button', { name: 'Create incident' }).click();
  await admin.locator('#incident-state', { hasText: 'draft' }).waitFor();
  assert.equal(await admin.locator('[data-stat="With an account"]').textContent(), '1');
  await shot(admin, '07-incident-draft');
  const incidentUrl = admin.url();

  // The creator cannot approve their own incident.
  await admin.click('#incident-approve');
  await admin.getByText('two-person rule').waitFor();

  // The second person approves and executes, and watches it complete.
  await responder.goto(incidentUrl);
  await responder.click('#incident-approve');
  await responder.locator('#incident-state', { hasText: 'approved' }).waitFor();
  await responder.click('#incident-execute');
  await responder.locator('#incident-state', { hasText: 'completed' }).waitFor({ timeout: 20_000 });
  assert.equal(await responder.locator('[data-stat="Unregistered"]').textContent(), '1');
  assert.equal(await responder.locator('[data-stat="Notified"]').textContent(), '1');
  await shot(responder, '08-incident-completed');

  // The user's devices are gone, and they were told through the other provider.
  assert.equal((await user.whoami()).status, 401);
  const notes = readJsonl(join(dir, 'data', 'clean.jsonl')).filter((l) => l.to === number);
  assert.equal(notes.length, 1);
  assert.match(notes[0].body, /help\.example\.org\/breach/);

  await admin.goto(`${origin}/console/#/alerts`);
  await admin.getByRole('heading', { name: 'Alerts' }).waitFor();
  await shot(admin, '09-alerts');
  assert.deepEqual(cspViolations, []);
});

test('a passkey made for localhost does not sign in on another origin', { timeout: 60_000 }, async () => {
  const page = await staffBrowser('elsewhere');
  await page.goto(`http://127.0.0.1:${port}/console/`);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  // The browser refuses the rp id for this origin, and the server would refuse the origin anyway.
  await page.locator('.error').waitFor();
  assert.ok((await page.locator('.error').textContent()).length > 0);
  assert.equal(await page.locator('#sign-out').count(), 0);
});
