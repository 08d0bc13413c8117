"""Test harness for the latchkeyd integration tests (Python 3 standard library only).

`Server` runs the real binary on a loopback port with a temporary data directory and a TOML configuration
built from a dict of overrides merged over a small base. The helpers drive the API the way a client would
(docs/api-contract-draft.md): create a session, answer the proof-of-work gate, request a code, read it from
the outbox, verify it, register.
"""

import atexit
import base64
import hashlib
import http.client
import itertools
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("LATCHKEY_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
FAKES_DIR = os.path.join(SOURCE_DIR, "tests", "fakes")
if os.path.isdir(os.path.join(HERE, "..", "fakes")):
    FAKES_DIR = os.path.normpath(os.path.join(HERE, "..", "fakes"))
if FAKES_DIR not in sys.path:
    sys.path.insert(0, FAKES_DIR)

REQUEST_TIMEOUT = 15.0      # seconds for one HTTP exchange
STARTUP_TIMEOUT = 10.0      # seconds for GET /health to answer 200 after start
STOP_TIMEOUT = 20.0         # seconds to wait for exit after SIGTERM (shutdown_grace defaults to 10 s)


def binary_path():
    path = os.environ.get("LATCHKEYD")
    if not path:
        path = os.path.normpath(os.path.join(HERE, "..", "..", "build", "latchkeyd"))
    return path


def require_binary():
    path = binary_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"latchkeyd binary not found or not executable at {path} (set LATCHKEYD)")
    return path


# --------------------------------------------------------------------------------------------------------
# A tiny TOML writer: dicts (tables), lists of scalars, lists of dicts (arrays of tables), str, int, float,
# bool. Nested dicts whose values are all scalars are written as inline tables below the top level (the
# style of the limits buckets); everything else gets a [header].

DELETE = object()  # in overrides: remove this key from the base configuration


class Inline(dict):
    """A dict that must be written as an inline table."""


class Table(dict):
    """A dict that must be written as a [table] even if all its values are scalars."""


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key):
    key = str(key)
    if _BARE_KEY.match(key) and not key.isdigit():
        return key
    return _toml_string(key)


def _toml_string(s):
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        text = repr(v)
        if "." not in text and "e" not in text and "E" not in text:
            text += ".0"
        return text
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_scalar(v):
    return isinstance(v, (bool, int, float, str)) or (
        isinstance(v, (list, tuple)) and all(_is_scalar(x) for x in v))


def _is_inline(v, depth):
    if isinstance(v, Inline):
        return True
    if isinstance(v, Table) or not isinstance(v, dict):
        return False
    return depth >= 1 and len(v) > 0 and all(_is_scalar(x) for x in v.values())


def _is_array_of_tables(v):
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(isinstance(x, dict) for x in v)


def to_toml(data):
    """Serialises a dict to TOML text."""
    lines = []

    def emit_table(table, path, depth):
        simple, tables, arrays = [], [], []
        for k, v in table.items():
            if v is DELETE or v is None:
                continue
            if isinstance(v, dict) and not _is_inline(v, depth):
                tables.append((k, v))
            elif _is_array_of_tables(v):
                arrays.append((k, v))
            else:
                simple.append((k, v))
        for k, v in simple:
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in tables:
            sub = path + [k]
            has_simple = any(not (isinstance(x, dict) and not _is_inline(x, depth + 1)) and not _is_array_of_tables(x)
                             for x in v.values() if x is not DELETE and x is not None)
            if has_simple or not v:  # a header only holding sub-tables is implied by theirs
                lines.append("")
                lines.append("[" + ".".join(_toml_key(p) for p in sub) + "]")
            emit_table(v, sub, depth + 1)
        for k, items in arrays:
            sub = path + [k]
            for item in items:
                lines.append("")
                lines.append("[[" + ".".join(_toml_key(p) for p in sub) + "]]")
                emit_table(item, sub, depth + 1)

    emit_table(data, [], 0)
    return "\n".join(lines).lstrip("\n") + "\n"


def deep_merge(base, overrides):
    """Returns base with overrides merged in: dicts merge recursively, anything else replaces; DELETE removes."""
    result = {}
    for k, v in base.items():
        result[k] = v
    for k, v in overrides.items():
        if v is DELETE:
            result.pop(k, None)
        elif isinstance(v, dict) and isinstance(result.get(k), dict) and not isinstance(v, Inline):
            merged = deep_merge(result[k], v)
            result[k] = type(v)(merged) if isinstance(v, Table) else merged
        else:
            result[k] = v
    return result


