"""Staff sign-in (WebAuthn only), sessions, roles, masked lookups and audited unmasking against the real binary
(docs/api.md, "Staff console API"). A software authenticator (webauthn_authenticator.py) stands in for the
browser's, so every bad response can be forged: wrong origin, replayed challenge, bad signature, counter going
backwards, missing user verification."""

import re
import subprocess
import unittest

import harness
from harness import LatchkeyTestCase, Server, free_port, unique_number, random_password
import webauthn_authenticator as wa


def invite_from_cli(server, name, role):
    """`latchkeyd staff invite` on the server host: answers the token of the printed enrollment link."""
    out = subprocess.run([server.binary, "staff", "invite", "--config", server.config_path, "--data-dir",
                          server.data_dir, "--name", name, "--role", role],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    match = re.search(r"/console/#enroll=([A-Za-z0-9_-]+)", out.stdout)
    assert match, out.stdout
    return match.group(1)


class Staff:
    """One staff member's browser: their authenticator's credential and their session cookie."""

    def __init__(self, server, origin):
        self.server = server
        self.origin = origin
        self.cookie = None
        self.credential = None

    def post(self, path, body=None, origin=True, cookie=True):
        headers = {}
        if origin:
            headers["Origin"] = self.origin
        if cookie and self.cookie:
            headers["Cookie"] = self.cookie
        return self.server.request("POST", path, body if body is not None else {}, headers=headers)

    def get(self, path):
        return self.server.request("GET", path, headers={"Cookie": self.cookie} if self.cookie else {})

    def keep_cookie(self, resp):
        set_cookie = resp.headers.get("Set-Cookie")
        assert set_cookie, resp.headers
        self.cookie = set_cookie.split(";", 1)[0]
        return set_cookie

    def enroll(self, token, **kw):
        options = self.post("/staff/api/enroll/options", {"token": token})
        assert options.status == 200, options
        self.credential, body = wa.create(options.body, self.origin, **kw)
        resp = self.post("/staff/api/enroll", {"token": token, "credential": body})
        if resp.status == 200:
            self.keep_cookie(resp)
        return resp

    def sign_in(self, **kw):
        options = self.post("/staff/api/sign-in/options")
        assert options.status == 200, options
        body = wa.get(self.credential, options.body, self.origin, **kw)
        resp = self.post("/staff/api/sign-in", {"credential": body})
        if resp.status == 200:
            self.keep_cookie(resp)
        return resp


class StaffTestCase(LatchkeyTestCase):
    def assertError(self, resp, status, code=None):
        """The error contract of the staff API: as the device API's, except that a 401 never carries a Basic
        challenge (a browser would pop up a password dialog)."""
        self.assertEqual(resp.status, status, f"expected {status} {code}, got {resp.status} {resp.body!r}")
        self.assertIsInstance(resp.body, dict, f"error body is not a JSON object: {resp.body!r}")
        self.assertIsInstance(resp.body.get("message"), str, f"no string 'message' in {resp.body!r}")
        if code is not None:
            self.assertEqual(resp.body.get("error"), code, f"body {resp.body!r}")
        self.assertIsNone(resp.headers.get("WWW-Authenticate"))
        self.assertEqual(resp.headers.get("Cache-Control"), "no-store")


def start_staff_server(testcase_cls, overrides=None):
    port = free_port()
    origin = f"http://localhost:{port}"
    config = {"staff": {"rp_id": "localhost", "origins": [origin]}}
    server = Server(harness.deep_merge(config, overrides or {}), port=port)
    server.start()
    testcase_cls.addClassCleanup(server.close)
    return server, origin


class StaffSignInTest(StaffTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.origin = start_staff_server(cls)
        cls.admin = Staff(cls.server, cls.origin)
        resp = cls.admin.enroll(invite_from_cli(cls.server, "Ada Admin", "admin"))
        assert resp.status == 200, resp

    def new_member(self, name, role):
        token = invite_from_cli(self.server, name, role)
        member = Staff(self.server, self.origin)
        resp = member.enroll(token)
        self.assertEqual(resp.status, 200, resp)
        return member

    def test_enrollment_sets_a_strict_cookie_and_me_answers(self):
        member = Staff(self.server, self.origin)
        resp = member.enroll(invite_from_cli(self.server, "Cookie Checker", "viewer"))
        self.assertEqual(resp.status, 200, resp)
        set_cookie = resp.headers.get("Set-Cookie")
        for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/"):
            self.assertIn(attribute, set_cookie)
        self.assertEqual(resp.body["staff"]["role"], "viewer")
        me = member.get("/staff/api/me")
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.body["name"], "Cookie Checker")
        self.assertNotIn("lookup_accounts", me.body["permissions"])
        self.assertEqual(me.headers.get("Cache-Control"), "no-store")

    def test_invite_link_is_single_use(self):
        token = invite_from_cli(self.server, "Once Only", "viewer")
        first = Staff(self.server, self.origin)
        self.assertEqual(first.enroll(token).status, 200)
        second = Staff(self.server, self.origin)
        resp = second.post("/staff/api/enroll/options", {"token": token})
        self.assertError(resp, 403, "forbidden")
        self.assertError(second.post("/staff/api/enroll/options", {"token": "x" * 43}), 403, "forbidden")

    def test_sign_out_then_sign_in_again(self):
        member = self.new_member("Sam Support", "support")
        out = member.post("/staff/api/sign-out")
        self.assertEqual(out.status, 200, out)
        self.assertIn("Max-Age=0", out.headers.get("Set-Cookie"))
        self.assertError(member.get("/staff/api/me"), 401, "unauthorized")
        self.assertIsNone(member.get("/staff/api/me").headers.get("WWW-Authenticate"))
        resp = member.sign_in()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(member.get("/staff/api/me").body["role"], "support")

    # ---- WebAuthn negative tests ----

    def test_wrong_origin_is_refused(self):
        member = self.new_member("Olga Origin", "viewer")
        options = member.post("/staff/api/sign-in/options").body
        body = wa.get(member.credential, options, "http://evil.example")
        resp = member.post("/staff/api/sign-in", {"credential": body})
        self.assertError(resp, 401, "unauthorized")
        self.assertIn("origin", resp.body["message"])

    def test_wrong_rp_id_is_refused(self):
        member = self.new_member("Rita Rpid", "viewer")
        resp = member.sign_in(rp_id="evil.example")
        self.assertError(resp, 401, "unauthorized")

    def test_replayed_challenge_is_refused(self):
        member = self.new_member("Rex Replay", "viewer")
        options = member.post("/staff/api/sign-in/options").body
        body = wa.get(member.credential, options, self.origin)
        self.assertEqual(member.post("/staff/api/sign-in", {"credential": body}).status, 200)
        replay = member.post("/staff/api/sign-in", {"credential": body})
        self.assertError(replay, 401, "unauthorized")
        self.assertIn("challenge", replay.body["message"])
        # A challenge the server never issued.
        forged = wa.get(member.credential, options, self.origin, challenge=wa.b64url(b"\x01" * 32))
        self.assertError(member.post("/staff/api/sign-in", {"credential": forged}), 401, "unauthorized")

    def test_bad_signature_is_refused(self):
        member = self.new_member("Sid Signature", "viewer")
        resp = member.sign_in(corrupt_signature=True)
        self.assertError(resp, 401, "unauthorized")
        self.assertIn("signature", resp.body["message"])

    def test_counter_going_backwards_is_refused(self):
        member = self.new_member("Cora Counter", "viewer")
        self.assertEqual(member.sign_in(counter=10).status, 200)
        resp = member.sign_in(counter=9)
        self.assertError(resp, 401, "unauthorized")
        self.assertIn("count", resp.body["message"])
        self.assertError(member.sign_in(counter=10), 401, "unauthorized")  # equal is not greater either
        self.assertEqual(member.sign_in(counter=11).status, 200)

    def test_user_verification_is_required(self):
        member = self.new_member("Uma Unverified", "viewer")
        resp = member.sign_in(flags=wa.FLAG_UP)
        self.assertError(resp, 401, "unauthorized")
        self.assertIn("verif", resp.body["message"])
        # Enrollment without UV is refused too.
        lazy = Staff(self.server, self.origin)
        resp = lazy.enroll(invite_from_cli(self.server, "Lazy Enroller", "viewer"), flags=wa.FLAG_UP)
        self.assertError(resp, 401, "unauthorized")

    def test_wrong_client_data_type_is_refused(self):
        member = self.new_member("Tom Type", "viewer")
        self.assertError(member.sign_in(type_="webauthn.create"), 401, "unauthorized")

    def test_unknown_credential_is_refused(self):
        stranger = Staff(self.server, self.origin)
        stranger.credential = wa.Credential("localhost")
        self.assertError(stranger.sign_in(), 401, "unauthorized")

    def test_malformed_credentials_are_400(self):
        for body in ({}, {"credential": "x"}, {"credential": {"rawId": "!!"}},
                     {"credential": {"rawId": "AAAA", "response": {"clientDataJSON": "e30"}}}):
            resp = self.admin.post("/staff/api/sign-in", body)
            self.assertEqual(resp.status, 400, (body, resp))
        self.assertError(self.admin.post("/staff/api/enroll", {"token": 5}), 400, "malformed_request")

    # ---- roles, forgery and lookups ----

    def test_roles_limit_endpoints(self):
        viewer = self.new_member("Vera Viewer", "viewer")
        support = self.new_member("Stan Support", "support")
        self.assertError(viewer.get("/staff/api/accounts?q=%2B33612345678"), 403, "forbidden")
        self.assertError(support.get("/staff/api/audit"), 403, "forbidden")
        self.assertError(support.get("/staff/api/staff"), 403, "forbidden")
        self.assertError(support.post("/staff/api/staff/invites", {"name": "X", "role": "admin"}), 403, "forbidden")
        self.assertEqual(viewer.get("/staff/api/alerts").status, 200)
        self.assertEqual(self.admin.get("/staff/api/audit").status, 200)
        self.assertError(self.server.request("GET", "/staff/api/alerts"), 401, "unauthorized")

    def test_mutations_need_the_console_origin(self):
        resp = self.admin.post("/staff/api/staff/invites", {"name": "No Origin", "role": "viewer"}, origin=False)
        self.assertError(resp, 403, "forbidden")
        self.admin.origin, saved = "http://evil.example", self.admin.origin
        try:
            resp = self.admin.post("/staff/api/staff/invites", {"name": "Evil Origin", "role": "viewer"})
        finally:
            self.admin.origin = saved
        self.assertError(resp, 403, "forbidden")

    def test_admin_invites_and_disables_from_the_console(self):
        resp = self.admin.post("/staff/api/staff/invites", {"name": "Ivy Invited", "role": "responder"})
        self.assertEqual(resp.status, 201, resp)
        token = re.search(r"#enroll=([A-Za-z0-9_-]+)", resp.body["url"]).group(1)
        ivy = Staff(self.server, self.origin)
        self.assertEqual(ivy.enroll(token).status, 200)
        self.assertError(self.admin.post("/staff/api/staff/invites", {"name": "Ivy Invited", "role": "viewer"}),
                         409, "conflict")
        self.assertError(self.admin.post("/staff/api/staff/invites", {"name": "Bad Role", "role": "root"}),
                         400, "malformed_request")
        listed = self.admin.get("/staff/api/staff").body["staff"]
        ivy_id = next(m["id"] for m in listed if m["name"] == "Ivy Invited")
        self.assertEqual(self.admin.post(f"/staff/api/staff/{ivy_id}/disable").status, 200)
        self.assertError(ivy.get("/staff/api/me"), 401, "unauthorized")
        self.assertError(ivy.sign_in(), 401, "unauthorized")
        me = self.admin.get("/staff/api/me").body["id"]
        self.assertError(self.admin.post(f"/staff/api/staff/{me}/disable"), 403, "forbidden")

    def test_lookup_is_masked_and_unmask_is_audited(self):
        number = unique_number()
        harness.register(self.server, number, random_password())
        support = self.new_member("Lou Lookup", "support")
        found = support.get(f"/staff/api/accounts?q={number.replace('+', '%2B')}&case=CASE-42")
        self.assertEqual(found.status, 200, found)
        self.assertNotIn(number[3:], found.body["number"].replace(" ", ""))
        self.assertTrue(found.body["number"].endswith(number[-2:]))
        self.assertIn("\u2022", found.body["number"])
        uuid = found.body["uuid"]
        self.assertError(support.post(f"/staff/api/accounts/{uuid}/unmask", {}), 400, "malformed_request")
        unmasked = support.post(f"/staff/api/accounts/{uuid}/unmask", {"reason": "CASE-42: owner asked on the phone"})
        self.assertEqual(unmasked.status, 200, unmasked)
        self.assertEqual(unmasked.body["number"], number)
        missing = support.get("/staff/api/accounts?q=%2B33699999999&case=CASE-43")
        self.assertError(missing, 404, "not_found")
        self.assertError(support.get("/staff/api/accounts?q=hello"), 400, "malformed_request")

        entries = self.admin.get("/staff/api/audit?limit=20").body["entries"]
        actions = [(e["action"], e["target"]) for e in entries]
        self.assertIn(("account.unmask", uuid), actions)
        self.assertIn(("account.lookup", uuid), actions)
        unmask = next(e for e in entries if e["action"] == "account.unmask")
        self.assertEqual(unmask["details"]["reason"], "CASE-42: owner asked on the phone")
        self.assertNotIn(number, str(next(e for e in entries if e["action"] == "account.lookup")))
        seqs = [e["seq"] for e in entries]
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        self.assertError(self.admin.get("/staff/api/audit?limit=0"), 400, "malformed_request")

    def test_sign_ins_and_failures_are_audited(self):
        member = self.new_member("Aud Itor", "viewer")
        member.sign_in(corrupt_signature=True)
        entries = self.admin.get("/staff/api/audit?limit=50").body["entries"]
        actions = [e["action"] for e in entries]
        self.assertIn("staff.enroll", actions)
        self.assertIn("staff.invite", actions)
        self.assertIn("staff.sign_in_failed", actions)

    def test_console_is_served_with_a_strict_policy(self):
        resp = self.server.request("GET", "/console/")
        self.assertEqual(resp.status, 200)
        self.assertIn("text/html", resp.headers.get("Content-Type"))
        csp = resp.headers.get("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(self.server.request("GET", "/console/nope.js").status, 404)
        redirect = self.server.request("GET", "/console")
        self.assertEqual(redirect.status, 308)


class StaffSessionLimitsTest(StaffTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.origin = start_staff_server(cls, {"staff": {"lookups_per_staff": {"burst": 2, "refill": "1h"},
                                                                    "sign_in_per_ip": {"burst": 3, "refill": "1h"}}})

    def test_lookups_and_sign_in_options_are_rate_limited(self):
        support = Staff(self.server, self.origin)
        self.assertEqual(support.enroll(invite_from_cli(self.server, "Rate Limited", "support")).status, 200)
        for _ in range(2):
            self.assertEqual(support.get("/staff/api/accounts?q=%2B33699999998").status, 404)
        self.assertError(support.get("/staff/api/accounts?q=%2B33699999998"), 429, "rate_limited")
        statuses = [support.post("/staff/api/sign-in/options").status for _ in range(4)]
        self.assertEqual(statuses[-1], 429)


if __name__ == "__main__":
    unittest.main()
