"""Registration Lock, the PIN-protected backup and the owner's notices (issue 3, first part), as
docs/api.md ("Registration Lock, PIN-protected backup and notices") describes them.

The client side is simulated: the PIN stretching is replaced by random bytes (the access key and the
encrypted master key), and the Registration Lock token is the hex of 32 random bytes standing for the key
the client derives from its master key.
"""

import base64
import os
import secrets
import threading
import time
import unittest

from harness import (Inline, LatchkeyTestCase, random_password, start_server, unique_number, verified_session,
                     whoami)
import harness

SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000
LOCK_PATH = "/v1/accounts/registration_lock"
NOTICES_PATH = "/v1/accounts/notices"


def b64(data):
    return base64.b64encode(data).decode("ascii")


def loose_limits(**extra):
    """Per-number buckets out of the way (several sessions and registrations per number in one test)."""
    limits = {
        "session_create_per_number": Inline(burst=100000, refill="1ms"),
        "code_send_per_number": Inline(burst=100000, refill="1ms"),
        "code_send_per_prefix": Inline(burst=100000, refill="1ms"),
        "code_check_per_number": Inline(burst=100000, refill="1ms"),
        "registration_per_number": Inline(burst=100000, refill="1ms"),
    }
    limits.update(extra)
    return limits


def server_config(accounts=None, **limits):
    config = {"verification": {"proof_of_work_bits": 4}, "limits": loose_limits(**limits)}
    if accounts:
        config["accounts"] = accounts
    return config


class Client:
    """One simulated client install: PIN-derived keys and the credentials of its registered device."""

    def __init__(self, server, number):
        self.server = server
        self.number = number
        self.password = random_password()
        self.uuid = None
        # "Argon2id(PIN)": 32 bytes of access key; the master key encrypted under the PIN (32 bytes here).
        self.access_key = secrets.token_bytes(32)
        self.encrypted_master_key = secrets.token_bytes(32)
        self.master_key = secrets.token_bytes(32)

    @staticmethod
    def derive_token(master_key):
        """Stands for the client's HKDF(master key, "Registration Lock"): 64 hex characters."""
        return master_key.hex()

    @property
    def token(self):
        return self.derive_token(self.master_key)

    @property
    def auth(self):
        return (f"{self.uuid}.1", self.password)


def registration_body(session_id, lock=None, registration_id=None):
    attrs = {"registrationId": registration_id if registration_id is not None else secrets.randbelow(16383) + 1}
    if lock is not None:
        attrs["registrationLock"] = lock
    return {"sessionId": session_id, "accountAttributes": attrs}


def attempt(server, session_id, number, password, lock=None):
    return server.request("POST", "/v1/registration", registration_body(session_id, lock), auth=(number, password))