def relaxed_number_limits():
    """Per-number buckets opened wide, for tests that register one number many times."""
    wide = Inline(burst=1000, refill="1ms")
    return {"session_create_per_number": wide, "code_send_per_number": wide, "registration_per_number": wide}


def base_config():
    """The small base every test server starts from. The outbox file is moved into the data dir by --data-dir."""
    return {
        "server": {"io_threads": 2, "worker_threads": 4, "outbound_threads": 8, "shutdown_grace": "5s"},
        "storage": {"backend": "sqlite", "sqlite_path": "latchkey.db"},
        "verification": {"proof_of_work_bits": 8},
        # Re-registration replaces an account at once unless a test turns the takeover delay on
        # (test_takeover_delay.py does).
        "accounts": {"takeover_delay": "0s"},
        "limits": {
            # Every test talks from 127.0.0.1: keep the per-IP buckets out of the way unless a test sets them.
            "session_create_per_ip": Inline(burst=100000, refill="1ms"),
            "code_send_per_ip": Inline(burst=100000, refill="1ms"),
        },
        "sms": {
            "providers": [{"name": "dev-outbox", "kind": "outbox", "path": "outbox.jsonl"}],
            "routing": Table(default=["dev-outbox"]),
        },
        "log": {"level": "info"},
    }


# --------------------------------------------------------------------------------------------------------
# Phone numbers that libphonenumber considers valid, unique within one test run.

_counter = itertools.count(random.randrange(0, 10**7) * 7)


def unique_number(cc="33"):
    n = next(_counter)
    if cc == "33":      # French mobile: 60 + 7 digits (libphonenumber refuses 639, 690-694, 696 and 697)
        return f"+3360{n % 10**7:07d}"
    if cc == "49":      # German mobile: 176 + 8 digits
        return f"+49176{n % 10**8:08d}"
    if cc == "81":      # Japanese mobile: 90 [1-9] + 7 digits
        return f"+8190{1 + n % 9}{(n // 9) % 10**7:07d}"
    if cc == "34":      # Spanish mobile: 6 + 8 digits
        return f"+346{n % 10**8:08d}"
    if cc == "1":       # US, New Jersey 201, exchange [2-9]xx
        return f"+1201{2 + n % 8}{(n // 8) % 10**6:06d}"
    raise ValueError(f"no number pattern for +{cc}")


def random_password(length=24):
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "pw-" + "".join(random.choice(alphabet) for _ in range(length - 3))


# --------------------------------------------------------------------------------------------------------

Response = namedtuple("Response", "status headers body")

_live_servers = set()


