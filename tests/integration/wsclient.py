"""A minimal RFC 6455 WebSocket client for the integration tests (Python 3 standard library only).

Text frames only on the sending side (plus raw frames for bad-input tests); the receiving side understands
text, binary, ping (answered), pong and close. Frames from the client are masked, as the RFC requires.
"""

import base64
import json
import os
import socket
import struct


class WebSocketClosed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class HandshakeRefused(Exception):
    def __init__(self, status, headers, body):
        super().__init__(f"upgrade refused with {status}")
        self.status = status
        self.headers = headers
        self.body = body


class WebSocket:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.closed = None  # (code, reason) once a close frame arrived
        self.close_sent = False

    @classmethod
    def connect(cls, port, path, headers=None, timeout=10.0):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        ws = cls(sock)
        head = ws._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        if status != 101:
            length = int(hdrs.get("content-length", "0"))
            body = ws._read_exact(length)
            sock.close()
            try:
                body = json.loads(body)
            except ValueError:
                pass
            raise HandshakeRefused(status, hdrs, body)
        return ws

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buffer += chunk

    def _read_until(self, marker):
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exact(self, n):
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send_frame(self, opcode, payload, fin=True):
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text):
        self.send_frame(0x1, text.encode("utf-8"))

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def recv_frame(self):
        """Returns (opcode, payload) of the next data frame; answers pings; raises WebSocketClosed on close."""
        while True:
            b0, b1 = self._read_exact(2)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8))[0]
            if b1 & 0x80:
                raise AssertionError("the server must not mask its frames")
            payload = self._read_exact(n)
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                self.closed = (code, reason)
                if not self.close_sent:
                    try:
                        self.send_frame(0x8, payload[:2])
                    except OSError:
                        pass
                    self.close_sent = True
                raise WebSocketClosed(code, reason)
            return opcode, payload

    def recv_json(self):
        opcode, payload = self.recv_frame()
        assert opcode == 0x1, f"expected a text frame, got opcode {opcode}"
        return json.loads(payload)

    def close(self, code=1000):
        """The close handshake: sends a close frame and, unless the server closed first, reads (for up to 5 s)
        until the server's close frame, which the server sends only after reading everything sent before it:
        acknowledgements sent before close() have then reached the server."""
        if self.closed is None and not self.close_sent:
            try:
                self.send_frame(0x8, struct.pack("!H", code))
                self.close_sent = True
                self.sock.settimeout(5.0)
                while True:
                    self.recv_frame()
            except (WebSocketClosed, ConnectionError, OSError):
                pass
        self.sock.close()
