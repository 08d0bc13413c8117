"""Provider compromise and the incident playbook against the real binary (docs/api.md, "Providers and
incidents"; docs/operations.md, "Incident playbook"): mark the phished provider compromised, import its breach
report, a second responder approves, execution unregisters every device and notifies each user once, in their
language, through the other provider; the report says who was notified and who re-registered since."""

import base64
import json
import os
import subprocess
import time
import unittest

import harness
from harness import Server, free_port, unique_number, random_password, Inline, Table
from test_staff import Staff, StaffTestCase, invite_from_cli
from wsclient import WebSocket, WebSocketClosed


def read_jsonl(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


class IncidentPlaybookTest(StaffTestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.origin = f"http://localhost:{port}"
        config = {
            "staff": {"rp_id": "localhost", "origins": [cls.origin]},
            "verification": {"proof_of_work_bits": 0},
            "incidents": {"support_url": "https://help.example.org/sms-breach", "notify_parallelism": 4},
            "sms": {"providers": [{"name": "phished", "kind": "outbox", "path": "outbox.jsonl"},
                                  {"name": "clean", "kind": "outbox", "path": "clean.jsonl"}],
                    "routing": Table(default=["phished", "clean"])},
            "limits": harness.relaxed_number_limits(),
        }
        cls.server = Server(config, port=port)
        cls.server.start()
        cls.addClassCleanup(cls.server.close)
        cls.clean_outbox = os.path.join(cls.server.data_dir, "clean.jsonl")
        cls.admin = Staff(cls.server, cls.origin)
        assert cls.admin.enroll(invite_from_cli(cls.server, "Ada Admin", "admin")).status == 200
        cls.alice = Staff(cls.server, cls.origin)
        assert cls.alice.enroll(invite_from_cli(cls.server, "Alice Responder", "responder")).status == 200
        cls.bob = Staff(cls.server, cls.origin)
        assert cls.bob.enroll(invite_from_cli(cls.server, "Bob Responder", "responder")).status == 200

    def code_from_either_provider(self, number):
        deadline = time.monotonic() + 3
        while True:
            for path in (self.clean_outbox, self.server.outbox_path):
                lines = [l for l in read_jsonl(path) if l["to"] == number and "help.example.org" not in l["body"]]
                if lines:
                    return harness.extract_code(lines[-1]["body"])
            self.assertLess(time.monotonic(), deadline, f"no code for {number}")
            time.sleep(0.05)

    def register(self, number):
        password = random_password()
        body = harness.register(self.server, number, password, code_source=self.code_from_either_provider)
        return body["uuid"], password

    def wait_completed(self, incident_id, staff, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            progress = staff.get(f"/staff/api/incidents/{incident_id}/progress")
            self.assertEqual(progress.status, 200, progress)
            if progress.body["state"] == "completed":
                return progress.body
            self.assertLess(time.monotonic(), deadline, progress.body)
            time.sleep(0.1)

    def test_the_whole_playbook(self):
        started = int(time.time() * 1000) - 1000
        victims = [unique_number("33"), unique_number("33"), unique_number("49")]
        accounts = [self.register(n) for n in victims]
        bystander = unique_number("33")
        self.register(bystander)  # registered, but not in the report: must keep working
        # One victim is online: their socket must be closed with 4401 when the incident runs.
        uuid0, password0 = accounts[0]
        ws = WebSocket.connect(self.server.port, "/v1/websocket",
                               {"Authorization": harness.basic_auth(f"{uuid0}.1", password0)})
        self.assertEqual(ws.recv_json()["type"], "queue_empty")
        # An attacker's session with a code from the phished provider, not yet used.
        pending = harness.pass_gate(self.server, harness.create_session(self.server, unique_number("33")))
        harness.request_code(self.server, pending["id"])

        # Viewers may look, not act.
        viewer = Staff(self.server, self.origin)
        self.assertEqual(viewer.enroll(invite_from_cli(self.server, "Vic Viewer", "viewer")).status, 200)
        self.assertError(viewer.post("/staff/api/providers/phished/compromise", {"breachStartedAt": started}),
                         403, "forbidden")

        # 1. Mark the provider compromised.
        self.assertError(self.alice.post("/staff/api/providers/nope/compromise", {"breachStartedAt": started}),
                         404, "not_found")
        self.assertError(self.alice.post("/staff/api/providers/phished/compromise",
                                         {"breachStartedAt": int(time.time() * 1000) + 10**8}), 400, "malformed_request")
        marked = self.alice.post("/staff/api/providers/phished/compromise",
                                 {"breachStartedAt": started, "note": "phished console, ticket 7"})
        self.assertEqual(marked.status, 200, marked)
        self.assertGreaterEqual(marked.body["invalidatedSessions"], 1)
        self.assertEqual(marked.body["suspects"], 4)
        providers = {p["name"]: p for p in viewer.get("/staff/api/providers").body["providers"]}
        self.assertTrue(providers["phished"]["compromised"])
        self.assertFalse(providers["phished"]["enabled"])
        self.assertTrue(providers["clean"]["enabled"])
        suspects = viewer.get("/staff/api/providers/phished/suspects").body["suspects"]
        self.assertEqual(len(suspects), 4)
        self.assertTrue(all("\u2022" in s["number"] for s in suspects))
        # The attacker's pending code is dead now.
        resp = harness.submit_code(self.server, pending["id"], "000000")
        self.assertIn(resp.status, (404, 409), resp)
        # New codes go through the clean provider.
        fresh = unique_number("33")
        self.register(fresh)
        self.assertEqual(read_jsonl(self.clean_outbox)[-1]["to"], fresh)

        # 2. Create the incident from the breach report.
        report = "phone,when\n" + "\n".join(f"{n},2026-11-20" for n in victims) + "\n+33000,bad\n" + \
                 f"{unique_number('33')},never registered\n"
        self.assertError(self.alice.post("/staff/api/incidents", {"description": "x", "windowStart": started,
                                                                   "windowEnd": started - 1,
                                                                   "report": {"format": "csv", "content": report}}),
                         400, "malformed_request")
        self.assertError(self.alice.post("/staff/api/incidents", {"description": "x", "windowStart": started,
                                                                   "windowEnd": started + 10**7,
                                                                   "report": {"format": "xml", "content": report}}),
                         400, "malformed_request")
        created = self.alice.post("/staff/api/incidents", {
            "description": "Provider phished on 2026-11-20", "windowStart": started,
            "windowEnd": int(time.time() * 1000) + 60000, "report": {"format": "csv", "content": report}})
        self.assertEqual(created.status, 201, created)
        incident = created.body["incident"]
        self.assertEqual(incident["state"], "draft")
        impact = created.body["impact"]
        self.assertEqual(impact["numbers"], 4)
        self.assertEqual(impact["withAccount"], 3)
        self.assertEqual(impact["registeredInWindow"], 3)
        self.assertEqual(len(created.body["problems"]), 1)
        shown = viewer.get(f"/staff/api/incidents/{incident['id']}")
        self.assertEqual(shown.status, 200)
        self.assertTrue(all("\u2022" in t["number"] for t in shown.body["targets"]))

        # 3. Two-person rule.
        self.assertError(self.alice.post(f"/staff/api/incidents/{incident['id']}/execute"), 409, "conflict")
        self.assertError(self.alice.post(f"/staff/api/incidents/{incident['id']}/approve"), 403, "forbidden")
        approved = self.bob.post(f"/staff/api/incidents/{incident['id']}/approve")
        self.assertEqual(approved.status, 200, approved)
        self.assertError(self.bob.post(f"/staff/api/incidents/{incident['id']}/approve"), 409, "conflict")

        # 4. Execute and watch.
        executed = self.bob.post(f"/staff/api/incidents/{incident['id']}/execute")
        self.assertEqual(executed.status, 202, executed)
        done = self.wait_completed(incident["id"], viewer)
        self.assertEqual(done["counts"]["unregistered"], 3)
        self.assertEqual(done["counts"]["notified"], 3)
        self.assertEqual(done["counts"]["failed"], 0)

        # Every device is gone; the online one was told so.
        for uuid, password in accounts:
            self.assertEqual(harness.whoami(self.server, f"{uuid}.1", password).status, 401)
        with self.assertRaises(WebSocketClosed) as closed:
            ws.sock.settimeout(5)
            while True:
                ws.recv_frame()
        self.assertEqual(closed.exception.code, 4401)
        ws.sock.close()

        # One notification each, through the clean provider, in the number's language, with the support page.
        notes = [l for l in read_jsonl(self.clean_outbox) if l["to"] in victims]
        self.assertEqual(sorted(l["to"] for l in notes), sorted(victims))
        by_number = {l["to"]: l["body"] for l in notes}
        self.assertIn("https://help.example.org/sms-breach", by_number[victims[0]])
        self.assertIn("sécurité", by_number[victims[0]])
        self.assertIn("Sicherheitshinweis", by_number[victims[2]])
        self.assertFalse([l for l in self.server.outbox_lines() if "help.example.org" in l["body"]])

        # 5. Re-running notifies nobody twice.
        rerun = self.bob.post(f"/staff/api/incidents/{incident['id']}/execute")
        self.assertEqual(rerun.status, 202, rerun)
        self.wait_completed(incident["id"], viewer)
        notes_after = [l for l in read_jsonl(self.clean_outbox) if l["to"] in victims]
        self.assertEqual(len(notes_after), 3)

        # 6. The owner re-registers through the clean provider; the report shows it.
        self.register(victims[1])
        report_json = self.bob.get(f"/staff/api/incidents/{incident['id']}/report?format=json")
        self.assertEqual(report_json.status, 200, report_json)
        rows = {r["number"]: r for r in report_json.body["targets"]}
        self.assertEqual(len(rows), 4)
        self.assertGreater(rows[victims[1]]["reregisteredAt"], 0)
        self.assertEqual(rows[victims[0]]["reregisteredAt"], 0)
        self.assertEqual(rows[victims[0]]["notifyProvider"], "clean")
        csv = self.bob.get(f"/staff/api/incidents/{incident['id']}/report?format=csv")
        self.assertEqual(csv.status, 200)
        self.assertIn("text/csv", csv.headers.get("Content-Type"))
        self.assertEqual(len(csv.body.strip().splitlines()), 5)
        self.assertError(self.bob.get(f"/staff/api/incidents/{incident['id']}/report?format=pdf"), 400,
                         "malformed_request")

        # The CLI reads the same, and the audit log holds the whole story and verifies.
        out = subprocess.run([self.server.binary, "incident", "report", incident["id"], "--format", "csv",
                              "--config", self.server.config_path, "--data-dir", self.server.data_dir],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.strip().splitlines()), 5)
        watch = subprocess.run([self.server.binary, "incident", "watch", incident["id"],
                                "--config", self.server.config_path, "--data-dir", self.server.data_dir],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(watch.returncode, 0, watch.stdout + watch.stderr)
        self.assertIn("completed", watch.stdout)
        actions = [e["action"] for e in self.admin.get("/staff/api/audit?limit=200").body["entries"]]
        for action in ("provider.compromise", "incident.create", "incident.approve", "incident.execute",
                       "incident.completed", "incident.report_export"):
            self.assertIn(action, actions)
        verify = subprocess.run([self.server.binary, "audit", "verify", "--config", self.server.config_path,
                                 "--data-dir", self.server.data_dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)

        # Restoring the provider is its own audited action.
        self.assertEqual(self.alice.post("/staff/api/providers/phished/restore").status, 200)
        self.assertError(self.alice.post("/staff/api/providers/phished/restore"), 404, "not_found")


if __name__ == "__main__":
    unittest.main()