class LockTestCase(LatchkeyTestCase):
    """Shared helpers for the test classes below (each class still starts its own server)."""

    server = None

    def new_client(self, number=None):
        """Registers a fresh number; returns its Client."""
        s = self.server
        client = Client(s, number or unique_number("33"))
        sid = verified_session(s, client.number)
        r = attempt(s, sid, client.number, client.password)
        self.assertEqual(r.status, 200, f"register {client.number}: {r.body!r}")
        client.uuid = r.body["uuid"]
        return client

    def set_lock(self, client, token=None):
        r = self.server.request("PUT", LOCK_PATH, {"registrationLock": token or client.token}, auth=client.auth)
        self.assertEqual(r.status, 204, f"PUT registration_lock: {r.body!r}")
        self.assertIsNone(r.body)

    def put_backup(self, client, max_tries=None, expose=True):
        body = {"accessKey": b64(client.access_key), "data": b64(client.encrypted_master_key)}
        if max_tries is not None:
            body["maxTries"] = max_tries
        r = self.server.request("PUT", "/v1/backup", body, auth=client.auth)
        self.assertEqual(r.status, 204, f"PUT /v1/backup: {r.body!r}")
        self.assertIsNone(r.body)
        if expose:
            r = self.server.request("POST", "/v1/backup/expose", {"data": b64(client.encrypted_master_key)},
                                    auth=client.auth)
            self.assertEqual(r.status, 204, f"POST /v1/backup/expose: {r.body!r}")
            self.assertIsNone(r.body)

    def restore(self, auth, access_key):
        key = access_key if isinstance(access_key, str) else b64(access_key)
        return self.server.request("POST", "/v1/backup/restore", {"accessKey": key}, auth=auth)

    def notices(self, client, after=None):
        path = NOTICES_PATH if after is None else f"{NOTICES_PATH}?after={after}"
        r = self.server.request("GET", path, auth=client.auth)
        self.assertEqual(r.status, 200, f"GET notices: {r.body!r}")
        self.assertIsInstance(r.body, dict)
        self.assertEqual(set(r.body.keys()), {"notices"}, r.body)
        self.assertIsInstance(r.body["notices"], list)
        return r.body["notices"]

    def assertLocked(self, resp, client, window_ms=SEVEN_DAYS_MS):
        """A 423 registration_locked with timeRemaining about the window and backup credentials of `client`."""
        self.assertError(resp, 423, "registration_locked")
        body = resp.body
        tr = body.get("timeRemaining")
        self.assertTrue(isinstance(tr, int) and not isinstance(tr, bool), f"timeRemaining not an int: {body!r}")
        self.assertGreater(tr, 0, body)
        self.assertLessEqual(tr, window_ms, body)
        self.assertGreaterEqual(tr, window_ms - 120_000, f"timeRemaining should be about the window: {body!r}")
        creds = body.get("backupCredentials")
        self.assertIsInstance(creds, dict, body)
        self.assertEqual(set(creds.keys()), {"username", "password"}, body)
        self.assertEqual(creds["username"], f"backup-{client.uuid}")
        self.assertIsInstance(creds["password"], str)
        self.assertTrue(creds["password"])
        return (creds["username"], creds["password"])

    def assertRestored(self, resp, client, tries):
        self.assertEqual(resp.status, 200, f"restore: {resp.body!r}")
        self.assertIsInstance(resp.body, dict, resp.body)
        self.assertEqual(set(resp.body.keys()), {"data", "triesRemaining"}, resp.body)
        self.assertEqual(resp.body["triesRemaining"], tries, resp.body)
        data = resp.body["data"]
        self.assertIsInstance(data, str)
        decoded = base64.b64decode(data.replace("-", "+").replace("_", "/") + "=" * (-len(data) % 4))
        self.assertEqual(decoded, client.encrypted_master_key, "restore answers the stored data")
        return decoded

    def assertPinMismatch(self, resp, tries):
        self.assertError(resp, 403, "pin_mismatch")
        self.assertEqual(resp.body.get("triesRemaining"), tries, resp.body)


# --------------------------------------------------------------------------------------------------------

