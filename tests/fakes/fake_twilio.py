#!/usr/bin/env python3
"""A fake Twilio Programmable Messaging API for tests, speaking Twilio's wire format.

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json
    Authorization: Basic base64(AccountSid:AuthToken)
    Content-Type: application/x-www-form-urlencoded
    To=...&Body=...&From=... (or MessagingServiceSid=...)

As a module:

    fake = FakeTwilio(account_sid="AC" + 32 hex, auth_token="secret")
    port = fake.start()            # binds 127.0.0.1 on a free port
    fake.set_mode("twilio_error:21211")
    ... point the client at fake.base_url ...
    fake.messages                  # accepted messages: To, From, Body, MessagingServiceSid, sid
    fake.stop()

Standalone:

    python3 fake_twilio.py --port 0 --account-sid AC... --auth-token T [--mode ok]

prints "listening on PORT" once ready and also answers the control endpoints
POST /_control/mode (body: a mode), GET /_control/messages (JSON array), POST /_control/reset.

Modes: "ok" (201 Message JSON), "error_500" (500, code 20500), "timeout" (answers after 10 s),
"garbage" (200 text/html), "twilio_error:<code>" (400 Twilio error JSON; 429 for 20429).
Requests are validated like Twilio does: unknown path or account -> 404 (20404), bad Basic auth -> 401
(20003), missing To -> 400 (21604), missing Body -> 400 (21602), missing From and MessagingServiceSid ->
400 (21603). Only accepted messages are recorded. Standard library only.
"""

import argparse
import base64
import email.utils
import json
import re
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2010-04-01"
TIMEOUT_MODE_DELAY_SECONDS = 10.0

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_MODE = re.compile(r"^(ok|error_500|timeout|garbage|twilio_error:\d+)$")

_ERROR_MESSAGES = {
    20003: "Authenticate",
    20004: "Method not allowed",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21614: "'To' number is not a valid mobile number",
    30450: "Message delivery blocked by SMS Pumping Protection",
    60410: "Verification delivery attempt blocked",
    60605: "Verification delivery attempt blocked (geo permissions)",
}

# Characters of the GSM 03.38 default alphabet (basic set); anything else makes the message UCS-2.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def _segments(body):
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in body)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


def twilio_error(code, status=None):
    """(http_status, json_dict) of a Twilio REST error."""
    if status is None:
        status = 429 if code == 20429 else 400
    return status, {
        "code": code,
        "message": _ERROR_MESSAGES.get(code, "Error %d" % code),
        "more_info": "https://www.twilio.com/docs/errors/%d" % code,
        "status": status,
    }


