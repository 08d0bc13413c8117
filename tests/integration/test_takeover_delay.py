"""The takeover delay: an SMS code alone does not take over an active account without Registration Lock.

Completion after the delay is covered by the unit test with an injected clock (src/lock/takeover_guard_test.cc);
here the real binary is driven through the owner's refusal and approval, without sleeping.
"""
import harness
from harness import (LatchkeyTestCase, random_password, register, register_with_session, start_server,
                     unique_number, verified_session, whoami)


class TakeoverDelayTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, {
            "verification": {"proof_of_work_bits": 4},
            "accounts": {"takeover_delay": "24h"},
            "limits": harness.relaxed_number_limits(),
        })

    def owner_and_attempt(self):
        s = self.server
        number = unique_number("33")
        owner_password = random_password()
        owner = register(s, number, owner_password)
        session = verified_session(s, number)
        r = register_with_session(s, session, number, random_password())
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.body["status"], "pending_takeover")
        return number, owner, owner_password, session, r.body

    def test_pending_takeover_waits_and_tells_the_owner(self):
        s = self.server
        number, owner, owner_password, session, pending = self.owner_and_attempt()
        day_ms = 24 * 3600 * 1000
        import time
        self.assertAlmostEqual(pending["notBefore"], time.time() * 1000 + day_ms, delta=120_000)
        # Nothing changed yet: the owner's credentials work.
        self.assertEqual(whoami(s, owner["uuid"], owner_password).status, 200)
        # Repeating the call before the delay answers the same pending state.
        again = register_with_session(s, session, number, random_password())
        self.assertEqual(again.status, 202)
        self.assertEqual(again.body["takeoverId"], pending["takeoverId"])
        self.assertEqual(again.body["notBefore"], pending["notBefore"])
        notices = s.request("GET", "/v1/accounts/notices", auth=(owner["uuid"], owner_password))
        self.assertEqual(notices.status, 200)
        kinds = [n["kind"] for n in notices.body["notices"]]
        self.assertEqual(kinds, ["takeover_pending"])
        self.assertEqual(notices.body["notices"][0]["details"]["takeoverId"], pending["takeoverId"])

    def test_owner_denies_and_the_session_is_burned(self):
        s = self.server
        number, owner, owner_password, session, pending = self.owner_and_attempt()
        path = f"/v1/accounts/takeover/{pending['takeoverId']}/deny"
        self.assertError(s.request("POST", path), 401, "unauthorized")
        other_password = random_password()
        other = register(s, unique_number("33"), other_password)
        self.assertError(s.request("POST", path, auth=(other["uuid"], other_password)), 404, "not_found")
        r = s.request("POST", path, auth=(owner["uuid"], owner_password))
        self.assertEqual(r.status, 204, r.body)
        self.assertError(s.request("POST", path, auth=(owner["uuid"], owner_password)), 409, "conflict")
        self.assertError(register_with_session(s, session, number, random_password()), 403, "takeover_denied")
        self.assertEqual(whoami(s, owner["uuid"], owner_password).status, 200)

    def test_owner_approves_and_the_new_device_registers(self):
        s = self.server
        number, owner, owner_password, session, pending = self.owner_and_attempt()
        r = s.request("POST", f"/v1/accounts/takeover/{pending['takeoverId']}/approve", auth=(owner["uuid"], owner_password))
        self.assertEqual(r.status, 204, r.body)
        new_password = random_password()
        done = register_with_session(s, session, number, new_password)
        self.assertEqual(done.status, 200, done.body)
        self.assertEqual(done.body["uuid"], owner["uuid"])
        self.assertEqual(whoami(s, owner["uuid"], owner_password).status, 401)
        self.assertEqual(whoami(s, owner["uuid"], new_password).status, 200)

    def test_unknown_takeover_id(self):
        s = self.server
        password = random_password()
        owner = register(s, unique_number("33"), password)
        self.assertError(s.request("POST", "/v1/accounts/takeover/nope/deny", auth=(owner["uuid"], password)), 404,
                         "not_found")

    def test_registration_lock_owner_skips_the_delay(self):
        s = self.server
        number = unique_number("33")
        password = random_password()
        owner = register(s, number, password)
        token = "ab" * 32
        self.assertEqual(s.request("PUT", "/v1/accounts/registration_lock", {"registrationLock": token},
                                   auth=(owner["uuid"], password)).status, 204)
        session = verified_session(s, number)
        r = register_with_session(s, session, number, random_password())
        self.assertEqual(r.status, 423, r.body)  # the lock answers first
        body = harness.registration_body(session)
        body["accountAttributes"]["registrationLock"] = token
        r = s.request("POST", "/v1/registration", body, auth=(number, random_password()))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["uuid"], owner["uuid"])