@atexit.register
def _kill_leftovers():
    for server in list(_live_servers):
        try:
            server.kill9()
        except Exception:
            pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic_auth(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")


def make_self_signed_cert(directory):
    """Writes cert.pem and key.pem (EC P-256, CN=localhost) with the openssl CLI; returns (cert, key)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    return cert, key


class ServerDied(AssertionError):
    pass


class Server:
    """One latchkeyd process. `overrides` is merged over base_config(); `config=None` with use_config=False
    starts the server without --config (built-in defaults). `tls=True` generates a self-signed certificate."""

    def __init__(self, overrides=None, tls=False, use_config=True, port=None):
        self.binary = require_binary()
        self.tmp = tempfile.mkdtemp(prefix="latchkey-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir)
        self.tls = tls
        config = deep_merge(base_config(), overrides or {})
        if tls:
            cert, key = make_self_signed_cert(self.tmp)
            config = deep_merge(config, {"server": {"tls_certificate": cert, "tls_private_key": key}})
        self.config = config
        self.use_config = use_config
        self.config_path = os.path.join(self.tmp, "latchkey.toml")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(to_toml(config))
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        self.port = port
        self.proc = None
        self.preexec = None  # a function run in the child before latchkeyd starts (e.g. to set resource limits)
        self._ssl_context = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self._ssl_context = ctx

    # ---- lifecycle -------------------------------------------------------------------------------------

    def command(self):
        cmd = [self.binary, "serve"]
        if self.use_config:
            cmd += ["--config", self.config_path]
        cmd += ["--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}"]
        return cmd

    def start(self):
        attempts = 3 if self.port is None else 1
        last_error = None
        for _ in range(attempts):
            if self.port is None or attempts > 1:
                self.port = free_port()
            try:
                self._spawn_and_wait()
                return self
            except RuntimeError as e:
                last_error = e
                if "in use" not in self.log_text().lower():
                    raise
        raise last_error

    def _spawn_and_wait(self):
        # Append so that restarts keep the earlier log (the log-secrecy test reads all of it).
        err = open(self.stderr_path, "ab")
        out = open(self.stdout_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.tmp, preexec_fn=self.preexec)
        finally:
            err.close()
            out.close()
        _live_servers.add(self)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                _live_servers.discard(self)
                raise RuntimeError(f"latchkeyd exited with {code} during startup:\n{self.stderr_tail()}")
            try:
                status, _, _ = self.request("GET", "/health", timeout=2)
                if status == 200:
                    return
                last = f"status {status}"
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError(f"GET /health did not answer 200 within {STARTUP_TIMEOUT}s (last: {last}):\n"
                           f"{self.stderr_tail()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, return the exit code (negative = killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                _live_servers.discard(self)
                raise AssertionError(f"latchkeyd did not exit within {timeout}s of SIGTERM")
        _live_servers.discard(self)
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        _live_servers.discard(self)

    def restart(self):
        """Starts again on the same data dir and port (after stop() or kill9())."""
        if self.running():
            self.stop()
        self._spawn_and_wait()
        return self

    def close(self):
        """Stops the server and removes its folder; raises if a sanitizer reported an error (ASan/UBSan builds)."""
        report = None
        try:
            if self.running():
                try:
                    self.stop(timeout=10)
                except AssertionError:
                    pass
            self.kill9()
            report = self.sanitizer_report()
        finally:
            if not os.environ.get("LATCHKEY_KEEP_TMP"):
                shutil.rmtree(self.tmp, ignore_errors=True)
        if report:
            raise AssertionError(f"sanitizer report in latchkeyd's stderr:\n{report}")

    def sanitizer_report(self):
        """The first lines of an AddressSanitizer/UndefinedBehaviorSanitizer/LeakSanitizer report, or ''."""
        lines = self.log_text().splitlines()
        for i, line in enumerate(lines):
            if ("ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line or "runtime error:" in line
                    or "SUMMARY: UndefinedBehaviorSanitizer" in line):
                return "\n".join(l[:300] for l in lines[i:i + 12])
        return ""

    # ---- I/O -------------------------------------------------------------------------------------------

    @property
    def base_url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def connection(self, timeout=REQUEST_TIMEOUT):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self._ssl_context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def raw_socket(self, timeout=REQUEST_TIMEOUT):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.tls:
            s = self._ssl_context.wrap_socket(s, server_hostname="localhost")
        return s

    def request(self, method, path, body=None, headers=None, auth=None, timeout=REQUEST_TIMEOUT):
        """Returns Response(status, headers, body) with body parsed as JSON when possible, else text."""
        hdrs = {}
        data = None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, (bytes, bytearray)):
            data = bytes(body)
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if auth is not None:
            hdrs["Authorization"] = basic_auth(*auth)
        if headers:
            hdrs.update(headers)
        conn = self.connection(timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return Response(resp.status, resp.headers, _decode_body(raw))
        except (OSError, http.client.HTTPException) as e:
            self._raise_if_dead(e)
            raise
        finally:
            conn.close()

    def _raise_if_dead(self, cause):
        """Turns a connection failure into a clear report when the server process has died."""
        if self.proc is not None:
            try:
                code = self.proc.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                return
            _live_servers.discard(self)
            raise ServerDied(f"latchkeyd died (exit code {code}) and the request failed with {cause!r}; "
                             f"stderr tail:\n{self.stderr_tail()}") from cause

    # ---- state -----------------------------------------------------------------------------------------

    @property
    def outbox_path(self):
        return os.path.join(self.data_dir, "outbox.jsonl")

    def outbox_lines(self):
        try:
            with open(self.outbox_path, "r", encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        lines = []
        for line in text.splitlines():
            line = line.strip()
            if line:
                lines.append(json.loads(line))
        return lines

    def outbox_for(self, number):
        return [line for line in self.outbox_lines() if line.get("to") == number]

    def latest_message(self, number, wait=2.0, transport=None):
        """The newest outbox line to `number` (optionally of one transport); waits up to `wait` s for it."""
        deadline = time.monotonic() + wait
        while True:
            lines = [l for l in self.outbox_for(number) if transport is None or l.get("transport") == transport]
            if lines:
                return lines[-1]
            if time.monotonic() >= deadline:
                raise AssertionError(f"no outbox line to {number} (transport {transport}) in {self.outbox_path}")
            time.sleep(0.05)

    def latest_code(self, number, wait=2.0, transport=None):
        line = self.latest_message(number, wait=wait, transport=transport)
        return extract_code(line["body"], spoken=line.get("transport") == "voice")

    def log_text(self):
        try:
            with open(self.stderr_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def metrics(self):
        status, _, body = self.request("GET", "/metrics")
        if status != 200:
            raise AssertionError(f"GET /metrics answered {status}")
        return parse_prometheus(body if isinstance(body, str) else json.dumps(body))


def _decode_body(raw):
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


_CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


_SPOKEN_CODE_RE = re.compile(r"(?<!\d)(\d(?:[ ,.\-]{1,3}\d){5})(?![ ,.\-]{0,3}\d)")


def extract_code(body, spoken=False):
    """The 6-digit code in a message text. `spoken=True` (voice messages) also accepts the digits separated
    for text-to-speech, e.g. "3 1 0 7 6 9"."""
    m = _CODE_RE.search(body)
    if m:
        return m.group(1)
    if spoken:
        m = _SPOKEN_CODE_RE.search(body)
        if m:
            return re.sub(r"\D", "", m.group(1))
    raise AssertionError(f"no 6-digit code in message body {body!r}")


# --------------------------------------------------------------------------------------------------------
# Prometheus text format.

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_prometheus(text):
    """Returns a list of (name, labels dict, float value)."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            continue
        name, _, label_text, value = m.group(1), m.group(2), m.group(3), m.group(4)
        labels = {}
        if label_text:
            for lm in _LABEL_RE.finditer(label_text):
                labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        try:
            samples.append((name, labels, float(value)))
        except ValueError:
            continue
    return samples


def metric_sum(samples, name, **labels):
    total = 0.0
    for n, l, v in samples:
        if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
            total += v
    return total


def metric_names(samples):
    return {n for n, _, _ in samples}


# --------------------------------------------------------------------------------------------------------
# Protocol helpers.

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def pow_ok(challenge_bytes, nonce, bits):
    digest = hashlib.sha256(challenge_bytes + str(nonce).encode("ascii")).digest()
    return bits == 0 or int.from_bytes(digest, "big") >> (256 - bits) == 0


def solve_pow(challenge_b64url, bits):
    """The smallest decimal nonce such that SHA-256(challenge || nonce) has >= bits leading zero bits."""
    challenge = b64url_decode(challenge_b64url)
    prefix = hashlib.sha256(challenge)
    limit = 1 << min(bits + 10, 40)
    for nonce in range(limit):
        h = prefix.copy()
        h.update(str(nonce).encode("ascii"))
        if bits == 0 or int.from_bytes(h.digest(), "big") >> (256 - bits) == 0:
            return str(nonce)
    raise AssertionError(f"no nonce found for {bits} bits within {limit} tries")


def wrong_pow(challenge_b64url, bits):
    """A decimal nonce that does NOT meet the difficulty."""
    challenge = b64url_decode(challenge_b64url)
    for nonce in range(1000):
        if not pow_ok(challenge, nonce, bits):
            return str(nonce)
    raise AssertionError("every nonce meets the difficulty?")


def session_path(session_id, suffix=""):
    return "/v1/verification/session/" + urllib.parse.quote(session_id, safe="") + suffix


class FlowError(AssertionError):
    pass


def _expect(resp, status, what):
    if resp.status != status:
        raise FlowError(f"{what}: expected {status}, got {resp.status} {resp.body!r}")
    return resp.body


def create_session(server, number):
    return _expect(server.request("POST", "/v1/verification/session", {"number": number}), 200,
                   f"create session for {number}")


def pass_gate(server, session):
    """Answers the proof-of-work gate if the session asks for it; returns the updated session."""
    if "proofOfWork" not in (session.get("requestedInformation") or []):
        return session
    pow_info = session["proofOfWork"]
    nonce = solve_pow(pow_info["challenge"], pow_info["bits"])
    return _expect(server.request("PATCH", session_path(session["id"]), {"proofOfWork": {"nonce": nonce}}), 200,
                   "answer proof of work")


def request_code(server, session_id, transport="sms", locale=None):
    body = {"transport": transport}
    if locale is not None:
        body["locale"] = locale
    return _expect(server.request("POST", session_path(session_id, "/code"), body), 200,
                   f"request {transport} code")


def submit_code(server, session_id, code):
    return server.request("PUT", session_path(session_id, "/code"), {"code": code})


def verified_session(server, number, code_source=None):
    """Creates a session for `number` and verifies it; returns the session id. `code_source(number)` returns
    the code when it does not go to the outbox."""
    session = pass_gate(server, create_session(server, number))
    request_code(server, session["id"])
    code = code_source(number) if code_source else server.latest_code(number)
    body = _expect(submit_code(server, session["id"], code), 200, "submit code")
    if body.get("verified") is not True:
        raise FlowError(f"session not verified after the right code: {body!r}")
    return session["id"]


def registration_body(session_id, registration_id=None, name=None):
    attrs = {"registrationId": registration_id if registration_id is not None else random.randint(1, 16383)}
    if name is not None:
        attrs["name"] = name
    return {"sessionId": session_id, "accountAttributes": attrs}


def register_with_session(server, session_id, number, password, **kw):
    return server.request("POST", "/v1/registration", registration_body(session_id, **kw), auth=(number, password))


def register(server, number, password, code_source=None):
    """The whole flow: session, gate, SMS code from the outbox, verify, register. Returns the registration JSON."""
    session_id = verified_session(server, number, code_source=code_source)
    return _expect(register_with_session(server, session_id, number, password), 200, "register")


def whoami(server, user, password):
    return server.request("GET", "/v1/accounts/whoami", auth=(user, password))


# --------------------------------------------------------------------------------------------------------
# Assertions shared by the test cases.

import unittest  # noqa: E402

SESSION_KEYS = {"id", "nextSms", "nextCall", "nextVerificationAttempt", "allowedToRequestCode",
                "requestedInformation", "verified"}


class LatchkeyTestCase(unittest.TestCase):
    maxDiff = None

    def assertError(self, resp, status, code=None):
        """Status, then the contract's error body: string "error" (== code) and string "message"; 401 carries
        WWW-Authenticate: Basic realm="latchkey" and 429 carries an integer Retry-After >= 1."""
        self.assertEqual(resp.status, status, f"expected {status} {code}, got {resp.status} {resp.body!r}")
        self.assertIsInstance(resp.body, dict, f"error body is not a JSON object: {resp.body!r}")
        self.assertIsInstance(resp.body.get("error"), str, f"no string 'error' in {resp.body!r}")
        self.assertIsInstance(resp.body.get("message"), str, f"no string 'message' in {resp.body!r}")
        if code is not None:
            self.assertEqual(resp.body["error"], code, f"body {resp.body!r}")
        if status == 401:
            self.assertEqual(resp.headers.get("WWW-Authenticate"), 'Basic realm="latchkey"',
                             f"401 without the contract's WWW-Authenticate header: {dict(resp.headers)!r}")
        if status == 429:
            self.assertRetryAfter(resp)

    def assertRetryAfter(self, resp):
        value = resp.headers.get("Retry-After")
        self.assertIsNotNone(value, f"429 without Retry-After: {dict(resp.headers)!r}")
        self.assertRegex(value.strip(), r"^\d+$", "Retry-After is not integer seconds")
        self.assertGreaterEqual(int(value), 1)
        return int(value)

    def assertSessionShape(self, s, gate_pending=False):
        self.assertIsInstance(s, dict, f"session is not an object: {s!r}")
        expected = SESSION_KEYS | ({"proofOfWork"} if gate_pending else set())
        self.assertEqual(set(s.keys()), expected, f"session keys: {s!r}")
        self.assertIsInstance(s["id"], str)
        self.assertTrue(s["id"])
        for key in ("nextSms", "nextCall", "nextVerificationAttempt"):
            v = s[key]
            self.assertTrue(v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
                            f"{key} must be a non-negative int or null: {s!r}")
        self.assertIsInstance(s["allowedToRequestCode"], bool)
        self.assertIsInstance(s["verified"], bool)
        self.assertIsInstance(s["requestedInformation"], list)
        for item in s["requestedInformation"]:
            self.assertIsInstance(item, str)
        if gate_pending:
            self.assertIn("proofOfWork", s["requestedInformation"])
            pow_info = s["proofOfWork"]
            self.assertEqual(set(pow_info.keys()), {"algorithm", "challenge", "bits"}, f"{pow_info!r}")
            self.assertEqual(pow_info["algorithm"], "sha256")
            self.assertIsInstance(pow_info["challenge"], str)
            self.assertRegex(pow_info["challenge"], r"^[A-Za-z0-9_-]+$", "challenge is not base64url without padding")
            self.assertGreater(len(b64url_decode(pow_info["challenge"])), 0)
        else:
            self.assertNotIn("proofOfWork", s["requestedInformation"])
        return s

    def assertServerHealthy(self, server):
        self.assertTrue(server.running(), f"latchkeyd is not running any more:\n{server.stderr_tail()}")
        resp = server.request("GET", "/health")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, {"status": "ok"})


def start_server(testcase_cls, overrides=None, **kw):
    """Starts a Server for a TestCase class and registers its cleanup."""
    server = Server(overrides, **kw)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    testcase_cls.addClassCleanup(server.close)
    return server
