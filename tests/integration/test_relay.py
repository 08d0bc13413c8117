"""Keys, devices, provisioning and the message relay against the real binary (docs/api.md, "Keys, devices and
the message relay"). Keys are real Curve25519 keys with XEdDSA signatures (keys_fixture.json, made with
libsignal-protocol-c); contents are opaque bytes, which is all the server ever sees."""

import base64
import http.client
import json
import os
import random
import threading
import time
import unittest

import harness
from harness import LatchkeyTestCase, start_server, unique_number, random_password
from wsclient import WebSocket, WebSocketClosed, HandshakeRefused

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "keys_fixture.json")) as f:
    KEYS = [json.loads(line) for line in f if line.strip()]


class Account:
    def __init__(self, server, number=None):
        self.server = server
        self.number = number or unique_number()
        self.password = random_password()
        self.registration_id = random.randint(1, 16383)
        session_id = harness.verified_session(server, self.number)
        resp = harness.register_with_session(server, session_id, self.number, self.password,
                                             registration_id=self.registration_id)
        assert resp.status == 200, resp
        self.uuid = resp.body["uuid"]
        self.devices = {1: (self.password, self.registration_id)}

    def auth(self, device_id=1):
        return (f"{self.uuid}.{device_id}", self.devices[device_id][0])

    def request(self, method, path, body=None, device_id=1):
        return self.server.request(method, path, body, auth=self.auth(device_id))

    def socket(self, device_id=1):
        return WebSocket.connect(self.server.port, "/v1/websocket",
                                 {"Authorization": harness.basic_auth(*self.auth(device_id))})

    def envelopes_for(self, other, content=b"ciphertext", exclude=None):
        return [{"type": 1, "destinationDeviceId": d, "destinationRegistrationId": reg,
                 "content": base64.b64encode(content).decode()}
                for d, (_, reg) in sorted(other.devices.items()) if d != exclude]

    def send(self, other, content=b"ciphertext", device_id=1):
        exclude = device_id if other is self else None
        return self.request("PUT", f"/v1/messages/{other.uuid}",
                            {"timestamp": int(time.time() * 1000),
                             "messages": self.envelopes_for(other, content, exclude)}, device_id)

    def link(self):
        """Links a new device through the provisioning socket; answers its device id."""
        ws = WebSocket.connect(self.server.port, "/v1/websocket/provisioning")
        address = ws.recv_json()
        assert address["type"] == "address", address
        code = self.request("POST", "/v1/devices/provisioning/code")
        assert code.status == 200, code
        secret = json.dumps({"code": code.body["verificationCode"]}).encode()
        resp = self.request("PUT", f"/v1/provisioning/{address['address']}", {"body": base64.b64encode(secret).decode()})
        assert resp.status == 204, resp
        message = ws.recv_json()
        assert message["type"] == "message"
        try:
            ws.recv_frame()
        except WebSocketClosed as closed:
            assert closed.code == 1000
        got = json.loads(base64.b64decode(message["body"]))
        password = random_password()
        registration_id = random.randint(1, 16383)
        resp = self.server.request("PUT", "/v1/devices/link", {"verificationCode": got["code"], "password": password,
                                                               "registrationId": registration_id})
        assert resp.status == 200, resp
        device_id = resp.body["deviceId"]
        self.devices[device_id] = (password, registration_id)
        return device_id


def drain(ws, timeout=5.0):
    """Envelopes until queue_empty."""
    out = []
    ws.sock.settimeout(timeout)
    while True:
        frame = ws.recv_json()
        if frame["type"] == "queue_empty":
            return out
        assert frame["type"] == "envelope", frame
        out.append(frame)


def config():
    return {"verification": {"proof_of_work_bits": 0},
            "limits": harness.relaxed_number_limits(),
            "server": {"websocket_ping_interval": "30s"}}


class KeysTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, config())

    def test_upload_count_and_bundle_consumes_a_prekey(self):
        alice, bob = Account(self.server), Account(self.server)
        self.assertEqual(bob.request("PUT", "/v2/keys", KEYS[0]).status, 204)
        self.assertEqual(bob.request("GET", "/v2/keys").body, {"count": 3})
        resp = alice.request("GET", f"/v2/keys/{bob.uuid}/*")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["identityKey"], KEYS[0]["identityKey"])
        [device] = resp.body["devices"]
        self.assertEqual(device["deviceId"], 1)
        self.assertEqual(device["registrationId"], bob.registration_id)
        self.assertEqual(device["signedPreKey"], KEYS[0]["signedPreKey"])
        self.assertIn(device["preKey"], KEYS[0]["preKeys"])
        self.assertEqual(bob.request("GET", "/v2/keys").body, {"count": 2})
        self.assertEqual(alice.request("GET", f"/v2/keys/{bob.uuid}/1").status, 200)
        self.assertEqual(alice.request("GET", f"/v2/keys/{bob.uuid}/1").status, 200)
        resp = alice.request("GET", f"/v2/keys/{bob.uuid}/1")
        self.assertEqual(resp.status, 200)
        self.assertNotIn("preKey", resp.body["devices"][0])  # the pool is empty; the signed prekey remains

    def test_bad_signature_and_bad_keys_are_refused(self):
        bob = Account(self.server)
        bad = json.loads(json.dumps(KEYS[0]))
        bad["signedPreKey"]["signature"] = KEYS[1]["signedPreKey"]["signature"]
        resp = bob.request("PUT", "/v2/keys", bad)
        self.assertError(resp, 400, "malformed_request")
        self.assertIn("does not verify", resp.body["message"])
        bad = dict(KEYS[0], identityKey=base64.b64encode(b"\x06" + b"\x01" * 32).decode())
        self.assertError(bob.request("PUT", "/v2/keys", bad), 400, "malformed_request")
        bad = dict(KEYS[0], preKeys=[{"keyId": 1, "publicKey": "AAAA"}])
        self.assertError(bob.request("PUT", "/v2/keys", bad), 400, "malformed_request")
        self.assertError(bob.request("PUT", "/v2/keys", {"preKeys": []}), 400, "malformed_request")
        self.assertError(bob.request("PUT", "/v2/keys", "[]"), 400, "malformed_request")
        self.assertEqual(bob.request("GET", "/v2/keys").body, {"count": 0})

    def test_unknown_account_or_device_has_no_keys(self):
        alice = Account(self.server)
        self.assertError(alice.request("GET", "/v2/keys/00000000-0000-4000-8000-000000000000/*"), 404, "not_found")
        self.assertError(alice.request("GET", f"/v2/keys/{alice.uuid}/7"), 404, "not_found")
        self.assertError(alice.request("GET", f"/v2/keys/{alice.uuid}/x"), 400, "malformed_request")
        self.assertError(self.server.request("GET", f"/v2/keys/{alice.uuid}/*"), 401, "unauthorized")

    def test_linked_device_must_use_the_account_identity(self):
        bob = Account(self.server)
        self.assertEqual(bob.request("PUT", "/v2/keys", KEYS[0]).status, 204)
        two = bob.link()
        self.assertError(bob.request("PUT", "/v2/keys", KEYS[1], device_id=two), 409, "conflict")
        same_identity = {"identityKey": KEYS[0]["identityKey"], "preKeys": KEYS[1]["preKeys"]}
        self.assertEqual(bob.request("PUT", "/v2/keys", same_identity, device_id=two).status, 204)
        self.assertEqual(bob.request("GET", "/v2/keys", device_id=two).body, {"count": 3})

    def test_directory(self):
        alice, bob = Account(self.server), Account(self.server)
        resp = alice.request("GET", f"/v1/directory/{bob.number}")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, {"uuid": bob.uuid})
        resp = alice.request("GET", "/v1/directory/%2B" + bob.number[1:])
        self.assertEqual(resp.body, {"uuid": bob.uuid})
        self.assertError(alice.request("GET", f"/v1/directory/{unique_number()}"), 404, "not_found")
        self.assertError(alice.request("GET", "/v1/directory/12"), 400, "invalid_number")


class DirectoryLimitTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        overrides = config()
        overrides["limits"]["directory_per_requester"] = harness.Inline(burst=3, refill="1h")
        cls.server = start_server(cls, overrides)

    def test_lookups_are_limited_per_requester(self):
        alice, bob = Account(self.server), Account(self.server)
        for _ in range(3):
            self.assertEqual(alice.request("GET", f"/v1/directory/{bob.number}").status, 200)
        resp = alice.request("GET", f"/v1/directory/{bob.number}")
        self.assertError(resp, 429, "rate_limited")
        self.assertRetryAfter(resp)
        self.assertEqual(bob.request("GET", f"/v1/directory/{alice.number}").status, 200)


class DevicesTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, dict(config(), devices={"max_linked_devices": 2}))

    def test_link_list_and_remove(self):
        bob = Account(self.server)
        two = bob.link()
        self.assertEqual(two, 2)
        resp = bob.request("GET", "/v1/devices", device_id=2)
        self.assertEqual([d["id"] for d in resp.body["devices"]], [1, 2])
        self.assertEqual(resp.body["devices"][1]["registrationId"], bob.devices[2][1])
        self.assertEqual(harness.whoami(self.server, *bob.auth(2)).status, 200)
        self.assertError(bob.request("POST", "/v1/devices/provisioning/code", device_id=2), 403, "forbidden")
        self.assertError(bob.request("DELETE", "/v1/devices/1", device_id=1), 403, "forbidden")
        self.assertError(bob.request("DELETE", "/v1/devices/9"), 404, "not_found")
        self.assertError(bob.request("DELETE", "/v1/devices/abc"), 400, "malformed_request")
        self.assertEqual(bob.request("DELETE", "/v1/devices/2").status, 204)
        self.assertError(harness.whoami(self.server, *bob.auth(2)), 401, "unauthorized")

    def test_codes_are_single_use_and_devices_are_capped(self):
        bob = Account(self.server)
        code = bob.request("POST", "/v1/devices/provisioning/code").body["verificationCode"]
        link = {"verificationCode": code, "password": random_password(), "registrationId": 5}
        self.assertEqual(self.server.request("PUT", "/v1/devices/link", link).status, 200)
        self.assertError(self.server.request("PUT", "/v1/devices/link", link), 403, "forbidden")
        self.assertError(self.server.request("PUT", "/v1/devices/link", dict(link, verificationCode="nope")), 403,
                         "forbidden")
        bob.link()  # device 3: the cap of 2 linked devices is reached
        code = bob.request("POST", "/v1/devices/provisioning/code").body["verificationCode"]
        resp = self.server.request("PUT", "/v1/devices/link", dict(link, verificationCode=code))
        self.assertError(resp, 409, "conflict")
        self.assertError(self.server.request("PUT", "/v1/devices/link", dict(link, password="short")), 400,
                         "malformed_request")
        self.assertError(self.server.request("PUT", "/v1/devices/link", {"password": "x"}), 400, "malformed_request")

    def test_provisioning_to_an_unknown_address(self):
        bob = Account(self.server)
        resp = bob.request("PUT", "/v1/provisioning/nobody", {"body": "aGVsbG8="})
        self.assertError(resp, 404, "not_found")
        self.assertError(bob.request("PUT", "/v1/provisioning/nobody", {"body": 5}), 400, "malformed_request")


class MessagesTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, dict(config(), messages={"max_content_bytes": 30000}))

    def test_offline_then_drain_in_order_then_ack_deletes(self):
        alice, bob = Account(self.server), Account(self.server)
        for i in range(5):
            resp = alice.send(bob, f"secret {i}".encode())
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.body, {"needsSync": False})
        ws = bob.socket()
        got = drain(ws)
        self.assertEqual([base64.b64decode(e["content"]) for e in got], [f"secret {i}".encode() for i in range(5)])
        self.assertEqual(got[0]["source"], alice.uuid)
        self.assertEqual(got[0]["sourceDevice"], 1)
        self.assertEqual(got[0]["envelopeType"], 1)
        ws.send_json({"type": "ack", "ids": [e["id"] for e in got[:3]]})
        time.sleep(0.2)
        ws.close()
        ws = bob.socket()
        self.assertEqual([e["id"] for e in drain(ws)], [e["id"] for e in got[3:]])
        ws.close()

    def test_acknowledged_then_reconnected_at_once_is_not_redelivered(self):
        # Acknowledgements are written without blocking the socket; a fresh drain waits for them, so a client that
        # acknowledges, disconnects and reconnects immediately gets nothing twice.
        alice, bob = Account(self.server), Account(self.server)
        for round_ in range(3):
            for i in range(40):
                self.assertEqual(alice.send(bob, f"r{round_} m{i}".encode()).status, 200)
            ws = bob.socket()
            got = drain(ws)
            self.assertEqual(len(got), 40)
            for i in range(0, 40, 10):
                ws.send_json({"type": "ack", "ids": [e["id"] for e in got[i:i + 10]]})
            ws.close()
            ws = bob.socket()
            self.assertEqual(drain(ws), [])
            ws.close()

    def test_live_push_to_connected_devices(self):
        alice, bob = Account(self.server), Account(self.server)
        ws = bob.socket()
        self.assertEqual(drain(ws), [])
        self.assertEqual(alice.send(bob, b"hello live").status, 200)
        frame = ws.recv_json()
        self.assertEqual(frame["type"], "envelope")
        self.assertEqual(base64.b64decode(frame["content"]), b"hello live")
        ws.close()

    def test_send_over_the_socket(self):
        alice, bob = Account(self.server), Account(self.server)
        ws = alice.socket()
        drain(ws)
        ws.send_json({"type": "send", "requestId": "r1", "destination": bob.uuid, "timestamp": 5,
                      "messages": alice.envelopes_for(bob, b"via socket")})
        self.assertEqual(ws.recv_json(), {"type": "send_result", "requestId": "r1", "status": 200,
                                          "body": {"needsSync": False}})
        ws.send_json({"type": "send", "requestId": "r2", "destination": bob.uuid, "timestamp": 5, "messages": []})
        answer = ws.recv_json()
        self.assertEqual(answer["status"], 400)
        self.assertEqual(answer["body"]["error"], "malformed_request")
        ws.close()
        bws = bob.socket()
        [e] = drain(bws)
        self.assertEqual(base64.b64decode(e["content"]), b"via socket")
        self.assertEqual(e["timestamp"], 5)
        bws.close()

    def test_mismatched_and_stale_devices(self):
        alice, bob = Account(self.server), Account(self.server)
        bob.link()
        body = {"timestamp": 1, "messages": alice.envelopes_for(bob)[:1]}
        resp = alice.request("PUT", f"/v1/messages/{bob.uuid}", body)
        self.assertError(resp, 409, "mismatched_devices")
        self.assertEqual(resp.body["missingDevices"], [2])
        self.assertEqual(resp.body["extraDevices"], [])
        extra = alice.envelopes_for(bob) + [dict(alice.envelopes_for(bob)[0], destinationDeviceId=7)]
        resp = alice.request("PUT", f"/v1/messages/{bob.uuid}", {"timestamp": 1, "messages": extra})
        self.assertError(resp, 409, "mismatched_devices")
        self.assertEqual(resp.body["extraDevices"], [7])
        stale = alice.envelopes_for(bob)
        stale[1]["destinationRegistrationId"] = (stale[1]["destinationRegistrationId"] % 16383) + 1
        resp = alice.request("PUT", f"/v1/messages/{bob.uuid}", {"timestamp": 1, "messages": stale})
        self.assertError(resp, 410, "stale_devices")
        self.assertEqual(resp.body["staleDevices"], [2])
        self.assertEqual(alice.send(bob).status, 200)
        # To oneself: every other device, never the sender's own.
        resp = bob.send(bob)
        self.assertEqual(resp.status, 200, resp)
        resp = bob.request("PUT", f"/v1/messages/{bob.uuid}", {"timestamp": 1, "messages": bob.envelopes_for(bob)})
        self.assertError(resp, 409, "mismatched_devices")
        self.assertEqual(resp.body["extraDevices"], [1])
        self.assertEqual(bob.send(alice).body, {"needsSync": True})

    def test_device_changes_are_seen_by_the_next_send(self):
        # The server keeps each account's device list in memory; every change must drop it at once.
        alice, bob = Account(self.server), Account(self.server)
        ws = alice.socket()
        drain(ws)

        def socket_send(messages, request_id):
            ws.send_json({"type": "send", "requestId": request_id, "destination": bob.uuid, "timestamp": 1,
                          "messages": messages})
            while True:
                frame = ws.recv_json()
                if frame.get("type") == "send_result":
                    return frame

        self.assertEqual(alice.send(bob).status, 200)  # the list {1} is now cached
        old = alice.envelopes_for(bob)
        two = bob.link()
        resp = alice.request("PUT", f"/v1/messages/{bob.uuid}", {"timestamp": 1, "messages": old})
        self.assertError(resp, 409, "mismatched_devices")
        self.assertEqual(resp.body["missingDevices"], [two])
        self.assertEqual(socket_send(old, "a")["body"]["missingDevices"], [two])
        self.assertEqual(socket_send(alice.envelopes_for(bob), "b")["status"], 200)

        with_two = alice.envelopes_for(bob)
        self.assertEqual(bob.request("DELETE", f"/v1/devices/{two}").status, 204)
        del bob.devices[two]
        answer = socket_send(with_two, "c")
        self.assertEqual(answer["status"], 409)
        self.assertEqual(answer["body"]["extraDevices"], [two])
        self.assertEqual(alice.send(bob).status, 200)

        # Re-registration replaces device 1 under a new registration id: the old one is stale at once.
        before = alice.envelopes_for(bob)
        new_owner = Account(self.server, number=bob.number)
        self.assertEqual(new_owner.uuid, bob.uuid)
        if new_owner.registration_id != bob.registration_id:
            resp = alice.request("PUT", f"/v1/messages/{bob.uuid}", {"timestamp": 1, "messages": before})
            self.assertError(resp, 410, "stale_devices")
            self.assertEqual(socket_send(before, "d")["status"], 410)
        self.assertEqual(alice.send(new_owner).status, 200)
        ws.close()

    def test_sends_from_memory_still_see_credential_changes(self):
        # With the sender's credentials and the destination's devices in memory, PUT /v1/messages is answered
        # without a worker; linking, removal, a wrong password and re-registration must still count at once.
        def inline_sends():
            samples = harness.parse_prometheus(self.server.request("GET", "/metrics").body)
            return harness.metric_sum(samples, "latchkey_http_inline_requests_total", route="/v1/messages/{uuid}")

        alice, bob = Account(self.server), Account(self.server)
        before = inline_sends()
        for _ in range(3):
            self.assertEqual(alice.send(bob).status, 200)
        self.assertGreaterEqual(inline_sends() - before, 2)  # the first one read storage

        two = bob.link()  # bob's credentials were in memory (the provisioning code request)
        self.assertEqual(bob.send(alice, device_id=two).status, 200)
        self.assertEqual(bob.send(alice, device_id=two).status, 200)
        self.assertEqual(bob.request("DELETE", f"/v1/devices/{two}").status, 204)
        self.assertError(bob.send(alice, device_id=two), 401, "unauthorized")
        del bob.devices[two]

        wrong = self.server.request("PUT", f"/v1/messages/{bob.uuid}",
                                    {"timestamp": 1, "messages": alice.envelopes_for(bob)},
                                    auth=(alice.auth()[0], "not-" + alice.password))
        self.assertError(wrong, 401, "unauthorized")
        self.assertError(self.server.request("PUT", f"/v1/messages/{bob.uuid}", {"timestamp": 1, "messages": []},
                                             auth=alice.auth()), 400, "malformed_request")

        old_alice = alice.auth()
        new_alice = Account(self.server, number=alice.number)
        self.assertEqual(new_alice.uuid, alice.uuid)
        resp = self.server.request("PUT", f"/v1/messages/{bob.uuid}",
                                   {"timestamp": 1, "messages": alice.envelopes_for(bob)}, auth=old_alice)
        self.assertError(resp, 401, "unauthorized")
        self.assertEqual(new_alice.send(bob).status, 200)

    def test_bad_messages(self):
        alice, bob = Account(self.server), Account(self.server)
        path = f"/v1/messages/{bob.uuid}"
        good = alice.envelopes_for(bob)[0]
        cases = [
            {"messages": [good]},
            {"timestamp": 1},
            {"timestamp": 1, "messages": []},
            {"timestamp": 1, "messages": [dict(good, type=2)]},
            {"timestamp": 1, "messages": [dict(good, content="***")]},
            {"timestamp": 1, "messages": [dict(good, content="")]},
            {"timestamp": 1, "messages": [dict(good, destinationDeviceId="1")]},
            {"timestamp": 1, "messages": [good, good]},
            {"timestamp": 1, "messages": [dict(good, content=base64.b64encode(b"x" * 30001).decode())]},
            {"timestamp": -1, "messages": [good]},
        ]
        for body in cases:
            with self.subTest(body=str(body)[:80]):
                self.assertError(alice.request("PUT", path, body), 400, "malformed_request")
        self.assertError(alice.request("PUT", "/v1/messages/00000000-0000-4000-8000-000000000000",
                                       {"timestamp": 1, "messages": [good]}), 404, "not_found")
        self.assertError(self.server.request("PUT", path, {"timestamp": 1, "messages": [good]}), 401, "unauthorized")
        big = {"timestamp": 1, "messages": [dict(good, content=base64.b64encode(b"x" * 60000).decode())]}
        self.assertError(alice.request("PUT", path, big), 413, "payload_too_large")
        ws = bob.socket()
        self.assertEqual(drain(ws), [])  # nothing was stored by the refused sends
        ws.close()

    def test_socket_bad_input(self):
        alice = Account(self.server)
        with self.assertRaises(HandshakeRefused) as refused:
            WebSocket.connect(self.server.port, "/v1/websocket")
        self.assertEqual(refused.exception.status, 401)
        self.assertEqual(refused.exception.body["error"], "unauthorized")
        with self.assertRaises(HandshakeRefused) as refused:
            WebSocket.connect(self.server.port, "/v1/websocket",
                              {"Authorization": harness.basic_auth(f"{alice.uuid}.1", "wrong-password-123456")})
        self.assertEqual(refused.exception.status, 401)
        self.assertError(alice.request("GET", "/v1/websocket"), 400, "malformed_request")  # not an upgrade
        ws = alice.socket()
        drain(ws)
        for frame in ["not json", "[]", '{"type": 5}', '{"type": "dance"}', '{"type": "ack"}',
                      '{"type": "ack", "ids": ["x"]}', '{"type": "send"}',
                      '{"type": "send", "requestId": "' + "r" * 65 + '", "destination": "x"}']:
            ws.send_text(frame)
            answer = ws.recv_json()
            self.assertEqual(answer["type"], "error", frame)
            self.assertEqual(answer["error"], "malformed_request")
        ws.send_frame(0x2, b"\x00\x01")
        with self.assertRaises(WebSocketClosed) as closed:
            ws.recv_frame()
        self.assertEqual(closed.exception.code, 1003)
        ws.sock.close()
        ws = alice.socket()
        drain(ws)
        ws.send_text("x" * 70000)
        with self.assertRaises((WebSocketClosed, ConnectionError)) as closed:
            ws.recv_frame()
        if isinstance(closed.exception, WebSocketClosed):
            self.assertEqual(closed.exception.code, 1009)
        ws.sock.close()
        self.assertServerHealthy(self.server)

    def test_a_newer_connection_displaces_the_older(self):
        alice = Account(self.server)
        first = alice.socket()
        drain(first)
        second = alice.socket()
        drain(second)
        with self.assertRaises(WebSocketClosed) as closed:
            first.recv_frame()
        self.assertEqual(closed.exception.code, 4409)
        second.close()


class RestartAndReregistrationTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, config())

    def test_unacknowledged_envelopes_survive_kill9(self):
        alice, bob = Account(self.server), Account(self.server)
        self.assertEqual(alice.send(bob, b"before the crash").status, 200)
        ws = bob.socket()
        [first] = drain(ws)
        ws.close()  # received, never acknowledged
        self.server.kill9()
        self.server.start()
        ws = bob.socket()
        [again] = drain(ws)
        self.assertEqual(again["id"], first["id"])
        self.assertEqual(base64.b64decode(again["content"]), b"before the crash")
        ws.send_json({"type": "ack", "ids": [again["id"]]})
        time.sleep(0.3)
        ws.close()
        self.server.stop()
        self.server.start()
        ws = bob.socket()
        self.assertEqual(drain(ws), [])
        ws.close()

    def test_reregistration_unregisters_old_devices(self):
        alice, bob = Account(self.server), Account(self.server)
        bob.request("PUT", "/v2/keys", KEYS[0])
        two = bob.link()
        old_primary, old_linked = bob.socket(1), bob.socket(two)
        drain(old_primary)
        drain(old_linked)
        self.assertEqual(alice.send(bob, b"for the old devices").status, 200)
        old_auth = (bob.auth(1), bob.auth(two))
        thief = Account(self.server, number=bob.number)  # same number, new owner (no lock, no delay in tests)
        self.assertEqual(thief.uuid, bob.uuid)
        for ws in (old_primary, old_linked):
            with self.assertRaises(WebSocketClosed) as closed:
                while True:
                    ws.recv_frame()  # the pushed envelope may come first
            self.assertEqual(closed.exception.code, 4401)
            self.assertEqual(closed.exception.reason, "device unregistered")
        for auth in old_auth:
            self.assertError(harness.whoami(self.server, *auth), 401, "unauthorized")
            with self.assertRaises(HandshakeRefused):
                WebSocket.connect(self.server.port, "/v1/websocket", {"Authorization": harness.basic_auth(*auth)})
        ws = thief.socket()
        self.assertEqual(drain(ws), [])  # the old devices' queue is gone
        ws.close()
        # The identity key was the old owner's: no bundle until the new owner uploads one.
        self.assertError(alice.request("GET", f"/v2/keys/{bob.uuid}/*"), 404, "not_found")
        self.assertEqual(thief.request("PUT", "/v2/keys", KEYS[2]).status, 204)
        resp = alice.request("GET", f"/v2/keys/{bob.uuid}/*")
        self.assertEqual(resp.body["identityKey"], KEYS[2]["identityKey"])
        self.assertEqual([d["deviceId"] for d in resp.body["devices"]], [1])

    def test_removed_device_socket_is_closed(self):
        bob = Account(self.server)
        two = bob.link()
        ws = bob.socket(two)
        drain(ws)
        self.assertEqual(bob.request("DELETE", f"/v1/devices/{two}").status, 204)
        with self.assertRaises(WebSocketClosed) as closed:
            ws.recv_frame()
        self.assertEqual(closed.exception.code, 4401)


