"""SMS provider routing and failover against a fake Twilio (tests/fakes/fake_twilio.py) on loopback.

Routes: default = [twilio, dev-outbox]; "49" = [twilio] (no fallback); "33" = [dev-outbox] (bypasses Twilio);
"34" = [twilio-off (disabled), dev-outbox]; "1" = [twilio-mg (messaging service sid), dev-outbox].
Default-route numbers are Japanese (+81)."""

import secrets
import time
import unittest

import harness
from harness import (LatchkeyTestCase, create_session, metric_sum, pass_gate, register_with_session,
                     session_path, start_server, submit_code, unique_number, random_password, whoami)
from fake_twilio import FakeTwilio

FROM = "+15550000000"


class SmsFailoverTest(LatchkeyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeTwilio(account_sid="AC" + secrets.token_hex(16), auth_token="tok-" + secrets.token_hex(12))
        cls.fake.start()
        cls.addClassCleanup(cls.fake.stop)
        cls.messaging_service_sid = "MG" + secrets.token_hex(16)
        twilio = {"kind": "twilio-messaging", "account_sid": cls.fake.account_sid,
                  "auth_token": cls.fake.auth_token, "api_base": cls.fake.base_url, "timeout": "500ms"}
        cls.server = start_server(cls, {
            "verification": {"proof_of_work_bits": 8},
            "sms": {
                "providers": [
                    dict(twilio, name="twilio", **{"from": FROM}),
                    {"name": "dev-outbox", "kind": "outbox", "path": "outbox.jsonl"},
                    dict(twilio, name="twilio-off", enabled=False, **{"from": FROM}),
                    dict(twilio, name="twilio-mg", messaging_service_sid=cls.messaging_service_sid),
                ],
                "routing": harness.Table({
                    "default": ["twilio", "dev-outbox"],
                    "49": ["twilio"],
                    "33": ["dev-outbox"],
                    "34": ["twilio-off", "dev-outbox"],
                    "1": ["twilio-mg", "dev-outbox"],
                }),
            },
        })

    def setUp(self):
        self.fake.set_mode("ok")

    def tearDown(self):
        self.fake.set_mode("ok")

    # ---- helpers ---------------------------------------------------------------------------------------

    def gated(self, cc="81"):
        number = unique_number(cc)
        return number, pass_gate(self.server, create_session(self.server, number))

    def send(self, sid, transport="sms"):
        return self.server.request("POST", session_path(sid, "/code"), {"transport": transport})

    def fake_messages_to(self, number):
        return [m for m in self.fake.messages if m["To"] == number]

    def assertVerifies(self, sid, code):
        r = submit_code(self.server, sid, code)
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.body["verified"], True)

    # ---- cases -----------------------------------------------------------------------------------------

    def test_ok_goes_through_twilio(self):
        number, session = self.gated()
        before = self.fake.request_count
        r = self.send(session["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertSessionShape(r.body)
        self.assertEqual(self.fake.request_count, before + 1)
        msgs = self.fake_messages_to(number)
        self.assertEqual(len(msgs), 1, self.fake.messages)
        msg = msgs[0]
        self.assertEqual(msg["To"], number)
        self.assertEqual(msg["From"], FROM)
        self.assertIsNone(msg["MessagingServiceSid"])
        code = harness.extract_code(msg["Body"])
        self.assertEqual(self.server.outbox_for(number), [], "a message Twilio accepted is not also sent elsewhere")
        self.assertVerifies(session["id"], code)
        password = random_password()
        reg = register_with_session(self.server, session["id"], number, password)
        self.assertEqual(reg.status, 200, reg.body)
        self.assertEqual(whoami(self.server, reg.body["uuid"], password).status, 200)

    def test_messaging_service_sid_instead_of_from(self):
        number, session = self.gated("1")
        r = self.send(session["id"])
        self.assertEqual(r.status, 200, r.body)
        msgs = self.fake_messages_to(number)
        self.assertEqual(len(msgs), 1, self.fake.messages)
        self.assertEqual(msgs[0]["MessagingServiceSid"], self.messaging_service_sid)
        self.assertFalse(msgs[0]["From"], "From is not sent when only messaging_service_sid is configured")
        self.assertVerifies(session["id"], harness.extract_code(msgs[0]["Body"]))

    def test_retryable_failures_fall_back_to_the_outbox(self):
        for mode in ("error_500", "timeout", "garbage", "twilio_error:20429"):
            with self.subTest(mode=mode):
                self.fake.set_mode(mode)
                number, session = self.gated()
                before = self.fake.request_count
                start = time.monotonic()
                r = self.send(session["id"])
                elapsed = time.monotonic() - start
                self.assertEqual(r.status, 200, f"{mode}: {r.body!r}")
                self.assertSessionShape(r.body)
                self.assertEqual(r.body["nextVerificationAttempt"], 0)
                self.assertGreaterEqual(self.fake.request_count, before + 1, "Twilio was tried first")
                self.assertEqual(self.fake_messages_to(number), [])
                line = self.server.latest_message(number)
                self.assertEqual(line["provider"], "dev-outbox")
                self.assertEqual(line["transport"], "sms")
                if mode == "timeout":
                    self.assertLess(elapsed, 5.0, "the 500ms provider timeout was not applied")
                self.assertVerifies(session["id"], harness.extract_code(line["body"]))

    def test_refusal_stops_routing(self):
        for code in (21408, 30450, 60410, 60605):
            with self.subTest(twilio_code=code):
                self.fake.set_mode(f"twilio_error:{code}")
                number, session = self.gated()
                self.assertError(self.send(session["id"]), 403, "sms_refused")
                self.assertEqual(self.server.outbox_for(number), [], "a refusal must not fall back to another provider")

    def test_invalid_number_from_provider(self):
        for code in (21211, 21614):
            with self.subTest(twilio_code=code):
                self.fake.set_mode(f"twilio_error:{code}")
                number, session = self.gated()
                self.assertError(self.send(session["id"]), 400, "invalid_number")
                self.assertEqual(self.server.outbox_for(number), [])

    def test_every_provider_failed(self):
        for mode in ("error_500", "garbage", "timeout"):
            with self.subTest(mode=mode):
                self.fake.set_mode(mode)
                number, session = self.gated("49")
                before = self.fake.request_count
                self.assertError(self.send(session["id"]), 502, "sms_delivery_failed")
                self.assertGreaterEqual(self.fake.request_count, before + 1)
                self.assertEqual(self.server.outbox_for(number), [])
                r = self.server.request("GET", session_path(session["id"]))
                self.assertEqual(r.status, 200)
                self.assertIs(r.body["verified"], False)

    def test_country_route_bypasses_twilio(self):
        self.fake.set_mode("error_500")  # would fail if Twilio were tried
        number, session = self.gated("33")
        before = self.fake.request_count
        r = self.send(session["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.fake.request_count, before, "the +33 route does not include Twilio")
        line = self.server.latest_message(number)
        self.assertEqual(line["provider"], "dev-outbox")
        self.assertVerifies(session["id"], harness.extract_code(line["body"]))

    def test_disabled_provider_is_skipped(self):
        number, session = self.gated("34")
        before = self.fake.request_count
        r = self.send(session["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.fake.request_count, before, "a provider with enabled = false is never called")
        self.assertEqual(self.fake_messages_to(number), [])
        line = self.server.latest_message(number)
        self.assertEqual(line["provider"], "dev-outbox")
        self.assertVerifies(session["id"], harness.extract_code(line["body"]))

    def test_sms_metrics_reflect_outcomes(self):
        name = "latchkey_sms_sent_total"
        before = self.server.metrics()
        plan = [("ok", "81"), ("error_500", "81"), ("twilio_error:21408", "81"), ("twilio_error:21211", "81"),
                ("ok", "33")]
        for mode, cc in plan:
            self.fake.set_mode(mode)
            _, session = self.gated(cc)
            self.send(session["id"])
        after = self.server.metrics()

        def delta(**labels):
            return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)

        self.assertIn(name, harness.metric_names(after), "latchkey_sms_sent_total missing from /metrics")
        self.assertEqual(delta(provider="twilio", transport="sms", outcome="sent"), 1)
        self.assertEqual(delta(provider="twilio", transport="sms", outcome="retryable"), 1)
        self.assertEqual(delta(provider="twilio", transport="sms", outcome="refused"), 1)
        self.assertEqual(delta(provider="twilio", transport="sms", outcome="invalid_number"), 1)
        self.assertEqual(delta(provider="dev-outbox", transport="sms", outcome="sent"), 2,
                         "one fallback after the 500 and one +33 send")


if __name__ == "__main__":
    unittest.main()