class IncidentTest(LockTestCase):
    """The 2022 incident: an attacker with a fresh SMS code for the victim's number."""

    LOCK_BURST = 3

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, server_config(
            registration_lock_per_number=Inline(burst=cls.LOCK_BURST, refill="1h")))

    def victim_with_lock_and_backup(self):
        victim = self.new_client()
        self.put_backup(victim)
        self.set_lock(victim)
        return victim

    def test_attacker_gets_423_until_limit_then_429(self):
        s = self.server
        victim = self.victim_with_lock_and_backup()
        attacker_password = random_password()
        # The attacker "leaked" a fresh SMS code: its own verified session for the victim's number.
        sid = verified_session(s, victim.number)

        tokens = [None] + [secrets.token_hex(32) for _ in range(self.LOCK_BURST - 1)]
        presented = []
        creds = None
        for i, token in enumerate(tokens):
            r = attempt(s, sid, victim.number, attacker_password, lock=token)
            c = self.assertLocked(r, victim)
            creds = creds or c
            presented.append(token is not None)
            self.assertError(whoami(s, victim.number, attacker_password), 401)
            self.assertEqual(whoami(s, *victim.auth).status, 200, f"victim still works after attempt {i + 1}")

        # The per-number limit of failed lock attempts is exhausted now: 429, with or without a token.
        for token in (secrets.token_hex(32), None):
            r = attempt(s, sid, victim.number, attacker_password, lock=token)
            self.assertError(r, 429, "rate_limited")
        # Even a fresh session does not help the attacker.
        sid2 = verified_session(s, victim.number)
        self.assertError(attempt(s, sid2, victim.number, attacker_password), 429, "rate_limited")

        # The victim's device sees one notice per 423, oldest first, and keeps working.
        r = whoami(s, *victim.auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["uuid"], victim.uuid)
        notices = self.notices(victim)
        self.assertEqual(len(notices), self.LOCK_BURST, notices)
        now_ms = int(time.time() * 1000)
        ids = []
        for n, token_presented in zip(notices, presented):
            self.assertEqual(set(n.keys()), {"id", "kind", "time", "details"}, n)
            self.assertIsInstance(n["id"], int)
            self.assertEqual(n["kind"], "registration_lock_failure")
            self.assertIsInstance(n["time"], int)
            self.assertTrue(now_ms - 120_000 <= n["time"] <= now_ms + 5000, f"time not epoch ms: {n!r}")
            self.assertIsInstance(n["details"], dict)
            self.assertIsInstance(n["details"].get("time"), int, n)
            self.assertIs(n["details"].get("tokenPresented"), token_presented, n)
            ids.append(n["id"])
        self.assertEqual(ids, sorted(ids), "oldest first")
        self.assertEqual(len(set(ids)), len(ids))
        self.assertEqual(self.notices(victim, after=ids[0]), notices[1:])
        self.assertEqual(self.notices(victim, after=ids[-1]), [])

        # The backup credentials only allow restore of that account: the attacker must guess the PIN.
        self.assertPinMismatch(self.restore(creds, secrets.token_bytes(32)), 9)
        self.assertError(s.request("PUT", LOCK_PATH, {"registrationLock": secrets.token_hex(32)}, auth=creds), 401)
        self.assertError(whoami(s, *creds), 401)
        # The attacker's password never worked.
        self.assertError(whoami(s, victim.number, attacker_password), 401)
        self.assertEqual(whoami(s, *victim.auth).status, 200)

    def test_victim_recovers_on_a_new_device(self):
        s = self.server
        victim = self.victim_with_lock_and_backup()
        attacker_password = random_password()
        attacker_sid = verified_session(s, victim.number)
        # (LOCK_BURST is 3 failures per number: one here, one for the new device, one after the recovery.)
        self.assertLocked(attempt(s, attacker_sid, victim.number, attacker_password, lock=secrets.token_hex(32)),
                          victim)

        # The victim on a new device: only the PIN is remembered (here: the stretched access key).
        new_password = random_password()
        new_sid = verified_session(s, victim.number)
        creds = self.assertLocked(attempt(s, new_sid, victim.number, new_password), victim)
        master = self.assertRestored(self.restore(creds, victim.access_key), victim, 10)
        self.assertEqual(master, victim.encrypted_master_key)
        # "Decrypt" the master key and derive the token; the same session (not used up by the 423) retries.
        token = Client.derive_token(victim.master_key)
        r = attempt(s, new_sid, victim.number, new_password, lock=token)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, {"uuid": victim.uuid, "number": victim.number, "deviceId": 1})

        self.assertError(whoami(s, *victim.auth), 401, "unauthorized")  # the old device was replaced
        victim.password = new_password
        self.assertEqual(whoami(s, *victim.auth).status, 200)
        self.assertError(attempt(s, new_sid, victim.number, new_password, lock=token), 403, "session_already_used")

        # The attacker's session does not get in after that: the lock survived the re-registration.
        r = attempt(s, attacker_sid, victim.number, attacker_password)
        self.assertNotEqual(r.status, 200, f"attacker registered after the recovery: {r.body!r}")
        self.assertLocked(r, victim)
        self.assertError(whoami(s, victim.number, attacker_password), 401)
        self.assertEqual(whoami(s, *victim.auth).status, 200)

        # The backup survived as well, restorable with the new device's credentials.
        self.assertRestored(self.restore(victim.auth, victim.access_key), victim, 10)
        # And the old backup credentials from the 423 (valid for a day) still only restore.
        self.assertRestored(self.restore(creds, victim.access_key), victim, 10)

    def test_concurrent_attempts_never_exceed_the_limit(self):
        """10 concurrent wrong attempts against a burst of 3: exactly 3 answers 423 (and 3 notices), the rest 429."""
        s = self.server
        victim = self.victim_with_lock_and_backup()
        n = 10
        sids = [verified_session(s, victim.number) for _ in range(n)]
        barrier = threading.Barrier(n)
        results = [None] * n

        def go(i):
            token = secrets.token_hex(32) if i % 2 else None
            barrier.wait(timeout=30)
            try:
                results[i] = attempt(s, sids[i], victim.number, random_password(), lock=token)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        errors = [r for r in results if not hasattr(r, "status")]
        self.assertEqual(errors, [], "every request got an answer")
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses, [423] * self.LOCK_BURST + [429] * (n - self.LOCK_BURST))
        for r in results:
            if r.status == 423:
                self.assertLocked(r, victim)
            else:
                self.assertError(r, 429, "rate_limited")
        self.assertEqual(len(self.notices(victim)), self.LOCK_BURST)
        self.assertEqual(whoami(s, *victim.auth).status, 200)

    def test_right_token_on_a_fresh_session(self):
        """The right token on the first try: no 423, no notice, same uuid, old device replaced."""
        s = self.server
        victim = self.victim_with_lock_and_backup()
        sid = verified_session(s, victim.number)
        password = random_password()
        r = attempt(s, sid, victim.number, password, lock=victim.token)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["uuid"], victim.uuid)
        self.assertError(whoami(s, *victim.auth), 401, "unauthorized")
        victim.password = password
        self.assertEqual(self.notices(victim), [], "a registration with the right token is no failure")


