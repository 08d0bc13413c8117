"""End to end with the reference client: two people, two devices each, real `latchkey` processes against the
real `latchkeyd` (issue 4).

alice and bob each register a primary device (bob with a PIN, so Registration Lock is on) and link a second
device through the provisioning flow, using the link URL the new device prints. Then: messages both ways
across all four devices, the sender's linked device gets its own (sync) copy, online and offline delivery,
acknowledgement deletes, the server's database never holds a plaintext, unacknowledged envelopes survive a
server restart, safety numbers agree on both sides, no private key, device password or PIN leaves the
devices, the interactive chat sends and shows messages live, and a re-registration of bob's number (from a new store,
unlocking Registration Lock with the PIN) unregisters bob's old devices while alice is warned that bob's
safety number changed.

The client binary: env LATCHKEY_CLIENT, else build/client/latchkey. The server: env LATCHKEYD (harness.py).
"""

import base64
import json
import os
import sqlite3
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import harness

CLIENT_TIMEOUT = 60  # seconds for one client command


def client_path():
    path = os.environ.get("LATCHKEY_CLIENT")
    if not path:
        path = os.path.join(harness.SOURCE_DIR, "build", "client", "latchkey")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"latchkey client binary not found at {path} (set LATCHKEY_CLIENT)")
    return path