class FakeTwilio:
    """A fake Twilio Messaging API on 127.0.0.1. Thread-safe."""

    def __init__(self, account_sid="AC" + "0" * 32, auth_token="fake-auth-token", mode="ok", port=0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._requested_port = port
        self._lock = threading.Lock()
        self._mode = "ok"
        self._messages = []  # guarded by _lock
        self._request_count = 0  # guarded by _lock
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self.set_mode(mode)

    # --- control -----------------------------------------------------------------------------------------

    def start(self):
        """Binds 127.0.0.1 (on a free port unless one was given), serves in a thread, returns the port."""
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self._requested_port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)
        self._thread.start()
        return self.port

    def stop(self):
        """Stops serving; requests sleeping in "timeout" mode are woken and dropped."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None
            self._thread = None

    def serve_forever(self):
        """Standalone use: serve on the calling thread until interrupted."""
        if self._server is None:
            self.start()
        try:
            self._thread.join()
        except KeyboardInterrupt:
            self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def set_mode(self, mode):
        mode = mode.strip()
        if not _MODE.match(mode):
            raise ValueError("unknown mode %r" % mode)
        with self._lock:
            self._mode = mode

    @property
    def mode(self):
        with self._lock:
            return self._mode

    @property
    def messages(self):
        """A copy of the accepted messages, oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def request_count(self):
        """API requests received (control endpoints excluded), accepted or not."""
        with self._lock:
            return self._request_count

    def reset(self):
        with self._lock:
            self._messages.clear()
            self._request_count = 0
            self._mode = "ok"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- request handling (called from handler threads) -------------------------------------------------

    def _count_request(self):
        with self._lock:
            self._request_count += 1

    def _record(self, message):
        with self._lock:
            self._messages.append(message)

    def _check_auth(self, header):
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        sid, _, token = decoded.partition(":")
        return secrets.compare_digest(sid.encode(), self.account_sid.encode()) and secrets.compare_digest(
            token.encode(), self.auth_token.encode()
        )

    def _message_json(self, form, sid):
        now = email.utils.formatdate(usegmt=True).replace("GMT", "+0000")
        uri = "/%s/Accounts/%s/Messages/%s.json" % (API_VERSION, self.account_sid, sid)
        service = form.get("MessagingServiceSid")
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(_segments(form["Body"])),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and not form.get("From") else "queued",
            "subresource_uris": {"media": uri[: -len(".json")] + "/Media.json"},
            "to": form["To"],
            "uri": uri,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio does
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "FakeTwilio/1.0"
    fake = None  # set on the per-server subclass

    def log_message(self, fmt, *args):  # quiet: tests read stdout
        pass

    # --- plumbing ---

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status, body, content_type):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status, value):
        self._send(status, json.dumps(value), "application/json; charset=utf-8")

    def _send_error(self, code, status=None):
        http_status, body = twilio_error(code, status)
        self._send_json(http_status, body)

    # --- verbs ---

    def do_GET(self):
        self._read_body()
        if self.path == "/_control/messages":
            return self._send_json(200, self.fake.messages)
        if self.path == "/_control/health":
            return self._send(200, "ok", "text/plain")
        self.fake._count_request()
        if _MESSAGES_PATH.match(urllib.parse.urlsplit(self.path).path):
            return self._send_error(20004, 405)  # this fake only creates messages
        return self._send_error(20404, 404)

    def do_POST(self):
        raw = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_control/"):
            return self._control(path, raw)

        fake = self.fake
        fake._count_request()
        match = _MESSAGES_PATH.match(path)
        if not match:
            return self._send_error(20404, 404)
        if not fake._check_auth(self.headers.get("Authorization")):
            self.send_response(401)
            body = json.dumps(twilio_error(20003, 401)[1]).encode()
            self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if match.group(1) != fake.account_sid:
            return self._send_error(20404, 404)

        try:
            parsed = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return self._send_error(21602)  # Twilio rejects bodies it cannot read
        form = {key: values[-1] for key, values in parsed.items()}

        if not form.get("To"):
            return self._send_error(21604)
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._send_error(21603)
        if not form.get("Body"):
            return self._send_error(21602)

        mode = fake.mode
        if mode == "timeout":
            if fake._stopping.wait(TIMEOUT_MODE_DELAY_SECONDS):
                self.close_connection = True
                return
            mode = "ok"
        if mode == "error_500":
            return self._send_error(20500, 500)
        if mode == "garbage":
            return self._send(200, "<html>oops", "text/html")
        if mode.startswith("twilio_error:"):
            code = int(mode.split(":", 1)[1])
            status, error = twilio_error(code)
            if code == 21211:  # Twilio quotes the number it rejects
                error["message"] = "The 'To' number %s is not a valid phone number." % form["To"]
            return self._send_json(status, error)

        sid = "SM" + secrets.token_hex(16)
        fake._record(
            {
                "To": form.get("To"),
                "From": form.get("From"),
                "Body": form.get("Body"),
                "MessagingServiceSid": form.get("MessagingServiceSid"),
                "sid": sid,
            }
        )
        self._send_json(201, fake._message_json(form, sid))

    def _control(self, path, raw):
        if path == "/_control/mode":
            try:
                self.fake.set_mode(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                return self._send(400, str(error), "text/plain")
            return self._send(200, self.fake.mode, "text/plain")
        if path == "/_control/reset":
            self.fake.reset()
            return self._send(200, "ok", "text/plain")
        return self._send(404, "unknown control endpoint", "text/plain")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake Twilio Programmable Messaging API")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="fake-auth-token")
    parser.add_argument("--mode", default="ok")
    args = parser.parse_args(argv)
    fake = FakeTwilio(account_sid=args.account_sid, auth_token=args.auth_token, mode=args.mode, port=args.port)
    port = fake.start()
    print("listening on %d" % port, flush=True)
    fake.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