# --------------------------------------------------------------------------------------------------------

class BackupGuessLimitTest(LockTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, server_config())

    def test_tries_count_down_and_reset(self):
        s = self.server
        c = self.new_client()
        self.put_backup(c)
        self.assertRestored(self.restore(c.auth, c.access_key), c, 10)
        for expected in range(9, 0, -1):
            self.assertPinMismatch(self.restore(c.auth, secrets.token_bytes(32)), expected)
        # The right key before the last try resets the counter.
        self.assertRestored(self.restore(c.auth, c.access_key), c, 10)
        for expected in range(9, -1, -1):
            self.assertPinMismatch(self.restore(c.auth, secrets.token_bytes(32)), expected)
        # Erased for good.
        self.assertError(self.restore(c.auth, c.access_key), 404, "not_found")
        self.assertError(self.restore(c.auth, secrets.token_bytes(32)), 404, "not_found")
        self.assertError(s.request("POST", "/v1/backup/expose", {"data": b64(c.encrypted_master_key)},
                                   auth=c.auth), 404, "not_found")

    def test_max_tries_one(self):
        c = self.new_client()
        self.put_backup(c, max_tries=1)
        self.assertRestored(self.restore(c.auth, c.access_key), c, 1)
        self.assertPinMismatch(self.restore(c.auth, secrets.token_bytes(32)), 0)
        self.assertError(self.restore(c.auth, c.access_key), 404, "not_found")

    def test_max_tries_255(self):
        c = self.new_client()
        self.put_backup(c, max_tries=255)
        self.assertPinMismatch(self.restore(c.auth, secrets.token_bytes(32)), 254)
        self.assertRestored(self.restore(c.auth, c.access_key), c, 255)

    def test_pending_backup_is_not_restorable(self):
        s = self.server
        c = self.new_client()
        self.assertError(self.restore(c.auth, c.access_key), 404, "not_found")  # nothing stored
        self.put_backup(c, expose=False)
        self.assertError(self.restore(c.auth, c.access_key), 404, "not_found")  # pending
        self.assertError(s.request("POST", "/v1/backup/expose", {"data": b64(secrets.token_bytes(32))},
                                   auth=c.auth), 409, "conflict")
        self.assertError(self.restore(c.auth, c.access_key), 404, "not_found")  # still pending
        r = s.request("POST", "/v1/backup/expose", {"data": b64(c.encrypted_master_key)}, auth=c.auth)
        self.assertEqual(r.status, 204, r.body)
        self.assertRestored(self.restore(c.auth, c.access_key), c, 10)

    def test_put_again_replaces_the_backup(self):
        c = self.new_client()
        self.put_backup(c)
        self.assertPinMismatch(self.restore(c.auth, secrets.token_bytes(32)), 9)
        old_key = c.access_key
        c.access_key, c.encrypted_master_key = secrets.token_bytes(32), secrets.token_bytes(48)
        self.put_backup(c, max_tries=5)
        self.assertPinMismatch(self.restore(c.auth, old_key), 4)
        self.assertRestored(self.restore(c.auth, c.access_key), c, 5)

    def test_concurrent_wrong_guesses_never_exceed_max_tries(self):
        c = self.new_client()
        self.put_backup(c)
        n = 20
        barrier = threading.Barrier(n)
        results = [None] * n

        def guess(i):
            key = secrets.token_bytes(32)
            barrier.wait(timeout=30)
            try:
                results[i] = self.restore(c.auth, key)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        errors = [r for r in results if not hasattr(r, "status")]
        self.assertEqual(errors, [], "every request got an answer")
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses.count(403), 10, f"statuses {statuses}")
        self.assertEqual(statuses.count(404), n - 10, f"statuses {statuses}")
        remaining = sorted(r.body.get("triesRemaining") for r in results if r.status == 403)
        self.assertEqual(remaining, list(range(10)), "each wrong guess used exactly one try")
        for r in results:
            self.assertError(r, r.status, "pin_mismatch" if r.status == 403 else "not_found")
        self.assertError(self.restore(c.auth, c.access_key), 404, "not_found")