class Client:
    """One device: a `latchkey` store file used against the test server. Every output of every client process
    is kept in Client.transcript (the secrecy test searches it)."""

    transcript = []

    def __init__(self, server, folder, name):
        self.server = server
        self.name = name
        self.store = os.path.join(folder, name, "store.db")
        self.binary = client_path()
        self.uuid = None
        self.device_id = None

    def command(self, *args, json_output=True):
        cmd = [self.binary, "--server", self.server.base_url, "--store", self.store]
        if json_output:
            cmd.append("--json")
        return cmd + [str(a) for a in args]

    def run(self, *args, stdin=None, timeout=CLIENT_TIMEOUT, expect=0):
        proc = subprocess.run(self.command(*args), input=stdin, capture_output=True, text=True, timeout=timeout)
        Client.transcript += [proc.stdout, proc.stderr]
        if expect is not None and proc.returncode != expect:
            raise AssertionError(f"{self.name}: latchkey {' '.join(map(str, args))} exited {proc.returncode}, "
                                 f"expected {expect}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def json_lines(self, proc):
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def register(self, number, pin=None, expect=0, pin_prompt=None):
        """Runs `register`, typing the SMS code from the server's outbox on stdin once it was sent."""
        before = len(self.server.outbox_for(number))
        args = ["register", number] + (["--pin", pin] if pin else [])
        proc = subprocess.Popen(self.command(*args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while len(self.server.outbox_for(number)) <= before:
                if proc.poll() is not None:
                    raise AssertionError(f"{self.name}: register exited {proc.returncode} before a code was sent: "
                                         f"{proc.stderr.read()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name}: no SMS code for {number} in the outbox")
                time.sleep(0.05)
            code = harness.extract_code(self.server.outbox_for(number)[-1]["body"])
            typed = code + "\n" + (pin_prompt + "\n" if pin_prompt else "")
            out, err = proc.communicate(typed, timeout=CLIENT_TIMEOUT)
            Client.transcript += [out, err]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if expect is not None and proc.returncode != expect:
            raise AssertionError(f"{self.name}: register exited {proc.returncode}, expected {expect}\n"
                                 f"stdout: {out}\nstderr: {err}")
        if proc.returncode == 0:
            info = json.loads(out.strip().splitlines()[-1])
            self.uuid, self.device_id = info["uuid"], info["deviceId"]
        return proc.returncode, out, err

    def link_to(self, primary, name):
        """Links this (new) device to `primary`'s account through the URL that `link` prints."""
        proc = subprocess.Popen(self.command("link", "--name", name, "--timeout", "30"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline()
            if not first:
                raise AssertionError(f"{self.name}: link printed nothing: {proc.stderr.read()}")
            url = json.loads(first)["linkUrl"]
            if not url.startswith("latchkey://link?address="):
                raise AssertionError(f"unexpected link URL {url!r}")
            primary.run("add-device", url)
            out, err = proc.communicate(timeout=CLIENT_TIMEOUT)
            Client.transcript += [first, out, err]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            raise AssertionError(f"{self.name}: link exited {proc.returncode}\nstdout: {out}\nstderr: {err}")
        info = json.loads(out.strip().splitlines()[-1])
        self.uuid, self.device_id = info["uuid"], info["deviceId"]
        return info

    def secrets(self):
        """The device password and identity private key from the store (raw bytes and base64 forms)."""
        with sqlite3.connect(self.store) as db:
            rows = dict(db.execute("SELECT name, value FROM settings WHERE name IN "
                                   "('account.password', 'account.identity_private')").fetchall())
        password = rows["account.password"]
        password = password if isinstance(password, bytes) else password.encode()
        private = rows["account.identity_private"]
        private = private if isinstance(private, bytes) else private.encode("latin-1")
        return {"password": password, "identity private key": private,
                "identity private key (base64)": base64.b64encode(private)}

    def send(self, recipient, text, expect=0):
        return self.run("send", recipient, text, expect=expect)

    def receive(self, timeout=15, expect=0):
        proc = self.run("receive", "--timeout", timeout, expect=expect)
        return self.json_lines(proc)

    def texts(self, messages):
        return [m["text"] for m in messages]


class ClientEndToEndTest(harness.LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_server(cls, {
            "verification": {"proof_of_work_bits": 4},
            "limits": harness.relaxed_number_limits(),
        })
        cls.folder = tempfile.mkdtemp(prefix="latchkey-client-e2e-")
        cls.addClassCleanup(shutil.rmtree, cls.folder, ignore_errors=True)
        cls.alice_number = harness.unique_number("33")
        cls.bob_number = harness.unique_number("49")
        cls.pin = "4711-harbour"
        cls.alice1 = Client(cls.server, cls.folder, "alice-phone")
        cls.alice2 = Client(cls.server, cls.folder, "alice-laptop")
        cls.bob1 = Client(cls.server, cls.folder, "bob-phone")
        cls.bob2 = Client(cls.server, cls.folder, "bob-laptop")
        cls.alice1.register(cls.alice_number)
        cls.bob1.register(cls.bob_number, pin=cls.pin)
        cls.alice2.link_to(cls.alice1, "alice's laptop")
        cls.bob2.link_to(cls.bob1, "bob's laptop")

    def assertOnlyMessages(self, messages, expected):
        self.assertEqual([m["text"] for m in messages], expected, f"messages: {messages!r}")

    # ---- setup checks ----------------------------------------------------------------------------------

    def test_01_devices_are_linked(self):
        self.assertEqual(self.alice1.device_id, 1)
        self.assertEqual(self.alice2.device_id, 2)
        self.assertEqual(self.alice1.uuid, self.alice2.uuid)
        self.assertEqual(self.bob2.uuid, self.bob1.uuid)
        devices = self.alice1.json_lines(self.alice1.run("devices"))
        self.assertEqual([d["id"] for d in devices], [1, 2])
        self.assertEqual(devices[1]["name"], "alice's laptop")  # decrypted by the client; opaque to the server
        self.assertTrue(devices[0]["thisDevice"])
        who = self.alice2.json_lines(self.alice2.run("whoami"))[0]
        self.assertEqual(who["number"], self.alice_number)
        self.assertEqual(who["deviceId"], 2)
        mode = os.stat(self.alice1.store).st_mode & 0o777
        self.assertEqual(mode, 0o600, f"store mode {oct(mode)}")

    # ---- messages ---------------------------------------------------------------------------------------

    def test_02_messages_both_ways_across_all_devices(self):
        self.alice1.send(self.bob_number, "hello bob, from alice's phone")
        for device in (self.bob1, self.bob2):
            got = device.receive()
            self.assertOnlyMessages(got, ["hello bob, from alice's phone"])
            self.assertEqual(got[0]["from"], self.alice1.uuid)
            self.assertEqual(got[0]["fromDevice"], 1)
            self.assertFalse(got[0]["sync"])
        # alice's laptop gets its own copy of what her phone sent.
        sync = self.alice2.receive()
        self.assertOnlyMessages(sync, ["hello bob, from alice's phone"])
        self.assertTrue(sync[0]["sync"])
        self.assertEqual(sync[0]["destination"], self.bob1.uuid)
        self.assertEqual(sync[0]["from"], self.alice1.uuid)

        # bob answers from his laptop (by uuid), alice's two devices get it, bob's phone gets the sync copy.
        self.bob2.send(self.alice1.uuid, "hi alice, from bob's laptop")
        for device in (self.alice1, self.alice2):
            got = device.receive()
            self.assertOnlyMessages(got, ["hi alice, from bob's laptop"])
            self.assertEqual(got[0]["from"], self.bob1.uuid)
            self.assertEqual(got[0]["fromDevice"], 2)
        sync = self.bob1.receive()
        self.assertOnlyMessages(sync, ["hi alice, from bob's laptop"])
        self.assertTrue(sync[0]["sync"])

        # A conversation continues on the established sessions (SignalMessage, not prekey messages).
        self.alice2.send(self.bob_number, "second from alice's laptop")
        self.bob1.send(self.alice_number, "second from bob's phone")
        self.assertOnlyMessages(self.bob1.receive(), ["second from alice's laptop"])
        self.assertOnlyMessages(self.bob2.receive(), ["second from alice's laptop", "second from bob's phone"])
        self.assertOnlyMessages(self.alice1.receive(), ["second from alice's laptop", "second from bob's phone"])
        self.assertOnlyMessages(self.alice2.receive(), ["second from bob's phone"])

    def test_03_offline_delivery_in_order_then_acknowledged_means_deleted(self):
        texts = [f"offline message {i}" for i in range(3)]
        for text in texts:
            self.alice1.send(self.bob_number, text)
        self.assertOnlyMessages(self.bob1.receive(), texts)
        # Acknowledged envelopes are gone: a second receive drains an empty queue.
        self.assertOnlyMessages(self.bob1.receive(), [])
        self.assertOnlyMessages(self.bob2.receive(), texts)
        self.assertOnlyMessages(self.bob2.receive(), [])
        self.assertOnlyMessages(self.alice2.receive(), texts)

    def test_04_online_delivery_to_a_listening_device(self):
        proc = subprocess.Popen(self.bob2.command("receive", "--follow", "--timeout", "8"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        try:
            time.sleep(1.0)  # connected and drained
            self.alice1.send(self.bob_number, "while you are online")
            deadline = time.monotonic() + 15
            while not lines and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            reader.join(timeout=5)
        self.assertEqual([json.loads(l)["text"] for l in lines], ["while you are online"], proc.stderr.read())
        self.bob1.receive()
        self.alice2.receive()

    def test_05_server_database_holds_no_plaintext(self):
        marker = "plaintext-marker-7f3c9e1d the server must never see this"
        self.alice1.send(self.bob_number, marker)
        self.bob2.send(self.alice_number, marker + " (reply)")
        needle = "plaintext-marker-7f3c9e1d".encode()
        checked = 0
        for root, _, files in os.walk(self.server.data_dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                checked += len(data)
                self.assertNotIn(needle, data, f"plaintext found in {name}")
                self.assertNotIn("plaintext-marker".encode("utf-16-le"), data)
        self.assertGreater(checked, 0)
        # The envelopes were queued (so they were in the database we searched) and decrypt at the devices.
        self.assertOnlyMessages(self.bob1.receive(), [marker, marker + " (reply)"])  # the second: bob's sync copy
        self.assertOnlyMessages(self.bob2.receive(), [marker])
        self.assertOnlyMessages(self.alice1.receive(), [marker + " (reply)"])
        self.assertOnlyMessages(self.alice2.receive(), [marker, marker + " (reply)"])

    def test_06_restart_keeps_unacknowledged_envelopes(self):
        self.alice2.send(self.bob_number, "sent before the restart")
        self.server.stop()
        self.server.restart()
        self.assertOnlyMessages(self.bob1.receive(), ["sent before the restart"])
        self.assertOnlyMessages(self.bob2.receive(), ["sent before the restart"])
        self.assertOnlyMessages(self.alice1.receive(), ["sent before the restart"])

    def test_07_safety_numbers_agree(self):
        a = self.alice1.json_lines(self.alice1.run("safety-number", self.bob_number))[0]
        b = self.bob1.json_lines(self.bob1.run("safety-number", self.alice_number))[0]
        c = self.alice2.json_lines(self.alice2.run("safety-number", self.bob1.uuid))[0]
        self.assertRegex(a["safetyNumber"], r"^\d{60}$")
        self.assertEqual(a["safetyNumber"], b["safetyNumber"])
        self.assertEqual(a["safetyNumber"], c["safetyNumber"])
        self.assertFalse(a["changed"])
        human = self.alice1.run("safety-number", self.bob_number).stdout
        self.assertIn(a["safetyNumber"][:5], human)

    def test_07b_no_private_key_password_or_pin_leaves_the_devices(self):
        server_bytes = b""
        for root, _, files in os.walk(self.server.data_dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    server_bytes += f.read()
        server_log = (self.server.log_text()).encode()
        outputs = "\n".join(Client.transcript).encode()
        for device in (self.alice1, self.alice2, self.bob1, self.bob2):
            for what, secret in device.secrets().items():
                self.assertNotIn(secret, outputs, f"{device.name}'s {what} appears in a client's output")
                self.assertNotIn(secret, server_log, f"{device.name}'s {what} appears in the server log")
                # The server keeps a salted hash of the password and only public keys.
                self.assertNotIn(secret, server_bytes, f"{device.name}'s {what} is stored by the server")
        self.assertNotIn(self.pin.encode(), server_bytes + server_log)
        self.assertNotIn(self.pin, "\n".join(Client.transcript))

    def test_07c_interactive_chat(self):
        proc = subprocess.Popen(self.alice1.command("chat", self.bob_number, json_output=False), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        try:
            proc.stdin.write("typed in the chat\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 15
            got = []
            while not got and time.monotonic() < deadline:
                got = self.bob1.receive()
            self.assertOnlyMessages(got, ["typed in the chat"])
            self.bob1.send(self.alice_number, "answer shown live")
            deadline = time.monotonic() + 15
            while not any("answer shown live" in l for l in lines) and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.stdin.write("/quit\n")
            proc.stdin.flush()
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(timeout=5)
        self.assertEqual(proc.returncode, 0, proc.stderr.read())
        self.assertTrue(any(self.bob_number in l and "answer shown live" in l for l in lines), lines)
        for device in (self.bob2, self.alice2):
            device.receive()

    # ---- re-registration ----------------------------------------------------------------------------------

    def test_08_wrong_pin_cannot_take_the_locked_number(self):
        thief = Client(self.server, self.folder, "thief")
        code, out, err = thief.register(self.bob_number, pin="0000", expect=1)
        self.assertIn("wrong PIN", err)
        # bob's devices still work.
        self.bob1.receive()

    def test_09_reregistration_unregisters_old_devices_and_changes_the_safety_number(self):
        before = self.alice1.json_lines(self.alice1.run("safety-number", self.bob_number))[0]["safetyNumber"]
        bob_new = Client(self.server, self.folder, "bob-new-phone")
        # Registration Lock is on: the SMS code alone gets 423; the PIN restores the backup and unlocks it.
        bob_new.register(self.bob_number, pin=self.pin)
        self.assertEqual(bob_new.uuid, self.bob1.uuid)

        for old in (self.bob1, self.bob2):
            proc = old.run("receive", "--timeout", 10, expect=3)
            self.assertIn("NO LONGER REGISTERED", proc.stderr)
            proc = old.run("send", self.alice_number, "from a dead device", expect=3)
            self.assertIn("NO LONGER REGISTERED", proc.stderr)

        # alice's next message reaches bob's new device after the server corrected her device list (409: bob's
        # laptop is gone; 410: his phone has a new registration id); her client warns loudly (exit 4).
        def relay_answers(status):
            return harness.metric_sum(self.server.metrics(), "latchkey_http_requests_total",
                                      route="/v1/messages/{uuid}", status=status)
        before_409, before_410 = relay_answers(409), relay_answers(410)
        proc = self.alice1.send(self.bob_number, "are you still you?", expect=4)
        self.assertGreater(relay_answers(409), before_409)
        self.assertGreater(relay_answers(410), before_410)
        self.assertIn("safety number with " + self.bob_number + " has CHANGED", proc.stderr)
        self.assertOnlyMessages(bob_new.receive(), ["are you still you?"])
        after = self.alice1.run("safety-number", self.bob_number, expect=4)
        info = self.alice1.json_lines(after)[0]
        self.assertTrue(info["changed"])
        self.assertNotEqual(info["safetyNumber"], before)
        self.assertIn("CHANGED", after.stderr)
        theirs = bob_new.json_lines(bob_new.run("safety-number", self.alice_number))[0]["safetyNumber"]
        self.assertEqual(theirs, info["safetyNumber"])
        # alice's laptop sees the change when bob's new device writes first.
        bob_new.send(self.alice_number, "yes, new phone")
        got = self.alice2.receive(expect=4)
        self.assertEqual([m["text"] for m in got if not m["sync"]][-1], "yes, new phone")
        self.assertTrue(got[-1]["identityChanged"])
        # Accepting the new number silences the warning.
        self.alice1.run("trust", self.bob_number)
        self.alice1.run("safety-number", self.bob_number, expect=0)
        self.alice1.receive()

    def test_10_removed_device_is_told_plainly(self):
        self.alice1.run("remove-device", 2)
        proc = self.alice2.run("receive", "--timeout", 10, expect=3)
        self.assertIn("NO LONGER REGISTERED", proc.stderr)
        devices = self.alice1.json_lines(self.alice1.run("devices"))
        self.assertEqual([d["id"] for d in devices], [1])


if __name__ == "__main__":
    unittest.main()
