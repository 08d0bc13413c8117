"""Encrypted storage of profile, contacts and block list (issue 3), as docs/api.md ("Encrypted storage")
describes it: a versioned manifest and items under random keys, all ciphertext the server cannot read.

The client side is simulated with random bytes standing for the ciphertexts and the random item keys.
"""

import base64
import secrets
import unittest

from harness import Inline, LatchkeyTestCase, random_password, register, start_server, unique_number

MANIFEST = "/v1/storage/manifest"
ITEMS = "/v1/storage/items"
READ = "/v1/storage/items/read"


def b64(data):
    return base64.b64encode(data).decode("ascii")


def new_key():
    return secrets.token_bytes(16)


class EncryptedStorageTest(LatchkeyTestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        loose = Inline(burst=100000, refill="1ms")
        cls.server = start_server(cls, {
            "verification": {"proof_of_work_bits": 4},
            "accounts": {"storage_max_value_bytes": 64, "storage_max_manifest_bytes": 128,
                         "storage_max_items_per_request": 4, "storage_max_items": 6,
                         # re-registering an active account's number is not delayed here
                         "takeover_delay": "0s"},
            "limits": {"session_create_per_number": loose, "code_send_per_number": loose,
                       "code_send_per_prefix": loose, "code_check_per_number": loose,
                       "registration_per_number": loose},
        })

    def new_account(self, number=None):
        number = number or unique_number("33")
        password = random_password()
        registered = register(self.server, number, password)
        return number, (f"{registered['uuid']}.1", password), registered["uuid"]

    def put_manifest(self, auth, version, value):
        return self.server.request("PUT", MANIFEST, {"version": version, "value": b64(value)}, auth=auth)

    def read(self, auth, keys):
        r = self.server.request("POST", READ, {"keys": [b64(k) for k in keys]}, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(set(r.body.keys()), {"items"})
        return {base64.b64decode(i["key"]): base64.b64decode(i["value"]) for i in r.body["items"]}

    def test_manifest_and_items_happy_path(self):
        s = self.server
        _, auth, _ = self.new_account()
        self.assertError(s.request("GET", MANIFEST, auth=auth), 404, "not_found")

        first = secrets.token_bytes(40)
        r = self.put_manifest(auth, 1, first)
        self.assertEqual(r.status, 204, r.body)
        r = s.request("GET", MANIFEST, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, {"version": 1, "value": b64(first)})
        second = secrets.token_bytes(50)
        self.assertEqual(self.put_manifest(auth, 2, second).status, 204)
        self.assertEqual(s.request("GET", MANIFEST, auth=auth).body, {"version": 2, "value": b64(second)})

        k1, k2, k3 = new_key(), secrets.token_bytes(64), new_key()
        v1, v2 = secrets.token_bytes(64), secrets.token_bytes(1)
        r = s.request("PUT", ITEMS, {"items": [{"key": b64(k1), "value": b64(v1)},
                                               {"key": b64(k2), "value": b64(v2)}]}, auth=auth)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.read(auth, [k1, k2, k3]), {k1: v1, k2: v2})  # missing keys are left out

        v1b = secrets.token_bytes(10)
        r = s.request("PUT", ITEMS, {"items": [{"key": b64(k1), "value": b64(v1b)}]}, auth=auth)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.read(auth, [k1]), {k1: v1b})

        # URL-safe base64 is accepted too.
        url_key = base64.urlsafe_b64encode(k2).decode("ascii").rstrip("=")
        r = s.request("DELETE", ITEMS, {"keys": [url_key, b64(k3)]}, auth=auth)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.read(auth, [k1, k2]), {k1: v1b})

        # Another account sees nothing of this one.
        _, other, _ = self.new_account()
        self.assertEqual(self.read(other, [k1]), {})
        self.assertError(s.request("GET", MANIFEST, auth=other), 404, "not_found")

    def test_stale_version_answers_409_with_current_manifest(self):
        s = self.server
        _, auth, _ = self.new_account()
        r = self.put_manifest(auth, 2, b"skipped one")
        self.assertError(r, 409, "conflict")
        self.assertIn("current", r.body)
        self.assertIsNone(r.body["current"])

        self.assertEqual(self.put_manifest(auth, 1, b"one").status, 204)
        self.assertEqual(self.put_manifest(auth, 2, b"two").status, 204)
        for version in (1, 2, 4):
            r = self.put_manifest(auth, version, b"late")
            self.assertError(r, 409, "conflict")
            self.assertEqual(r.body["current"], {"version": 2, "value": b64(b"two")})
        self.assertEqual(s.request("GET", MANIFEST, auth=auth).body, {"version": 2, "value": b64(b"two")})

    def test_limits_answer_400(self):
        s = self.server
        _, auth, _ = self.new_account()
        self.assertError(self.put_manifest(auth, 1, b"m" * 129), 400, "malformed_request")
        self.assertError(self.put_manifest(auth, 0, b"m"), 400, "malformed_request")
        self.assertError(self.put_manifest(auth, 1, b""), 400, "malformed_request")
        self.assertError(s.request("PUT", MANIFEST, {"version": "1", "value": b64(b"m")}, auth=auth), 400,
                         "malformed_request")
        self.assertError(s.request("GET", MANIFEST, auth=auth), 404, "not_found")  # nothing was stored

        def put(items):
            return s.request("PUT", ITEMS, {"items": [{"key": b64(k), "value": b64(v)} for k, v in items]},
                             auth=auth)

        r = put([(new_key(), b"v" * 65)])
        self.assertError(r, 400, "malformed_request")
        self.assertIn("storage_max_value_bytes", r.body["message"])
        self.assertError(put([(b"k" * 15, b"v")]), 400, "malformed_request")
        self.assertError(put([(b"k" * 65, b"v")]), 400, "malformed_request")
        r = put([(new_key(), b"v") for _ in range(5)])
        self.assertError(r, 400, "malformed_request")
        self.assertIn("storage_max_items_per_request", r.body["message"])
        self.assertError(put([]), 400, "malformed_request")
        r = s.request("POST", READ, {"keys": [b64(new_key()) for _ in range(5)]}, auth=auth)
        self.assertError(r, 400, "malformed_request")

        keys = [new_key() for _ in range(6)]
        self.assertEqual(put([(k, b"v") for k in keys[:4]]).status, 204)
        self.assertEqual(put([(k, b"w") for k in keys[4:]]).status, 204)
        r = put([(keys[0], b"changed"), (new_key(), b"v")])
        self.assertError(r, 400, "malformed_request")
        self.assertIn("storage_max_items", r.body["message"])
        self.assertEqual(self.read(auth, [keys[0]]), {keys[0]: b"v"})  # all or nothing
        self.assertEqual(s.request("DELETE", ITEMS, {"keys": [b64(keys[5])]}, auth=auth).status, 204)
        self.assertEqual(put([(new_key(), b"v")]).status, 204)

    def test_bad_base64_and_bodies_answer_400(self):
        s = self.server
        _, auth, _ = self.new_account()
        self.assertError(s.request("PUT", MANIFEST, {"version": 1, "value": "not base64!"}, auth=auth), 400,
                         "malformed_request")
        self.assertError(s.request("PUT", MANIFEST, {"version": 1}, auth=auth), 400, "malformed_request")
        self.assertError(s.request("PUT", ITEMS, {"items": [{"key": "%%%", "value": b64(b"v")}]}, auth=auth),
                         400, "malformed_request")
        self.assertError(s.request("PUT", ITEMS, {"items": [{"key": b64(new_key()), "value": "***"}]}, auth=auth),
                         400, "malformed_request")
        self.assertError(s.request("PUT", ITEMS, {"items": [b64(new_key())]}, auth=auth), 400, "malformed_request")
        self.assertError(s.request("PUT", ITEMS, {"items": "x"}, auth=auth), 400, "malformed_request")
        self.assertError(s.request("POST", READ, {"keys": ["@@@@"]}, auth=auth), 400, "malformed_request")
        self.assertError(s.request("POST", READ, {"keys": [5]}, auth=auth), 400, "malformed_request")
        self.assertError(s.request("DELETE", ITEMS, {}, auth=auth), 400, "malformed_request")
        self.assertError(s.request("POST", READ, "not json", auth=auth), 400, "malformed_request")

    def test_missing_or_wrong_auth_answers_401(self):
        s = self.server
        _, auth, _ = self.new_account()
        key = b64(new_key())
        for method, path, body in (("GET", MANIFEST, None), ("PUT", MANIFEST, {"version": 1, "value": key}),
                                   ("PUT", ITEMS, {"items": [{"key": key, "value": key}]}),
                                   ("POST", READ, {"keys": [key]}), ("DELETE", ITEMS, {"keys": [key]})):
            self.assertError(s.request(method, path, body), 401, "unauthorized")
            self.assertError(s.request(method, path, body, auth=(auth[0], "wrong-password-123456")), 401,
                             "unauthorized")
        self.assertError(s.request("GET", MANIFEST, auth=auth), 404, "not_found")  # nothing was stored

    def test_kept_on_re_registration_and_gone_after_account_deletion(self):
        s = self.server
        number, auth, uuid = self.new_account()
        key, value = new_key(), secrets.token_bytes(20)
        self.assertEqual(self.put_manifest(auth, 1, b"manifest").status, 204)
        self.assertEqual(s.request("PUT", ITEMS, {"items": [{"key": b64(key), "value": b64(value)}]},
                                   auth=auth).status, 204)

        # A new install registers the same number: same account, the storage is still there.
        _, auth2, uuid2 = self.new_account(number)
        self.assertEqual(uuid2, uuid)
        self.assertEqual(s.request("GET", MANIFEST, auth=auth2).body, {"version": 1, "value": b64(b"manifest")})
        self.assertEqual(self.read(auth2, [key]), {key: value})

        r = s.request("DELETE", "/v1/accounts/me", auth=auth2)
        self.assertIn(r.status, (200, 204), r.body)
        _, auth3, uuid3 = self.new_account(number)
        self.assertNotEqual(uuid3, uuid)
        self.assertError(s.request("GET", MANIFEST, auth=auth3), 404, "not_found")
        self.assertEqual(self.read(auth3, [key]), {})
        self.assertEqual(self.put_manifest(auth3, 1, b"fresh").status, 204)  # starts again at version 1


if __name__ == "__main__":
    unittest.main()
