// Sign-in with a discoverable passkey, and enrollment from a single-use invite link (#enroll=TOKEN).
import { h, form, toast } from '../dom.js';
import { describeWebAuthnError, enroll, signIn } from '../webauthn.js';

async function ceremony(run) {
  try {
    return await run();
  } catch (error) {
    throw error instanceof DOMException ? describeWebAuthnError(error) : error;
  }
}

export function signInPage({ signedIn }) {
  return [h('h2', {}, 'Sign in'),
    h('section', { class: 'card narrow' },
      h('p', {}, 'Staff sign in with a passkey or a security key. There is no password to type, and nothing a look-alike site could reuse.'),
      form([], 'Sign in with a passkey', async () => {
        const result = await ceremony(signIn);
        toast(`Signed in as ${result.staff.name}`);
        await signedIn();
      }, { id: 'sign-in' }))];
}

export function enrollPage({ token, signedIn }) {
  return [h('h2', {}, 'Enroll your passkey'),
    h('section', { class: 'card narrow' },
      h('p', {}, 'This single-use link registers a passkey or security key for your staff account. ' +
        'You will sign in with it from now on.'),
      form([], 'Register a passkey', async () => {
        const result = await ceremony(() => enroll(token));
        history.replaceState(null, '', '/console/#/');
        toast(`Welcome, ${result.staff.name}`);
        await signedIn();
      }, { id: 'enroll' }))];
}
