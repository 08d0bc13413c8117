"""A software WebAuthn authenticator (ES256, attestation "none"), so integration tests can enroll and sign in staff
without a browser, and can forge every kind of bad response the server must refuse. Uses the `cryptography`
package (Debian: python3-cryptography) for P-256 keys; CBOR is encoded here (the few types WebAuthn needs)."""

import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(value):
    """Canonical-enough CBOR for WebAuthn: ints, bytes, text, lists and dicts (keys in insertion order)."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        if n < 0x100:
            return bytes([major << 5 | 24, n])
        if n < 0x10000:
            return bytes([major << 5 | 25]) + struct.pack(">H", n)
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    if isinstance(value, bool):
        return bytes([0xF5 if value else 0xF4])
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return head(3, len(data)) + data
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


class Credential:
    def __init__(self, rp_id):
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0

    def cose_key(self):
        numbers = self.key.public_key().public_numbers()
        return cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def authenticator_data(self, flags, counter, attested=False, rp_id=None):
        data = hashlib.sha256((rp_id or self.rp_id).encode()).digest() + bytes([flags]) + struct.pack(">I", counter)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        return data


def client_data(type_, challenge_b64url, origin):
    return json.dumps({"type": type_, "challenge": challenge_b64url, "origin": origin,
                       "crossOrigin": False}).encode()


def create(options, origin, flags=FLAG_UP | FLAG_UV, type_="webauthn.create", rp_id=None):
    """Answers PublicKeyCredentialCreationOptions (JSON from the server): (credential, JSON to post)."""
    credential = Credential(options["rp"]["id"])
    cdata = client_data(type_, options["challenge"], origin)
    auth_data = credential.authenticator_data(flags | FLAG_AT, 0, attested=True, rp_id=rp_id)
    attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
    body = {"id": b64url(credential.credential_id), "rawId": b64url(credential.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(cdata), "attestationObject": b64url(attestation)}}
    return credential, body


def get(credential, options, origin, flags=FLAG_UP | FLAG_UV, counter=None, type_="webauthn.get", rp_id=None,
        corrupt_signature=False, challenge=None):
    """Answers PublicKeyCredentialRequestOptions with an assertion by `credential` (its counter grows by one unless
    `counter` is given)."""
    if counter is None:
        credential.counter += 1
        counter = credential.counter
    cdata = client_data(type_, challenge or options["challenge"], origin)
    auth_data = credential.authenticator_data(flags, counter, rp_id=rp_id)
    signature = credential.key.sign(auth_data + hashlib.sha256(cdata).digest(), ec.ECDSA(hashes.SHA256()))
    if corrupt_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
    return {"id": b64url(credential.credential_id), "rawId": b64url(credential.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(cdata), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": b64url(b"user")}}
