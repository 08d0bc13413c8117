"""The tamper-evident audit log (docs/operations.md, "Audit log") against the real binary.

Entries are written here with Python's sqlite3 and hashlib from the documented canonical form (there is no HTTP
way to append arbitrary entries), which also proves the format is documented precisely: `latchkeyd audit verify`
must accept them. Then rows and checkpoints are tampered with and verify must exit 1 naming the first bad
sequence number. Checkpoints are written by `latchkeyd audit checkpoint`; when the `cryptography` package is
importable, a checkpoint signed in Python from the documented message is checked too."""

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import tempfile
import unittest

import harness
from harness import LatchkeyTestCase, Server

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    HAVE_ED25519 = True
except ImportError:  # the CLI writes the checkpoints instead
    HAVE_ED25519 = False

CLI_TIMEOUT = 30
GENESIS = bytes(32)


def canonical(seq, at, actor, action, target, details):
    obj = {"seq": seq, "at": at, "actor": actor, "action": action, "target": target, "details": details}
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_details(details):
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev, seq, at, actor, action, target, details):
    leaf = hashlib.sha256(b"latchkey-audit-leaf-v1" + canonical(seq, at, actor, action, target, details)).digest()
    return hashlib.sha256(b"latchkey-audit-chain-v1" + prev + leaf).digest()


def checkpoint_message(seq, head, at):
    return b"latchkey-audit-checkpoint-v1" + struct.pack(">q", seq) + head + struct.pack(">q", at)