class CrashUnderLoadTest(LatchkeyTestCase):
    """kill -9 while sends (HTTP and socket) and acknowledgements are in flight, in several rounds. After each
    restart: every send answered 200 is still queued for the device that never connected, and for the device that
    was reading it was either received before the crash or is queued again; a send's two envelopes (one per device)
    are stored together or not at all; the queues drain in id order, without duplicates or damaged contents."""

    ROUNDS = 3
    SENDERS_PER_TRANSPORT = 2
    SENDS_PER_SENDER = 400  # under messages_per_sender's burst (1,000): no send is limited
    KILL_AFTER_ANSWERED = 500  # of the 4 x 400: the kill comes while sends are still in flight
    WINDOW = 32  # socket sends in flight per sender

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, config())

    def test_acknowledged_sends_survive_kill9_under_load(self):
        bob = Account(self.server)
        second = bob.link()  # never connects while sends are in flight: nothing of it is acknowledged then
        for round_ in range(self.ROUNDS):
            with self.subTest(round=round_):
                self.crash_round(bob, second, round_)

    def crash_round(self, bob, second, round_):
        senders = [Account(self.server) for _ in range(2 * self.SENDERS_PER_TRANSPORT)]
        answered, received_before = set(), set()
        lock = threading.Lock()
        enough = threading.Event()
        errors = []
        sockets = []

        def record(content):
            with lock:
                answered.add(content)
                if len(answered) >= self.KILL_AFTER_ANSWERED:
                    enough.set()

        def via_http(n, sender):
            try:
                for i in range(self.SENDS_PER_SENDER):
                    content = f"{round_}-http-{n}-{i}".encode()
                    status = sender.send(bob, content).status
                    if status != 200:
                        with lock:
                            errors.append(f"http sender {n}: send {i} answered {status}")
                        return
                    record(content)
            except (OSError, http.client.HTTPException, harness.ServerDied):
                pass  # the server was killed

        def via_socket(n, sender):
            contents = {}
            try:
                ws = sender.socket()
                sockets.append(ws)
                drain(ws)
                sent = done = 0
                while done < self.SENDS_PER_SENDER:
                    while sent < self.SENDS_PER_SENDER and sent - done < self.WINDOW:
                        contents[str(sent)] = f"{round_}-ws-{n}-{sent}".encode()
                        ws.send_json({"type": "send", "requestId": str(sent), "destination": bob.uuid,
                                      "timestamp": 1, "messages": sender.envelopes_for(bob, contents[str(sent)])})
                        sent += 1
                    frame = ws.recv_json()
                    if frame.get("type") != "send_result":
                        continue
                    done += 1
                    if frame["status"] != 200:
                        with lock:
                            errors.append(f"socket sender {n}: {frame}")
                        return
                    record(contents[frame["requestId"]])
            except (OSError, WebSocketClosed, ValueError):
                pass  # the server was killed (a frame cut short may fail to parse)

        def reader():
            try:
                ws = bob.socket()
                sockets.append(ws)
                ws.sock.settimeout(10)
                while True:
                    frame = ws.recv_json()
                    if frame["type"] == "envelope":
                        with lock:
                            received_before.add(base64.b64decode(frame["content"]))
                        ws.send_json({"type": "ack", "ids": [frame["id"]]})
            except (OSError, WebSocketClosed, ValueError):
                pass

        threads = [threading.Thread(target=reader)]
        for n in range(self.SENDERS_PER_TRANSPORT):
            threads.append(threading.Thread(target=via_http, args=(n, senders[n])))
            threads.append(threading.Thread(target=via_socket, args=(n, senders[self.SENDERS_PER_TRANSPORT + n])))
        for t in threads:
            t.start()
        try:
            self.assertTrue(enough.wait(60), f"only {len(answered)} sends answered")
            self.server.kill9()
        finally:
            for t in threads:
                t.join(30)
            for ws in sockets:
                ws.sock.close()
        self.assertEqual(errors, [])
        self.assertLess(len(answered), 4 * self.SENDERS_PER_TRANSPORT * self.SENDS_PER_SENDER,
                        "every send was answered before the kill: nothing was in flight")

        self.server.start()
        after = {}
        for device in (1, second):
            ws = bob.socket(device)
            envelopes = drain(ws, timeout=30)
            ids = [e["id"] for e in envelopes]
            self.assertEqual(ids, sorted(set(ids)), f"device {device}: not in id order, or duplicated")
            after[device] = [base64.b64decode(e["content"]) for e in envelopes]
            for content in after[device]:
                self.assertRegex(content, rb"^%d-(http|ws)-\d+-\d+$" % round_)
            ws.send_json({"type": "ack", "ids": ids})
            ws.close()
        first_copy, second_copy = set(after[1]), set(after[second])
        self.assertEqual(len(second_copy), len(after[second]), "an envelope stored twice")
        self.assertEqual(answered - second_copy, set(), "answered 200, lost by the crash")
        self.assertEqual(answered - first_copy - received_before, set(), "answered 200, lost by the crash")
        # Stored together or not at all: the device that never read has a copy exactly when the reading device has
        # one queued or received it before the crash.
        self.assertEqual(first_copy - second_copy, set(), "one device's envelope of a send without the other's")
        self.assertEqual(received_before - second_copy, set(), "one device's envelope of a send without the other's")
        self.assertEqual(second_copy - first_copy - received_before, set(), "one device's envelope without the other's")
        for device in (1, second):  # the acknowledgements above deleted everything
            ws = bob.socket(device)
            self.assertEqual(drain(ws), [])
            ws.close()

if __name__ == "__main__":
    unittest.main()