# --------------------------------------------------------------------------------------------------------

class LockLapseTest(LockTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, server_config(accounts={"registration_lock_window": "1s"}))

    def test_lock_lapses_after_the_window(self):
        s = self.server
        number = unique_number("33")
        # Both sessions verified up front so that the window is not spent on the verification flow.
        other_sid = verified_session(s, number)
        victim = self.new_client(number)
        self.set_lock(victim)  # an authenticated request: the device was seen just now
        r = attempt(s, other_sid, number, random_password())
        self.assertError(r, 423, "registration_locked")
        self.assertTrue(0 < r.body["timeRemaining"] <= 1000, r.body)

        time.sleep(1.5)
        password = random_password()
        r = attempt(s, other_sid, number, password)
        self.assertEqual(r.status, 200, f"the lock should have lapsed: {r.body!r}")
        self.assertEqual(r.body["uuid"], victim.uuid)
        self.assertError(whoami(s, *victim.auth), 401, "unauthorized")
        self.assertEqual(whoami(s, f"{victim.uuid}.1", password).status, 200)


# --------------------------------------------------------------------------------------------------------

class DeleteLockTest(LockTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, server_config())

    def test_delete_lock_then_register_without_token(self):
        s = self.server
        victim = self.new_client()
        self.set_lock(victim)
        sid = verified_session(s, victim.number)
        password = random_password()
        self.assertLocked(attempt(s, sid, victim.number, password), victim)

        r = s.request("DELETE", LOCK_PATH, auth=victim.auth)
        self.assertEqual(r.status, 204, r.body)
        self.assertIsNone(r.body)
        r = s.request("DELETE", LOCK_PATH, auth=victim.auth)
        self.assertEqual(r.status, 204, f"DELETE without a lock is 204 too: {r.body!r}")

        r = attempt(s, sid, victim.number, password)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["uuid"], victim.uuid)
        self.assertError(whoami(s, *victim.auth), 401, "unauthorized")

    def test_deleting_the_account_drops_lock_and_backup(self):
        s = self.server
        victim = self.new_client()
        self.put_backup(victim)
        self.set_lock(victim)
        r = s.request("DELETE", "/v1/accounts/me", auth=victim.auth)
        self.assertEqual(r.status, 204, r.body)
        again = self.new_client(victim.number)  # no token needed: 200
        self.assertNotEqual(again.uuid, victim.uuid)
        self.assertError(self.restore(again.auth, victim.access_key), 404, "not_found")
        self.assertEqual(self.notices(again), [])

    def test_put_lock_again_replaces_token(self):
        s = self.server
        victim = self.new_client()
        first = secrets.token_hex(32)
        self.set_lock(victim, first)
        self.set_lock(victim)  # the real token replaces the first one
        sid = verified_session(s, victim.number)
        password = random_password()
        self.assertLocked(attempt(s, sid, victim.number, password, lock=first), victim)
        r = attempt(s, sid, victim.number, password, lock=victim.token)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["uuid"], victim.uuid)


