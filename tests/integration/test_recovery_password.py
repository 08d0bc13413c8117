"""Registration recovery password: a re-installing owner registers without any SMS."""
import harness
from harness import (LatchkeyTestCase, random_password, register_with_session, start_server, unique_number,
                     verified_session, whoami)

RECOVERY = "recovery-password-" + "r" * 30


class RecoveryPasswordTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        # The takeover delay stays on: the recovery password proves the owner, so it must not apply.
        cls.server = start_server(cls, {
            "verification": {"proof_of_work_bits": 4},
            "accounts": {"takeover_delay": "24h"},
            "limits": harness.relaxed_number_limits(),
        })

    def register_with_recovery(self, number, password, recovery=RECOVERY):
        s = self.server
        body = harness.registration_body(verified_session(s, number))
        body["accountAttributes"]["recoveryPassword"] = recovery
        r = s.request("POST", "/v1/registration", body, auth=(number, password))
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def by_recovery(self, number, password, recovery=RECOVERY, **attributes):
        body = {"recoveryPassword": recovery, "accountAttributes": {"registrationId": 77, **attributes}}
        return self.server.request("POST", "/v1/registration", body, auth=(number, password))

    def test_reinstall_without_sms(self):
        s = self.server
        number = unique_number("33")
        old = random_password()
        first = self.register_with_recovery(number, old)
        sms_before = len(s.outbox_lines())
        new = random_password()
        r = self.by_recovery(number, new, recoveryPassword=RECOVERY)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["uuid"], first["uuid"])
        self.assertEqual(len(s.outbox_lines()), sms_before)  # no SMS at all
        self.assertEqual(whoami(s, first["uuid"], old).status, 401)
        self.assertEqual(whoami(s, first["uuid"], new).status, 200)
        # It was stored again by that registration, so it works once more.
        self.assertEqual(self.by_recovery(number, random_password()).status, 200)

    def test_wrong_or_missing_recovery_password(self):
        number = unique_number("33")
        self.register_with_recovery(number, random_password())
        self.assertError(self.by_recovery(number, random_password(), recovery="x" * 40), 403,
                         "recovery_password_invalid")
        self.assertError(self.by_recovery(unique_number("33"), random_password()), 403, "recovery_password_invalid")

    def test_cleared_when_someone_completes_an_sms_verification(self):
        s = self.server
        number = unique_number("33")
        self.register_with_recovery(number, random_password())
        verified_session(s, number)  # someone else proves control of the number by SMS
        self.assertError(self.by_recovery(number, random_password()), 403, "recovery_password_invalid")

    def test_registration_lock_still_applies(self):
        s = self.server
        number = unique_number("33")
        password = random_password()
        account = self.register_with_recovery(number, password)
        token = "cd" * 32
        self.assertEqual(s.request("PUT", "/v1/accounts/registration_lock", {"registrationLock": token},
                                   auth=(account["uuid"], password)).status, 204)
        self.assertError(self.by_recovery(number, random_password()), 423, "registration_locked")
        r = self.by_recovery(number, random_password(), registrationLock=token)
        self.assertEqual(r.status, 200, r.body)

    def test_bad_requests(self):
        s = self.server
        number = unique_number("33")
        sid = verified_session(s, number)
        both = {"sessionId": sid, "recoveryPassword": RECOVERY, "accountAttributes": {"registrationId": 1}}
        self.assertError(s.request("POST", "/v1/registration", both, auth=(number, random_password())), 400,
                         "malformed_request")
        self.assertError(self.by_recovery(number, random_password(), recovery="short"), 400, "malformed_request")
        self.assertError(self.by_recovery(number, random_password(), recovery="x" * 300), 400, "malformed_request")
        body = harness.registration_body(sid)
        body["accountAttributes"]["recoveryPassword"] = 12
        self.assertError(s.request("POST", "/v1/registration", body, auth=(number, random_password())), 400,
                         "malformed_request")
        self.assertError(s.request("POST", "/v1/registration", {"recoveryPassword": RECOVERY,
                                                                "accountAttributes": {"registrationId": 1}}),
                         401, "unauthorized")