def append_entries(db_path, entries):
    """Appends (at, actor, action, target, details) tuples, chained to the current head."""
    db = sqlite3.connect(db_path, timeout=10)
    try:
        with db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0], bytes(row[1])) if row else (0, GENESIS)
            for at, actor, action, target, details in entries:
                seq += 1
                h = chain_hash(prev, seq, at, actor, action, target, details)
                db.execute("INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (seq, at, actor, action, target, canonical_details(details), prev, h))
                prev = h
    finally:
        db.close()


def execute(db_path, *statements):
    db = sqlite3.connect(db_path, timeout=10)
    try:
        with db:
            for sql, params in statements:
                db.execute(sql, params)
    finally:
        db.close()


ENTRIES = [
    (1700000001000, "cli", "staff.invite", "Alice", {"role": "admin", "expiresAt": 1700086401000}),
    (1700000002000, "staff:a1", "staff.enroll", "a1", {"name": "Alice", "role": "admin"}),
    (1700000003000, "staff:a1", "staff.sign_in", "a1", {}),
    (1700000004000, "staff:a1", "account.lookup", "0b6f-uuid", {"query": "+33******78", "case": "ZD-1"}),
    (1700000005000, "staff:a1", "account.unmask", "0b6f-uuid",
     {"reason": "Owner asked \"why\" on the phone\n— case ZD-1", "nested": {"b": [1, 2, None], "a": True}}),
    (1700000006000, "anonymous", "staff.sign_in_failed", "", {"reason": "unknown credential"}),
]


class AuditLogTest(LatchkeyTestCase):

    @classmethod
    def setUpClass(cls):
        # A real server creates the schema and the signing key, then stops; the log is filled from Python.
        cls.server = Server()
        cls.addClassCleanup(cls.server.close)
        cls.server.start()
        assert cls.server.stop() == 0
        cls.pristine = cls.server.data_dir
        cls.db_name = "latchkey.db"
        append_entries(os.path.join(cls.pristine, cls.db_name), ENTRIES)
        cls.tmp = tempfile.mkdtemp(prefix="latchkey-audit-")
        cls.addClassCleanup(lambda: shutil.rmtree(cls.tmp, ignore_errors=True))

    def cli(self, data_dir, *args):
        proc = subprocess.run([self.server.binary, "audit", *args, "--config", self.server.config_path,
                               "--data-dir", data_dir], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=CLI_TIMEOUT)
        return proc.returncode, proc.stdout, proc.stderr

    def copy(self, name):
        """A copy of the pristine data dir with a checkpoint covering every entry."""
        target = os.path.join(self.tmp, name)
        shutil.copytree(self.pristine, target)
        code, out, err = self.cli(target, "checkpoint")
        self.assertEqual(code, 0, out + err)
        return target

    def assertIntact(self, data_dir, entries=None):
        code, out, err = self.cli(data_dir, "verify")
        self.assertEqual(code, 0, out + err)
        self.assertIn("audit log intact", out)
        if entries is not None:
            self.assertIn(f"{entries} entries", out)
        return out

    def assertFirstBad(self, data_dir, seq, reason_part):
        code, out, err = self.cli(data_dir, "verify")
        self.assertEqual(code, 1, out + err)
        self.assertIn(f"first bad sequence: {seq}: ", out)
        self.assertIn(reason_part, out)

    def db(self, data_dir):
        return os.path.join(data_dir, self.db_name)

    def checkpoint_lines(self, data_dir):
        with open(os.path.join(data_dir, "audit-checkpoints.jsonl"), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    # ---- intact logs ------------------------------------------------------------------------------------

    def test_entries_written_from_the_documented_format_verify(self):
        d = os.path.join(self.tmp, "plain")
        shutil.copytree(self.pristine, d)
        out = self.assertIntact(d, entries=len(ENTRIES))
        self.assertIn("no checkpoints", out)

    def test_checkpoint_command_signs_the_head(self):
        d = self.copy("checkpointed")
        lines = self.checkpoint_lines(d)
        self.assertEqual(len(lines), 1)
        line = lines[0]
        self.assertEqual(list(line.keys()), ["seq", "head", "at", "signature", "key_id"])
        self.assertEqual(line["seq"], len(ENTRIES))
        head = bytes(execute_fetch(self.db(d), "SELECT hash FROM audit_log WHERE seq = ?", (len(ENTRIES),)))
        self.assertEqual(line["head"], head.hex())
        self.assertIn("1 checkpoints", self.assertIntact(d, entries=len(ENTRIES)))
        # Nothing new: no second line.
        code, out, _ = self.cli(d, "checkpoint")
        self.assertEqual(code, 0)
        self.assertIn("nothing new", out)
        self.assertEqual(len(self.checkpoint_lines(d)), 1)
        if HAVE_ED25519:
            public = Ed25519PublicKey.from_public_bytes(self.public_key(d))
            public.verify(bytes.fromhex(line["signature"]), checkpoint_message(line["seq"], head, line["at"]))
            self.assertEqual(line["key_id"], hashlib.sha256(self.public_key(d)).digest()[:8].hex())

    def public_key(self, data_dir):
        with open(os.path.join(data_dir, "audit-signing.key"), encoding="ascii") as f:
            seed = bytes.fromhex(f.read().strip())
        key = Ed25519PrivateKey.from_private_bytes(seed)
        from cryptography.hazmat.primitives import serialization
        return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @unittest.skipUnless(HAVE_ED25519, "the cryptography package is not importable")
    def test_checkpoint_signed_in_python_verifies(self):
        d = os.path.join(self.tmp, "python-signed")
        shutil.copytree(self.pristine, d)
        with open(os.path.join(d, "audit-signing.key"), encoding="ascii") as f:
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(f.read().strip()))
        head = bytes(execute_fetch(self.db(d), "SELECT hash FROM audit_log WHERE seq = 4", ()))
        at = 1700000010000
        line = {"seq": 4, "head": head.hex(), "at": at,
                "signature": key.sign(checkpoint_message(4, head, at)).hex(),
                "key_id": hashlib.sha256(self.public_key(d)).digest()[:8].hex()}
        with open(os.path.join(d, "audit-checkpoints.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.assertIn("1 checkpoints", self.assertIntact(d, entries=len(ENTRIES)))

    def test_verify_against_an_off_host_copy_and_public_key(self):
        d = self.copy("offhost")
        copy = os.path.join(self.tmp, "offhost-checkpoints.jsonl")
        shutil.copy(os.path.join(d, "audit-checkpoints.jsonl"), copy)
        code, out, _ = self.cli(d, "checkpoint")
        public_hex = out.split("public key: ")[1].split()[0]
        # The on-host file is emptied by an intruder; the off-host copy still catches a truncated tail.
        open(os.path.join(d, "audit-checkpoints.jsonl"), "w").close()
        execute(self.db(d), ("DELETE FROM audit_log WHERE seq >= 5", ()))
        self.assertEqual(self.cli(d, "verify")[0], 0)
        code, out, err = self.cli(d, "verify", "--checkpoints", copy, "--public-key", public_hex)
        self.assertEqual(code, 1, out + err)
        self.assertIn("first bad sequence: 5: ", out)

    # ---- tampering ---------------------------------------------------------------------------------------

    def test_edited_actor(self):
        d = self.copy("edit-actor")
        execute(self.db(d), ("UPDATE audit_log SET actor = 'staff:b2' WHERE seq = 3", ()))
        self.assertFirstBad(d, 3, "edited")

    def test_edited_details(self):
        d = self.copy("edit-details")
        execute(self.db(d), ("UPDATE audit_log SET details = ? WHERE seq = 5", (canonical_details({"reason": "x"}),)))
        self.assertFirstBad(d, 5, "edited")

    def test_edited_time(self):
        d = self.copy("edit-at")
        execute(self.db(d), ("UPDATE audit_log SET at = at - 60000 WHERE seq = 4", ()))
        self.assertFirstBad(d, 4, "edited")

    def test_deleted_row(self):
        d = self.copy("delete-row")
        execute(self.db(d), ("DELETE FROM audit_log WHERE seq = 2", ()))
        self.assertFirstBad(d, 2, "missing")

    def test_deleted_tail_below_the_checkpoint(self):
        d = self.copy("delete-tail")
        execute(self.db(d), ("DELETE FROM audit_log WHERE seq >= 5", ()))
        self.assertFirstBad(d, 5, "deleted")

    def test_swapped_rows(self):
        d = self.copy("swap")
        db = sqlite3.connect(self.db(d))
        rows = {r[0]: r[1:] for r in db.execute(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_log WHERE seq IN (2, 4)")}
        with db:
            for seq, other in ((2, 4), (4, 2)):
                db.execute("UPDATE audit_log SET at = ?, actor = ?, action = ?, target = ?, details = ?, prev_hash = ?, "
                           "hash = ? WHERE seq = ?", (*rows[other], seq))
        db.close()
        self.assertFirstBad(d, 2, "prev_hash")

    def test_swapped_sequence_numbers(self):
        d = self.copy("swap-seq")
        execute(self.db(d), ("UPDATE audit_log SET seq = 100 WHERE seq = 3", ()),
                ("UPDATE audit_log SET seq = 3 WHERE seq = 5", ()), ("UPDATE audit_log SET seq = 5 WHERE seq = 100", ()))
        self.assertFirstBad(d, 3, "prev_hash")

    def test_rewritten_chain_is_caught_by_the_checkpoint(self):
        d = self.copy("rewrite")
        db = sqlite3.connect(self.db(d))
        rows = list(db.execute("SELECT seq, at, actor, action, target, details FROM audit_log ORDER BY seq"))
        prev = GENESIS
        with db:
            for seq, at, actor, action, target, details in rows:
                if seq == 4:
                    details = canonical_details({"query": "+33******78", "case": "ZD-2"})
                    db.execute("UPDATE audit_log SET details = ? WHERE seq = 4", (details,))
                h = chain_hash(prev, seq, at, actor, action, target, json.loads(details))
                db.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
                prev = h
        db.close()
        self.assertFirstBad(d, len(ENTRIES), "does not match the checkpoint")
        # And the server's key refuses to sign the rewritten log.
        append_entries(self.db(d), [(1700000007000, "cli", "staff.invite", "Bob", {"role": "viewer"})])
        code, out, err = self.cli(d, "checkpoint")
        self.assertEqual(code, 1, out + err)
        self.assertIn("refusing to sign", err)

    def test_forged_checkpoint(self):
        d = self.copy("forged")
        line = self.checkpoint_lines(d)[0]
        head = bytes(execute_fetch(self.db(d), "SELECT hash FROM audit_log WHERE seq = 3", ()))
        forged = dict(line, seq=3, head=head.hex())  # the old signature does not cover this
        with open(os.path.join(d, "audit-checkpoints.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(forged, separators=(",", ":")) + "\n")
        self.assertFirstBad(d, 3, "forged")

    # ---- the key file ------------------------------------------------------------------------------------

    def test_signing_key_file_is_private(self):
        d = os.path.join(self.tmp, "key-mode")
        shutil.copytree(self.pristine, d)
        key_file = os.path.join(d, "audit-signing.key")
        self.assertEqual(stat.S_IMODE(os.stat(key_file).st_mode), 0o600)
        os.chmod(key_file, 0o644)
        code, out, err = self.cli(d, "checkpoint")
        self.assertEqual(code, 1, out + err)
        self.assertIn("chmod 600", err)
        with open(key_file, encoding="ascii") as f:
            self.assertNotIn(f.read().strip(), out + err)


class AuditServerTest(LatchkeyTestCase):

    def test_server_checkpoints_on_shutdown(self):
        server = Server()
        self.addCleanup(server.close)
        server.start()
        append_entries(os.path.join(server.data_dir, "latchkey.db"), ENTRIES[:3])
        self.assertEqual(server.stop(), 0)
        with open(os.path.join(server.data_dir, "audit-checkpoints.jsonl"), encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(lines[-1]["seq"], 3)
        proc = subprocess.run([server.binary, "audit", "verify", "--config", server.config_path, "--data-dir",
                               server.data_dir], capture_output=True, text=True, timeout=CLI_TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("3 entries, 1 checkpoints", proc.stdout)
        with open(os.path.join(server.data_dir, "audit-signing.key"), encoding="ascii") as f:
            self.assertNotIn(f.read().strip(), server.log_text())  # the key is never logged


def execute_fetch(db_path, sql, params):
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()


if __name__ == "__main__":
    unittest.main()