# --------------------------------------------------------------------------------------------------------

class BadInputTest(LockTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, server_config())

    def setUp(self):
        self.client = self.new_client()

    NOT_JSON_BODIES = ("", "not json", "[]", "42", "null", '"x"', "{")

    def test_put_lock_bad_tokens(self):
        s, c = self.server, self.client
        bad = ["", "0" * 63, "0" * 65, "g" * 64, "0x" + "0" * 62, " " + "0" * 63, "0" * 128,
               secrets.token_hex(32)[:-1] + "z", 12345, None, True, ["0" * 64], {"t": "0" * 64}]
        for token in bad:
            with self.subTest(token=token):
                self.assertError(s.request("PUT", LOCK_PATH, {"registrationLock": token}, auth=c.auth),
                                 400, "malformed_request")
        self.assertError(s.request("PUT", LOCK_PATH, {}, auth=c.auth), 400, "malformed_request")
        for body in self.NOT_JSON_BODIES:
            with self.subTest(body=body):
                self.assertError(s.request("PUT", LOCK_PATH, body, auth=c.auth), 400, "malformed_request")
        # None of these set a lock: a registration without token still works.
        sid = verified_session(s, c.number)
        r = attempt(s, sid, c.number, random_password())
        self.assertEqual(r.status, 200, f"a refused PUT must not set a lock: {r.body!r}")

    def test_auth_required(self):
        s, c = self.server, self.client
        good_token = secrets.token_hex(32)
        backup_body = {"accessKey": b64(c.access_key), "data": b64(c.encrypted_master_key)}
        calls = [
            ("PUT", LOCK_PATH, {"registrationLock": good_token}),
            ("DELETE", LOCK_PATH, None),
            ("GET", NOTICES_PATH, None),
            ("PUT", "/v1/backup", backup_body),
            ("POST", "/v1/backup/expose", {"data": b64(c.encrypted_master_key)}),
            ("POST", "/v1/backup/restore", {"accessKey": b64(c.access_key)}),
        ]
        bad_auths = [
            None,
            (f"{c.uuid}.1", c.password + "x"),
            (f"{c.uuid}.2", c.password),
            (c.number, c.password),                     # a number is not a device login
            (f"backup-{c.uuid}", c.password),           # the device password is no backup password
            (f"backup-{c.uuid}", "1.x"),
        ]
        for method, path, body in calls:
            for auth in bad_auths:
                with self.subTest(method=method, path=path, auth=auth):
                    self.assertError(s.request(method, path, body, auth=auth), 401, "unauthorized")
            with self.subTest(method=method, path=path, auth="not basic"):
                self.assertError(s.request(method, path, body, headers={"Authorization": "Bearer abc"}),
                                 401, "unauthorized")
        # Nothing above changed anything: no backup stored, no lock set.
        self.assertError(self.restore(c.auth, c.access_key), 404, "not_found")
        self.assertEqual(self.notices(c), [])

    def test_backup_credentials_only_restore(self):
        s, c = self.server, self.client
        self.put_backup(c)
        self.set_lock(c)
        sid = verified_session(s, c.number)
        creds = self.assertLocked(attempt(s, sid, c.number, random_password()), c)
        self.assertRestored(self.restore(creds, c.access_key), c, 10)
        other = Client(s, c.number)
        for method, path, body in [
                ("PUT", "/v1/backup", {"accessKey": b64(other.access_key), "data": b64(other.encrypted_master_key)}),
                ("POST", "/v1/backup/expose", {"data": b64(c.encrypted_master_key)}),
                ("PUT", LOCK_PATH, {"registrationLock": secrets.token_hex(32)}),
                ("DELETE", LOCK_PATH, None),
                ("GET", NOTICES_PATH, None),
                ("GET", "/v1/accounts/whoami", None),
                ("DELETE", "/v1/accounts/me", None)]:
            with self.subTest(method=method, path=path):
                self.assertError(s.request(method, path, body, auth=creds), 401, "unauthorized")
        # Tampered backup credentials do not work.
        user, password = creds
        self.assertError(self.restore((user, password + "x"), c.access_key), 401, "unauthorized")
        self.assertError(self.restore((user, password[:-1]), c.access_key), 401, "unauthorized")
        other_client = self.new_client()
        self.put_backup(other_client)
        self.assertError(self.restore((f"backup-{other_client.uuid}", password), other_client.access_key),
                         401, "unauthorized")
        # The original backup and lock are intact.
        self.assertRestored(self.restore(creds, c.access_key), c, 10)
        self.assertLocked(attempt(s, sid, c.number, random_password()), c)

    def test_put_backup_bad_bodies(self):
        s, c = self.server, self.client
        key, data = b64(c.access_key), b64(c.encrypted_master_key)
        bad_bodies = [
            {},
            {"accessKey": key},
            {"data": data},
            {"accessKey": b64(os.urandom(31)), "data": data},
            {"accessKey": b64(os.urandom(33)), "data": data},
            {"accessKey": b64(os.urandom(64)), "data": data},
            {"accessKey": "", "data": data},
            {"accessKey": "!!!not base64!!!", "data": data},
            {"accessKey": key[:-2] + "@@", "data": data},
            {"accessKey": key[:10], "data": data},
            {"accessKey": 123, "data": data},
            {"accessKey": None, "data": data},
            {"accessKey": key, "data": b64(os.urandom(15))},
            {"accessKey": key, "data": b64(os.urandom(49))},
            {"accessKey": key, "data": b64(os.urandom(4096))},
            {"accessKey": key, "data": ""},
            {"accessKey": key, "data": "%%%%"},
            {"accessKey": key, "data": 7},
            {"accessKey": key, "data": [data]},
            {"accessKey": key, "data": data, "maxTries": 0},
            {"accessKey": key, "data": data, "maxTries": 256},
            {"accessKey": key, "data": data, "maxTries": -1},
            {"accessKey": key, "data": data, "maxTries": "x"},
            {"accessKey": key, "data": data, "maxTries": "10"},
            {"accessKey": key, "data": data, "maxTries": 1.5},
            {"accessKey": key, "data": data, "maxTries": True},
            {"accessKey": key, "data": data, "maxTries": 2 ** 64},
        ]
        for body in bad_bodies:
            with self.subTest(body=body):
                self.assertError(s.request("PUT", "/v1/backup", body, auth=c.auth), 400, "malformed_request")
        for body in self.NOT_JSON_BODIES:
            with self.subTest(body=body):
                self.assertError(s.request("PUT", "/v1/backup", body, auth=c.auth), 400, "malformed_request")
        # None stored anything.
        self.assertError(s.request("POST", "/v1/backup/expose", {"data": data}, auth=c.auth), 404, "not_found")

    def test_put_backup_boundaries_and_url_safe_base64(self):
        s, c = self.server, self.client
        for size in (16, 48):
            c.encrypted_master_key = os.urandom(size)
            with self.subTest(size=size):
                self.put_backup(c)
                self.assertRestored(self.restore(c.auth, c.access_key), c, 10)
        # URL-safe base64 is accepted for the access key (docs: "standard or URL-safe").
        c.access_key = bytes([0xfb, 0xff]) * 16
        c.encrypted_master_key = os.urandom(32)
        url_key = base64.urlsafe_b64encode(c.access_key).decode("ascii")
        r = s.request("PUT", "/v1/backup", {"accessKey": url_key, "data": b64(c.encrypted_master_key)},
                      auth=c.auth)
        self.assertEqual(r.status, 204, r.body)
        r = s.request("POST", "/v1/backup/expose", {"data": b64(c.encrypted_master_key)}, auth=c.auth)
        self.assertEqual(r.status, 204, r.body)
        self.assertRestored(self.restore(c.auth, b64(c.access_key)), c, 10)
        self.assertRestored(self.restore(c.auth, url_key), c, 10)

    def test_expose_bad_bodies(self):
        s, c = self.server, self.client
        self.assertError(s.request("POST", "/v1/backup/expose", {"data": b64(c.encrypted_master_key)},
                                   auth=c.auth), 404, "not_found")
        self.put_backup(c, expose=False)
        for body in [{}, {"data": "!!!"}, {"data": 5}, {"data": None}, {"data": b64(os.urandom(4096))}]:
            with self.subTest(body=body):
                self.assertError(s.request("POST", "/v1/backup/expose", body, auth=c.auth), 400, "malformed_request")
        for body in self.NOT_JSON_BODIES:
            with self.subTest(body=body):
                self.assertError(s.request("POST", "/v1/backup/expose", body, auth=c.auth),
                                 400, "malformed_request")
        self.assertError(s.request("POST", "/v1/backup/expose", {"data": b64(os.urandom(32))}, auth=c.auth),
                         409, "conflict")
        r = s.request("POST", "/v1/backup/expose", {"data": b64(c.encrypted_master_key)}, auth=c.auth)
        self.assertEqual(r.status, 204, r.body)

    def test_restore_bad_bodies_do_not_use_tries(self):
        s, c = self.server, self.client
        self.put_backup(c)
        bad = [{}, {"accessKey": ""}, {"accessKey": "!!!!"}, {"accessKey": b64(os.urandom(31))},
               {"accessKey": b64(os.urandom(33))}, {"accessKey": b64(os.urandom(4096))}, {"accessKey": 1},
               {"accessKey": None}, {"accessKey": [b64(c.access_key)]}]
        for body in bad:
            with self.subTest(body=body):
                self.assertError(s.request("POST", "/v1/backup/restore", body, auth=c.auth),
                                 400, "malformed_request")
        for body in self.NOT_JSON_BODIES:
            with self.subTest(body=body):
                self.assertError(s.request("POST", "/v1/backup/restore", body, auth=c.auth),
                                 400, "malformed_request")
        # A malformed request is not a guess: the first wrong key still leaves 9.
        self.assertPinMismatch(self.restore(c.auth, os.urandom(32)), 9)
        self.assertRestored(self.restore(c.auth, c.access_key), c, 10)

    def test_registration_bad_lock_token(self):
        s, c = self.server, self.client
        sid = verified_session(s, c.number)
        password = random_password()
        for token in ["", "0" * 63, "0" * 65, "g" * 64, 12345, True, ["0" * 64]]:
            with self.subTest(token=token):
                self.assertError(attempt(s, sid, c.number, password, lock=token), 400, "malformed_request")
        # The session was not used up by the refused bodies.
        r = attempt(s, sid, c.number, password)
        self.assertEqual(r.status, 200, r.body)

    def test_notices_bad_cursor_and_empty(self):
        s, c = self.server, self.client
        self.assertEqual(self.notices(c), [])
        self.assertEqual(self.notices(c, after=0), [])
        for after in ("abc", "-1x", "1.5", ""):
            with self.subTest(after=after):
                r = s.request("GET", f"{NOTICES_PATH}?after={after}", auth=c.auth)
                self.assertIn(r.status, (200, 400), f"after={after!r}: {r.body!r}")
                if r.status == 400:
                    self.assertError(r, 400, "malformed_request")

    def test_oversize_bodies(self):
        """Bodies over server.max_body_bytes (64 kB by default): 413 payload_too_large."""
        s, c = self.server, self.client
        huge = {"accessKey": b64(c.access_key), "data": "A" * 70000, "registrationLock": "0" * 64}
        for method, path in [("PUT", "/v1/backup"), ("POST", "/v1/backup/expose"),
                             ("POST", "/v1/backup/restore"), ("PUT", LOCK_PATH)]:
            with self.subTest(path=path):
                try:
                    r = s.request(method, path, huge, auth=c.auth)
                except (ConnectionResetError, BrokenPipeError) as e:
                    self.fail(f"expected a 413 answer to a 70 kB body, the connection was reset ({e!r})")
                self.assertError(r, 413, "payload_too_large")
        self.assertServerHealthy(s)

if __name__ == "__main__":
    unittest.main()
