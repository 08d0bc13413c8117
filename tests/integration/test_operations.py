"""Operating the server: CLI and configuration checking, durability across kill -9, graceful SIGTERM, metrics,
logs (JSON, no secrets), TLS, oversized headers and slow clients."""

import json
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import (LatchkeyTestCase, Server, basic_auth, create_session, metric_names, metric_sum, pass_gate,
                     register, request_code, session_path, start_server, submit_code, unique_number,
                     random_password, whoami)
from fake_twilio import FakeTwilio

CLI_TIMEOUT = 20


def run_cli(*args, timeout=CLI_TIMEOUT):
    proc = subprocess.run([harness.require_binary(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


BAD_CONFIG = """\
[server]
bogus_key = 1

[verification]
code_ttl = "ten minutes"
proof_of_work_bits = -3

[[sms.providers]]
name = "dev-outbox"
kind = "outbox"
path = "outbox.jsonl"

[sms.routing]
default = ["dev-outbox", "nope"]
"""

BAD_CONFIG_PATHS = ("server.bogus_key", "verification.code_ttl", "verification.proof_of_work_bits",
                    "sms.routing.default[1]")


class CliTest(LatchkeyTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.tmp = tempfile.mkdtemp(prefix="latchkey-cli-")
        cls.addClassCleanup(lambda: __import__("shutil").rmtree(cls.tmp, ignore_errors=True))

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def assertListsPaths(self, stderr, paths):
        lines = stderr.splitlines()
        for path in paths:
            self.assertTrue(any(line.startswith(path) for line in lines),
                            f"no stderr line starts with {path!r}:\n{stderr}")

    def test_help(self):
        code, out, err = run_cli("--help")
        self.assertEqual(code, 0, err)
        text = out + err
        self.assertIn("serve", text)
        self.assertIn("check-config", text)

    def test_check_config_accepts_the_shipped_dev_config(self):
        path = os.path.join(harness.SOURCE_DIR, "config", "latchkey.dev.toml")
        if not os.path.isfile(path):
            self.skipTest(f"{path} not found")
        code, out, err = run_cli("check-config", "--config", path)
        self.assertEqual(code, 0, err)

    def test_check_config_accepts_the_harness_config(self):
        path = self.write("good.toml", harness.to_toml(harness.base_config()))
        code, out, err = run_cli("check-config", "--config", path)
        self.assertEqual(code, 0, err)

    def test_check_config_lists_every_problem(self):
        path = self.write("bad.toml", BAD_CONFIG)
        code, out, err = run_cli("check-config", "--config", path)
        self.assertEqual(code, 2, f"stdout: {out}\nstderr: {err}")
        self.assertListsPaths(err, BAD_CONFIG_PATHS)
        self.assertRegex(err, r'sms\.routing\.default\[1\]:.*"?nope"?')

    def test_check_config_single_problems(self):
        cases = [
            ({"storage": {"backend": "mysql"}}, ["storage.backend"]),
            ({"server": {"listen": "not an address"}}, ["server.listen"]),
            ({"server": {"read_timeout": "5 parsecs"}}, ["server.read_timeout"]),
            ({"log": {"level": "loud"}}, ["log.level"]),
            ({"limits": {"session_create_per_number": {"burst": 10, "refill": "soon"}}},
             ["limits.session_create_per_number.refill"]),
            ({"verification": {"sms_delays": ["1m", "later"]}}, ["verification.sms_delays[1]"]),
            ({"verification": {"code_hash_key": "abc"}}, ["verification.code_hash_key"]),
            ({"sms": {"providers": [{"name": "dev-outbox", "kind": "carrier-pigeon", "path": "o.jsonl"}]}},
             ["sms.providers[0].kind"]),
            ({"sms": {"providers": [{"name": "dev-outbox", "kind": "outbox", "path": "o.jsonl", "colour": "red"}]}},
             ["sms.providers[0].colour"]),
            ({"unknown_section": {"a": 1}}, ["unknown_section"]),
        ]
        for overrides, paths in cases:
            with self.subTest(overrides=overrides):
                text = harness.to_toml(harness.deep_merge(harness.base_config(), overrides))
                path = self.write("single.toml", text)
                code, out, err = run_cli("check-config", "--config", path)
                self.assertEqual(code, 2, f"config:\n{text}\nstderr: {err}")
                self.assertListsPaths(err, paths)

    def test_check_config_tls_needs_both_halves(self):
        text = harness.to_toml(harness.deep_merge(harness.base_config(),
                                                  {"server": {"tls_certificate": "/nonexistent/cert.pem"}}))
        code, out, err = run_cli("check-config", "--config", self.write("tls.toml", text))
        self.assertEqual(code, 2, err)
        self.assertTrue(re.search(r"^server\.tls_(certificate|private_key)", err, re.M), err)

    def test_check_config_unparseable_and_missing(self):
        code, _, err = run_cli("check-config", "--config", self.write("broken.toml", "[server\nlisten = \n"))
        self.assertEqual(code, 2, err)
        self.assertTrue(err.strip(), "a broken file is explained on stderr")
        code, _, err = run_cli("check-config", "--config", os.path.join(self.tmp, "does-not-exist.toml"))
        self.assertEqual(code, 2, err)

    def test_serve_refuses_a_bad_config(self):
        path = self.write("bad-serve.toml", BAD_CONFIG)
        data = os.path.join(self.tmp, "data")
        os.makedirs(data, exist_ok=True)
        port = harness.free_port()
        code, out, err = run_cli("serve", "--config", path, "--data-dir", data, "--listen", f"127.0.0.1:{port}",
                                 timeout=15)
        self.assertNotEqual(code, 0)
        self.assertEqual(code, 2, "serve with a bad config exits 2 like check-config")
        self.assertListsPaths(err, BAD_CONFIG_PATHS)


class DurabilityTest(LatchkeyTestCase):

    def test_kill9_after_acknowledged_writes(self):
        server = Server({"verification": {"proof_of_work_bits": 8}})
        self.addCleanup(server.close)
        server.start()
        accounts = []
        for _ in range(3):
            number, password = unique_number("33"), random_password()
            accounts.append((register(server, number, password), password))
        # A deletion is an acknowledged write too.
        gone_number, gone_password = unique_number("33"), random_password()
        gone = register(server, gone_number, gone_password)
        self.assertEqual(server.request("DELETE", "/v1/accounts/me", auth=(gone["uuid"], gone_password)).status, 204)
        # A re-registration: the old password must stay revoked.
        re_number = unique_number("33")
        old_pw, new_pw = random_password(), random_password()
        first = register(server, re_number, old_pw)
        second = register(server, re_number, new_pw)
        # The very last acknowledged write right before the kill.
        last_number, last_password = unique_number("33"), random_password()
        last = register(server, last_number, last_password)
        server.kill9()
        self.assertEqual(server.proc.returncode, -signal.SIGKILL)

        server.restart()
        for reg, password in accounts + [(last, last_password), (second, new_pw)]:
            r = whoami(server, f"{reg['uuid']}.1", password)
            self.assertEqual(r.status, 200, f"account {reg['number']} lost after kill -9: {r.body!r}")
            self.assertEqual(r.body, {"uuid": reg["uuid"], "number": reg["number"], "deviceId": 1})
        self.assertError(whoami(server, gone["uuid"], gone_password), 401, "unauthorized")
        self.assertError(whoami(server, first["uuid"], old_pw), 401, "unauthorized")
        self.assertEqual(second["uuid"], first["uuid"])
        # The server still works after recovery, and the deleted number registers anew.
        again = register(server, gone_number, random_password())
        self.assertNotEqual(again["uuid"], gone["uuid"])
        self.assertEqual(server.stop(), 0)

    def test_sigterm_exits_zero(self):
        server = Server({"verification": {"proof_of_work_bits": 8}})
        self.addCleanup(server.close)
        server.start()
        register(server, unique_number("33"), random_password())
        start = time.monotonic()
        self.assertEqual(server.stop(), 0, server.stderr_tail())
        self.assertLess(time.monotonic() - start, 10.0, "an idle server stops promptly")

    def test_sigterm_lets_in_flight_requests_finish(self):
        fake = FakeTwilio(account_sid="AC" + secrets.token_hex(16), auth_token="tok-" + secrets.token_hex(12))
        fake.start()
        self.addCleanup(fake.stop)
        fake.set_mode("timeout")
        server = Server({
            "verification": {"proof_of_work_bits": 8},
            "server": {"shutdown_grace": "10s"},
            "sms": {
                "providers": [
                    {"name": "twilio", "kind": "twilio-messaging", "account_sid": fake.account_sid,
                     "auth_token": fake.auth_token, "from": "+15550000000", "api_base": fake.base_url,
                     "timeout": "2s"},
                    {"name": "dev-outbox", "kind": "outbox", "path": "outbox.jsonl"},
                ],
                "routing": harness.Table(default=["twilio", "dev-outbox"]),
            },
        })
        self.addCleanup(server.close)
        server.start()
        number = unique_number("81")
        session = pass_gate(server, create_session(server, number))
        result = {}

        def send():
            try:
                result["response"] = server.request("POST", session_path(session["id"], "/code"),
                                                    {"transport": "sms"}, timeout=20)
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = e

        thread = threading.Thread(target=send, daemon=True)
        before = fake.request_count
        thread.start()
        deadline = time.monotonic() + 5
        while fake.request_count == before and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertGreater(fake.request_count, before, "the code request never reached the fake Twilio")
        server.proc.send_signal(signal.SIGTERM)
        thread.join(20)
        self.assertFalse(thread.is_alive())
        self.assertNotIn("error", result, f"in-flight request was cut by SIGTERM: {result.get('error')!r}")
        r = result["response"]
        self.assertEqual(r.status, 200, f"in-flight request should complete (outbox fallback): {r.body!r}")
        self.assertEqual(server.proc.wait(timeout=20), 0)
        self.assertEqual(len(server.outbox_for(number)), 1)
        self.assertNotIn(fake.auth_token, server.log_text(), "the Twilio auth token was logged")


class OpenFileLimitTest(LatchkeyTestCase):
    """latchkeyd raises its soft limit on open files to the hard limit when it starts, and warns when even that
    cannot hold server.max_connections."""

    @staticmethod
    def log_event(server, name):
        for line in server.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == name:
                return entry
        return None

    @staticmethod
    def open_files_limits(pid):
        with open(f"/proc/{pid}/limits", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Max open files"):
                    soft, hard = line.split()[3:5]
                    return soft, hard
        raise AssertionError("no 'Max open files' line in /proc/PID/limits")

    def start_with_limit(self, soft, hard, overrides=None):
        server = Server(overrides)
        server.preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.addCleanup(server.close)
        return server.start()

    def test_raises_the_soft_limit_to_the_hard_limit(self):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 1024:
            self.skipTest(f"the hard limit ({hard}) leaves nothing to raise")
        server = self.start_with_limit(256, hard)
        soft_now, hard_now = self.open_files_limits(server.proc.pid)
        self.assertEqual(hard_now, "unlimited" if hard == resource.RLIM_INFINITY else str(hard))
        if hard != resource.RLIM_INFINITY:
            self.assertEqual(soft_now, str(hard))
        event = self.log_event(server, "open_file_limit")
        self.assertIsNotNone(event, server.stderr_tail())
        self.assertEqual(event["started_with"], 256)
        self.assertEqual(str(event["limit"]), soft_now)

    def test_warns_when_the_hard_limit_cannot_hold_max_connections(self):
        server = self.start_with_limit(512, 512, {"server": {"max_connections": 10000}})
        warning = self.log_event(server, "open_file_limit_low")
        self.assertIsNotNone(warning, server.stderr_tail())
        self.assertEqual(warning["limit"], 512)
        self.assertEqual(warning["max_connections"], 10000)
        self.assertIn("at least 10256", warning["problem"])
        # The server still starts and serves.
        status, _, _ = server.request("GET", "/health")
        self.assertEqual(status, 200)

    def test_no_warning_when_the_limit_is_enough(self):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 1024:
            self.skipTest(f"the hard limit ({hard}) is too low")
        server = self.start_with_limit(256, hard, {"server": {"max_connections": 500}})
        self.assertIsNone(self.log_event(server, "open_file_limit_low"), server.stderr_tail())


class ObservabilityTest(LatchkeyTestCase):
    """Metrics, logs, oversized headers and slow clients on one server with debug logs and the access log on."""

    @classmethod
    def setUpClass(cls):
        cls.code_hash_key = secrets.token_hex(32)
        cls.server = start_server(cls, {
            "verification": {"proof_of_work_bits": 8, "code_hash_key": cls.code_hash_key},
            "server": {"read_timeout": "1s", "max_header_bytes": 8192},
            "limits": {"session_create_per_number": {"burst": 2, "refill": "1h"}},
            "log": {"level": "debug", "access_log": True},
        })
        cls.passwords = []

    def flow(self):
        """A full registration plus a wrong guess, a limiter rejection and a re-registration."""
        s = self.server
        number = unique_number("33")
        session = pass_gate(s, create_session(s, number))
        request_code(s, session["id"])
        code = s.latest_code(number)
        wrong = f"{(int(code) + 1) % 1000000:06d}"
        self.assertIs(submit_code(s, session["id"], wrong).body["verified"], False)
        self.assertIs(submit_code(s, session["id"], code).body["verified"], True)
        password = random_password()
        self.passwords.append(password)
        r = s.request("POST", "/v1/registration", harness.registration_body(session["id"]), auth=(number, password))
        self.assertEqual(r.status, 200, r.body)
        password2 = random_password()
        self.passwords.append(password2)
        register(s, number, password2)  # second session for the number: re-registration
        self.assertEqual(whoami(s, f"{r.body['uuid']}.1", password2).status, 200)
        self.assertEqual(whoami(s, r.body["uuid"], password).status, 401)
        # Third session for the number: over the burst of 2.
        self.assertError(s.request("POST", "/v1/verification/session", {"number": number}), 429, "rate_limited")

    def test_metrics_families_after_a_flow(self):
        s = self.server
        self.flow()
        r = s.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/plain"), r.headers.get("Content-Type"))
        samples = harness.parse_prometheus(r.body)
        names = metric_names(samples)
        for family in ("latchkey_http_requests_total", "latchkey_http_request_seconds_bucket",
                       "latchkey_http_request_seconds_count", "latchkey_http_request_seconds_sum",
                       "latchkey_sms_sent_total", "latchkey_verification_sessions_created_total",
                       "latchkey_verification_checks_total", "latchkey_registrations_total",
                       "latchkey_limiter_rejections_total", "latchkey_storage_wal_sync_seconds_count",
                       "latchkey_storage_write_batch_writes_bucket", "latchkey_storage_durable_write_seconds_sum"):
            self.assertIn(family, names, f"{family} missing from /metrics")
        # The flow registered an account: durable writes, each answered after a sync of the log.
        self.assertGreater(metric_sum(samples, "latchkey_storage_durable_write_seconds_count"), 0)
        self.assertGreater(metric_sum(samples, "latchkey_storage_wal_sync_seconds_count"), 0)

        def labelled(name, *keys):
            return [l for n, l, _ in samples if n == name and all(k in l for k in keys)]

        self.assertTrue(labelled("latchkey_http_requests_total", "route", "method", "status"))
        self.assertTrue(labelled("latchkey_http_request_seconds_bucket", "route", "le"))
        self.assertGreaterEqual(metric_sum(samples, "latchkey_http_requests_total", method="POST", status="200"), 4)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_verification_sessions_created_total"), 2)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_verification_checks_total", outcome="verified"), 2)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_verification_checks_total", outcome="wrong"), 1)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_registrations_total", kind="new"), 1)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_registrations_total", kind="reregistration"), 1)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_sms_sent_total", provider="dev-outbox",
                                           transport="sms", outcome="sent"), 2)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_limiter_rejections_total",
                                           limit="session_create_per_number"), 1)
        self.assertGreaterEqual(metric_sum(samples, "latchkey_http_requests_total", status="429"), 1)

    def test_invented_methods_make_no_new_metric_series(self):
        # A method token is the client's to choose: unmatched requests are labelled from a fixed list.
        for i in range(20):
            with self.server.raw_socket() as sock:
                sock.sendall(f"XMETHOD{i} /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
                self.assertIn(b" 404 ", sock.recv(4096).split(b"\r\n")[0])
        r = self.server.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertNotIn("XMETHOD", r.body)
        samples = harness.parse_prometheus(r.body)
        self.assertEqual(metric_sum(samples, "latchkey_http_requests_total", route="unmatched", method="other",
                                    status="404"), 20)

    def test_log_lines_are_json(self):
        self.flow()
        lines = [l for l in self.server.log_text().splitlines() if l.strip()]
        self.assertTrue(lines, "the server logged nothing at debug level with the access log on")
        for line in lines:
            try:
                value = json.loads(line)
            except ValueError:
                self.fail(f"log line is not JSON: {line!r}")
            self.assertIsInstance(value, dict, f"log line is not a JSON object: {line!r}")

    def test_header_too_large(self):
        s = self.server
        request = (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        data, closed = b"", False
        with s.raw_socket(timeout=5) as sock:
            try:
                sock.sendall(request)
                while len(data) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        closed = True
                        break
                    data += chunk
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            except socket.timeout:
                pass
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 431"), f"answer to 20 kB of headers: {data[:200]!r}")
        self.assertTrue(closed, "the connection stays open after oversized headers")
        self.assertServerHealthy(s)

    def test_many_small_headers_too_large(self):
        s = self.server
        headers = {f"X-H{i}": "v" * 100 for i in range(120)}  # ~13 kB
        try:
            r = s.request("GET", "/health", headers=headers)
            self.assertEqual(r.status, 431)
        except (ConnectionError, OSError, harness.http.client.HTTPException):
            pass  # closed without an answer: allowed
        self.assertServerHealthy(s)

    def _stall(self, payload):
        """Sends `payload`, then waits; returns (seconds until the server closed, bytes received)."""
        s = self.server
        with s.raw_socket(timeout=8) as sock:
            sock.sendall(payload)
            start = time.monotonic()
            data = b""
            try:
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            except socket.timeout:
                return None, data
            return time.monotonic() - start, data

    def test_slow_client_is_cut_off(self):
        s = self.server
        for what, payload in (
                ("half a header", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "),
                ("half a body", b"POST /v1/verification/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"number\":")):
            with self.subTest(what=what):
                elapsed, data = self._stall(payload)
                self.assertIsNotNone(elapsed, f"{what}: still connected 8 s after stalling (read_timeout is 1s)")
                self.assertGreaterEqual(elapsed, 0.5, f"{what}: closed before read_timeout")
                self.assertLess(elapsed, 5.0)
                self.assertFalse(data.startswith(b"HTTP/1.1 2"), f"{what}: {data[:200]!r}")
                self.assertServerHealthy(s)

    def test_stalled_clients_do_not_block_others(self):
        s = self.server
        socks = []
        try:
            for _ in range(30):
                sock = s.raw_socket(timeout=5)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                socks.append(sock)
            start = time.monotonic()
            self.assertServerHealthy(s)
            r = s.request("POST", "/v1/verification/session", {"number": unique_number("33")})
            self.assertEqual(r.status, 200)
            self.assertLess(time.monotonic() - start, 1.0, "stalled connections slowed other clients down")
        finally:
            for sock in socks:
                sock.close()

    def test_zz_log_has_no_secrets(self):
        """Runs last in this class: every code sent and password used so far must be absent from the log."""
        s = self.server
        if not self.passwords:
            self.flow()
        log = s.log_text()
        codes = {harness.extract_code(line["body"], spoken=line.get("transport") == "voice")
                 for line in s.outbox_lines()}
        self.assertTrue(codes)
        for code in codes:
            self.assertIsNone(re.search(r"(?<!\d)" + code + r"(?!\d)", log), f"code {code} appears in the log")
        for password in self.passwords:
            self.assertNotIn(password, log, "a password appears in the log")
        for line in s.outbox_lines():
            self.assertNotIn(line["body"], log, "a message body appears in the log")
            auth = basic_auth(line["to"], "x")[6:16]  # base64 prefix of the Authorization header
            self.assertNotIn("Basic " + auth, log)
        self.assertNotIn(self.code_hash_key, log, "the code hash key appears in the log")
        secret_file = os.path.join(s.data_dir, "secret.key")
        if os.path.exists(secret_file):
            with open(secret_file, "rb") as f:
                secret = f.read().strip()
            if secret:
                self.assertNotIn(secret.decode("latin-1"), log)


class TlsTest(LatchkeyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, {"verification": {"proof_of_work_bits": 8}}, tls=True)

    def test_health_and_session_over_https(self):
        s = self.server
        r = s.request("GET", "/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, {"status": "ok"})
        number = unique_number("33")
        r = s.request("POST", "/v1/verification/session", {"number": number})
        self.assertEqual(r.status, 200, r.body)
        self.assertSessionShape(r.body, gate_pending=True)
        reg = register(s, number, random_password())
        self.assertEqual(reg["number"], number)

    def test_plain_http_is_not_served_on_the_tls_port(self):
        s = self.server
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
            data = b""
            try:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                while len(data) < 4096:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass
        self.assertNotIn(b"200", data[:16], f"plain HTTP answered on the TLS port: {data[:100]!r}")
        self.assertServerHealthy(s)


if __name__ == "__main__":
    unittest.main()
