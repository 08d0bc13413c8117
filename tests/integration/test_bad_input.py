"""Bad input: malformed and oversized requests, bad numbers, gate and code abuse, exhausted limits, routing
errors and authentication failures. Every error must carry the contract's body and status, and the server
must still be healthy afterwards."""

import socket
import time
import unittest

from harness import (LatchkeyTestCase, create_session, pass_gate, register_with_session, request_code,
                     session_path, solve_pow, start_server, submit_code, unique_number, random_password,
                     verified_session, whoami, wrong_pow, basic_auth)

SESSION = "/v1/verification/session"


class BadInputTest(LatchkeyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, {
            "verification": {"proof_of_work_bits": 8},
            "limits": {"session_create_per_number": {"burst": 3, "refill": "1h"}},
        })

    # ---- helpers ---------------------------------------------------------------------------------------

    def gated_session(self, cc="33"):
        number = unique_number(cc)
        return number, pass_gate(self.server, create_session(self.server, number))

    def session_with_code(self):
        number, gated = self.gated_session()
        request_code(self.server, gated["id"])
        return number, gated["id"], self.server.latest_code(number)

    # ---- bodies ----------------------------------------------------------------------------------------

    def test_malformed_json(self):
        s = self.server
        number, gated = self.gated_session()
        sid = gated["id"]
        bad_bodies = ["{not json", '{"number": "+33612345678"', "", "\x00\x01\x02", b'{"number": "\xff\xfe"}',
                      "nul", '{"a":1}{"b":2}']
        for body in bad_bodies:
            with self.subTest(body=body):
                self.assertError(s.request("POST", SESSION, body), 400, "malformed_request")
                self.assertError(s.request("PATCH", session_path(sid), body), 400, "malformed_request")
                self.assertError(s.request("POST", session_path(sid, "/code"), body), 400, "malformed_request")
                self.assertError(s.request("PUT", session_path(sid, "/code"), body), 400, "malformed_request")
                self.assertError(s.request("POST", "/v1/registration", body, auth=(number, random_password())),
                                 400, "malformed_request")

    def test_json_not_an_object(self):
        s = self.server
        number, gated = self.gated_session()
        sid = gated["id"]
        for body in ("[]", '["+33612345678"]', '"+33612345678"', "42", "null", "true"):
            with self.subTest(body=body):
                self.assertError(s.request("POST", SESSION, body), 400, "malformed_request")
                self.assertError(s.request("PATCH", session_path(sid), body), 400, "malformed_request")
                self.assertError(s.request("POST", session_path(sid, "/code"), body), 400, "malformed_request")
                self.assertError(s.request("PUT", session_path(sid, "/code"), body), 400, "malformed_request")
                self.assertError(s.request("POST", "/v1/registration", body, auth=(number, random_password())),
                                 400, "malformed_request")

    def test_session_number_missing_or_wrong_type(self):
        s = self.server
        for body in ({}, {"numbr": "+33612345678"}, {"number": None}, {"number": 33612345678},
                     {"number": ["+33612345678"]}, {"number": {"e164": "+33612345678"}}, {"number": True}):
            with self.subTest(body=body):
                self.assertError(s.request("POST", SESSION, body), 400, "malformed_request")

    def test_huge_body(self):
        s = self.server
        body = {"number": unique_number("33"), "padding": "x" * 70000}
        try:
            r = s.request("POST", SESSION, body)
        except (ConnectionResetError, BrokenPipeError) as e:
            self.fail(f"expected a 413 answer to a 70 kB body, the connection was reset instead ({e!r})")
        self.assertError(r, 413, "payload_too_large")
        number, gated = self.gated_session()
        try:
            r = s.request("PUT", session_path(gated["id"], "/code"), {"code": "123456", "p": "y" * 66000})
        except (ConnectionResetError, BrokenPipeError) as e:
            self.fail(f"expected a 413 answer to a 66 kB body, the connection was reset instead ({e!r})")
        self.assertError(r, 413, "payload_too_large")
        self.assertServerHealthy(s)

    def test_huge_declared_content_length_is_refused_without_reading(self):
        """A Content-Length of 10 MB with only a few bytes sent: 413 at once, not a wait for the body."""
        s = self.server
        with s.raw_socket(timeout=10) as sock:
            sock.sendall(b"POST /v1/verification/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{\"number\":")
            start = time.monotonic()
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                pass
            elapsed = time.monotonic() - start
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), f"got {data[:200]!r} after {elapsed:.1f}s")
        self.assertServerHealthy(s)

    # ---- numbers ---------------------------------------------------------------------------------------

    def test_bad_numbers(self):
        s = self.server
        for number in ("abc", "+1", "+999999999999999", "0612345678", "+3361234", "+33012345678", "",
                       "+33 6 12 34 56 78 90 12"):
            with self.subTest(number=number):
                self.assertError(s.request("POST", SESSION, {"number": number}), 400, "invalid_number")

    # ---- proof of work ---------------------------------------------------------------------------------

    def test_nonce_not_digits(self):
        s = self.server
        created = create_session(s, unique_number("33"))
        sid = created["id"]
        for nonce in ("abc", "", "12a", "-1", " 1", "1 ", "1.5", "+1", "1e3", "1" * 21, "١٢٣", 123, None,
                      ["1"], {"n": "1"}):
            with self.subTest(nonce=nonce):
                self.assertError(s.request("PATCH", session_path(sid), {"proofOfWork": {"nonce": nonce}}),
                                 400, "malformed_request")
        for body in ({"proofOfWork": "123"}, {"proofOfWork": 123}, {"proofOfWork": {}}, {"proofOfWork": [1]}):
            with self.subTest(body=body):
                self.assertError(s.request("PATCH", session_path(sid), body), 400, "malformed_request")
        r = s.request("GET", session_path(sid))
        self.assertEqual(r.status, 200)
        self.assertSessionShape(r.body, gate_pending=True)
        self.assertEqual(r.body["proofOfWork"], created["proofOfWork"], "bad nonces leave the challenge as it was")

    def test_wrong_nonce(self):
        s = self.server
        created = create_session(s, unique_number("33"))
        pow_info = created["proofOfWork"]
        nonce = wrong_pow(pow_info["challenge"], pow_info["bits"])
        self.assertError(s.request("PATCH", session_path(created["id"]), {"proofOfWork": {"nonce": nonce}}),
                         403, "proof_of_work_invalid")
        r = s.request("GET", session_path(created["id"]))
        self.assertEqual(r.status, 200)
        self.assertSessionShape(r.body, gate_pending=True)
        self.assertIs(r.body["allowedToRequestCode"], False)
        # The right nonce still opens the gate.
        good = solve_pow(r.body["proofOfWork"]["challenge"], r.body["proofOfWork"]["bits"])
        r = s.request("PATCH", session_path(created["id"]), {"proofOfWork": {"nonce": good}})
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.body["allowedToRequestCode"], True)

    def test_code_request_before_gate(self):
        s = self.server
        number = unique_number("33")
        created = create_session(s, number)
        for transport in ("sms", "voice"):
            with self.subTest(transport=transport):
                self.assertError(s.request("POST", session_path(created["id"], "/code"), {"transport": transport}),
                                 409, "proof_of_work_required")
        self.assertEqual(s.outbox_for(number), [], "no code is sent before the gate")

    # ---- code requests ---------------------------------------------------------------------------------

    def test_transport_missing_or_unknown(self):
        s = self.server
        number, gated = self.gated_session()
        for body in ({}, {"transport": "carrier-pigeon"}, {"transport": "SMS "}, {"transport": 1},
                     {"transport": None}, {"transport": ["sms"]}, {"locale": "fr"}):
            with self.subTest(body=body):
                self.assertError(s.request("POST", session_path(gated["id"], "/code"), body), 400,
                                 "malformed_request")
        self.assertError(s.request("POST", session_path(gated["id"], "/code"), {"transport": "voice"}), 400,
                         "transport_not_offered")
        self.assertEqual(s.outbox_for(number), [])

    def test_code_requested_too_soon(self):
        s = self.server
        number, gated = self.gated_session()
        request_code(s, gated["id"])
        r = s.request("POST", session_path(gated["id"], "/code"), {"transport": "sms"})
        self.assertError(r, 429, "rate_limited")
        self.assertLessEqual(int(r.headers["Retry-After"]), 60)
        self.assertEqual(len(s.outbox_for(number)), 1, "the refused request sent nothing")

    # ---- code checks -----------------------------------------------------------------------------------

    def test_bad_code_formats(self):
        s = self.server
        number, sid, code = self.session_with_code()
        for bad in ("12345", "1234567", "abcdef", "12345a", " 123456", "123456 ", "12 456", "١٢٣٤٥٦", "",
                    123456, None, ["123456"], {"code": "123456"}):
            with self.subTest(code=bad):
                self.assertError(s.request("PUT", session_path(sid, "/code"), {"code": bad}), 400,
                                 "malformed_request")
        self.assertError(s.request("PUT", session_path(sid, "/code"), {}), 400, "malformed_request")
        r = submit_code(s, sid, code)
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.body["verified"], True, "malformed checks are not guesses and do not burn the code")

    def test_check_without_code(self):
        s = self.server
        number, gated = self.gated_session()
        self.assertError(submit_code(s, gated["id"], "123456"), 409, "no_active_code")
        created = create_session(s, unique_number("33"))
        self.assertError(submit_code(s, created["id"], "123456"), 409, "no_active_code")

    def test_brute_force_burns_the_code(self):
        s = self.server
        number, sid, code = self.session_with_code()
        wrong_codes = [f"{(int(code) + k) % 1000000:06d}" for k in range(1, 6)]
        for i, wrong in enumerate(wrong_codes):
            r = submit_code(s, sid, wrong)
            self.assertEqual(r.status, 200, f"wrong guess {i + 1}: {r.body!r}")
            self.assertSessionShape(r.body)
            self.assertIs(r.body["verified"], False)
        self.assertError(submit_code(s, sid, f"{(int(code) + 6) % 1000000:06d}"), 409, "no_active_code")
        self.assertError(submit_code(s, sid, code), 409, "no_active_code")
        r = s.request("GET", session_path(sid))
        self.assertEqual(r.status, 200)
        self.assertIs(r.body["verified"], False, "the right code after burning does not verify")
        self.assertError(register_with_session(s, sid, number, random_password()), 403, "session_not_verified")

    # ---- limits ----------------------------------------------------------------------------------------

    def test_session_create_per_number_bucket(self):
        s = self.server
        number = unique_number("33")
        for i in range(3):
            r = s.request("POST", SESSION, {"number": number})
            self.assertEqual(r.status, 200, f"session {i + 1} of a burst of 3: {r.body!r}")
        r = s.request("POST", SESSION, {"number": number})
        self.assertError(r, 429, "rate_limited")
        self.assertLessEqual(int(r.headers["Retry-After"]), 3600)
        # Another number is not affected.
        self.assertEqual(s.request("POST", SESSION, {"number": unique_number("33")}).status, 200)

    # ---- routing ---------------------------------------------------------------------------------------

    def test_unknown_route(self):
        s = self.server
        for method, path in (("GET", "/"), ("GET", "/nope"), ("GET", "/v1/verification"), ("POST", "/v1/regist"),
                             ("GET", "/v1/accounts/whoami/extra"), ("GET", "/v2/verification/session"),
                             ("POST", "/v1/verification/session/abc/code/extra")):
            with self.subTest(method=method, path=path):
                self.assertError(s.request(method, path), 404, "not_found")

    def test_wrong_method(self):
        s = self.server
        _, gated = self.gated_session()
        sid = gated["id"]
        cases = (
            ("DELETE", "/health", {"GET"}),
            ("POST", "/metrics", {"GET"}),
            ("GET", SESSION, {"POST"}),
            ("DELETE", session_path(sid), {"GET", "PATCH"}),
            ("GET", session_path(sid, "/code"), {"POST", "PUT"}),
            ("GET", "/v1/registration", {"POST"}),
            ("POST", "/v1/accounts/whoami", {"GET"}),
            ("GET", "/v1/accounts/me", {"DELETE"}),
        )
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                r = s.request(method, path)
                self.assertError(r, 405, "method_not_allowed")
                allow = r.headers.get("Allow")
                self.assertIsNotNone(allow, "405 without Allow")
                methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
                self.assertTrue(allowed <= methods, f"Allow: {allow!r} should list {sorted(allowed)}")

    def test_unknown_session_id(self):
        s = self.server
        for sid in ("AAAAAAAAAAAAAAAAAAAAAA", "nope", "x" * 200, "..", "%00"):
            with self.subTest(sid=sid):
                self.assertError(s.request("GET", session_path(sid)), 404, "session_not_found")
                self.assertError(s.request("PATCH", session_path(sid), {"proofOfWork": {"nonce": "1"}}), 404,
                                 "session_not_found")
                self.assertError(s.request("POST", session_path(sid, "/code"), {"transport": "sms"}), 404,
                                 "session_not_found")
                self.assertError(s.request("PUT", session_path(sid, "/code"), {"code": "123456"}), 404,
                                 "session_not_found")

    # ---- registration ----------------------------------------------------------------------------------

    def test_registration_bad_bodies_and_passwords(self):
        s = self.server
        number = unique_number("33")
        sid = verified_session(s, number)
        self.assertError(register_with_session(s, sid, number, "a" * 15), 400, "malformed_request")
        self.assertError(register_with_session(s, sid, number, "a" * 513), 400, "malformed_request")
        good = "p" * 16
        for rid in (0, 16384, -1, "12", 1.5, None, True):
            with self.subTest(registrationId=rid):
                body = {"sessionId": sid, "accountAttributes": {"registrationId": rid}}
                self.assertError(s.request("POST", "/v1/registration", body, auth=(number, good)), 400,
                                 "malformed_request")
        for body in ({}, {"sessionId": sid}, {"accountAttributes": {"registrationId": 1}},
                     {"sessionId": 12, "accountAttributes": {"registrationId": 1}},
                     {"sessionId": sid, "accountAttributes": "x"},
                     {"sessionId": sid, "accountAttributes": {"registrationId": 1, "name": 5}},
                     {"sessionId": sid, "accountAttributes": {"registrationId": 1, "name": "n" * 257}}):
            with self.subTest(body=body):
                self.assertError(s.request("POST", "/v1/registration", body, auth=(number, good)), 400,
                                 "malformed_request")
        # None of that consumed the session: the boundaries themselves are accepted.
        r = register_with_session(s, sid, number, good, registration_id=16383, name="n" * 256)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(whoami(s, r.body["uuid"], good).status, 200)
        self.assertError(whoami(s, r.body["uuid"], "p" * 17), 401, "unauthorized")

    def test_missing_or_malformed_auth(self):
        s = self.server
        number = unique_number("33")
        sid = verified_session(s, number)
        body = {"sessionId": sid, "accountAttributes": {"registrationId": 7}}
        self.assertError(s.request("POST", "/v1/registration", body), 401, "unauthorized")
        self.assertError(s.request("GET", "/v1/accounts/whoami"), 401, "unauthorized")
        self.assertError(s.request("DELETE", "/v1/accounts/me"), 401, "unauthorized")
        for header in ("Bearer abc", "Basic", "Basic !!!notbase64", "Basic " + "bm9jb2xvbg==",  # "nocolon"
                       "basicx " + basic_auth(number, "p" * 20)[6:]):
            with self.subTest(header=header):
                self.assertError(s.request("POST", "/v1/registration", body, headers={"Authorization": header}),
                                 401, "unauthorized")
                self.assertError(s.request("GET", "/v1/accounts/whoami", headers={"Authorization": header}),
                                 401, "unauthorized")
        self.assertError(whoami(s, "00000000-0000-4000-8000-000000000000", "p" * 20), 401, "unauthorized")
        self.assertError(whoami(s, "not-a-uuid.1", "p" * 20), 401, "unauthorized")
        # The session was not consumed by the refused attempts.
        self.assertEqual(register_with_session(s, sid, number, "q" * 20).status, 200)

    def test_zz_server_still_healthy(self):
        """Runs last (alphabetical order): nothing above crashed or wedged the server."""
        self.assertServerHealthy(self.server)
        r = self.server.request("POST", SESSION, {"number": unique_number("33")})
        self.assertEqual(r.status, 200)


class CountryAllowListTest(LatchkeyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, {"verification": {"proof_of_work_bits": 8, "allowed_country_codes": ["49"]}})

    def test_country_not_allowed(self):
        s = self.server
        for number in (unique_number("33"), unique_number("81"), unique_number("1")):
            with self.subTest(number=number):
                self.assertError(s.request("POST", SESSION, {"number": number}), 403, "country_not_allowed")
        r = s.request("POST", SESSION, {"number": unique_number("49")})
        self.assertEqual(r.status, 200, r.body)
        self.assertServerHealthy(s)


if __name__ == "__main__":
    unittest.main()
