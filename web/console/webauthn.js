// WebAuthn ceremonies against the staff API. Binary fields travel as base64url text both ways; credentials
// are posted in the shape PublicKeyCredential.toJSON() gives.
import { api } from './api.js';

export function toBase64url(buffer) {
  let text = '';
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
}

const descriptors = (list) => (list || []).map((c) => ({ ...c, id: fromBase64url(c.id) }));

// Registers a new passkey with the single-use enrollment token; answers {staff}.
export async function enroll(token) {
  const options = await api('POST', '/enroll/options', { token });
  const credential = await navigator.credentials.create({
    publicKey: {
      ...options,
      challenge: fromBase64url(options.challenge),
      user: { ...options.user, id: fromBase64url(options.user.id) },
      excludeCredentials: descriptors(options.excludeCredentials),
    },
  });
  return api('POST', '/enroll', {
    token,
    credential: {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(credential.response.clientDataJSON),
        attestationObject: toBase64url(credential.response.attestationObject),
      },
    },
  });
}

// Signs in with a discoverable credential (no user name is asked); answers {staff}.
export async function signIn() {
  const options = await api('POST', '/sign-in/options');
  const credential = await navigator.credentials.get({
    publicKey: {
      challenge: fromBase64url(options.challenge),
      rpId: options.rpId,
      timeout: options.timeout,
      userVerification: options.userVerification || 'required',
      allowCredentials: descriptors(options.allowCredentials),
    },
  });
  const response = credential.response;
  return api('POST', '/sign-in', {
    credential: {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
    },
  });
}

// Browser refusals (DOMException) read as sentences.
export function describeWebAuthnError(error) {
  if (error.name === 'NotAllowedError') return new Error('The passkey request was cancelled, timed out, or no passkey for this site was found.');
  if (error.name === 'SecurityError') return new Error('This page\'s address does not match the console\'s relying party: open the console at its configured address.');
  if (error.name === 'InvalidStateError') return new Error('This authenticator already holds a passkey for this account.');
  return error;
}
