"""Security checks that need no running stack: no secret is tracked by git, and party keys
cannot be recomputed from a dictionary of ID numbers without the HMAC key."""

from __future__ import annotations

import hashlib
import hmac
import re
import subprocess

from yhlaw.pii import PartyKeyer, normalise_identifier
from yhlaw.settings import PROJECT_ROOT
from yhlaw.settings import SECRET_NAMES as PLATFORM_SECRETS
from yhlaw_dev.world import SIM_SECRET_NAMES

SECRET_NAMES = (*PLATFORM_SECRETS, *SIM_SECRET_NAMES)

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "secret assignment": re.compile(r"(?i)\b(?:" + "|".join(SECRET_NAMES) + r")\s*=\s*(?!change-me-)[A-Za-z0-9_\-]{20,}"),
}


def tracked_files() -> list:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True)
    return [PROJECT_ROOT / p for p in out.stdout.decode().split("\0") if p]


def test_no_secret_is_tracked_by_git(settings):
    files = tracked_files()
    assert files, "git ls-files found nothing: not a checkout?"
    names = {str(f.relative_to(PROJECT_ROOT)) for f in files}
    assert not any(n == ".env" or n.startswith((".local/", ".venv/")) for n in names)
    live = {v for v in settings.secrets.values() if v}     # this machine's generated secrets
    assert live
    findings = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        findings += [f"{f.name}: a live secret value" for v in live if v in text]
        findings += [f"{f.name}: {what}" for what, rx in SECRET_PATTERNS.items() if rx.search(text)]
    assert not findings, findings


def test_party_keys_cannot_be_reversed_without_the_key():
    """An attacker with the warehouse and a dictionary of every plausible ID number, but not the
    key, matches nothing: not by plain hashes, not by HMAC under guessed keys."""
    key = "the-real-key-from-the-pii_hmac-connection"
    ids = [f"33011019900101{n:03d}{c}" for n in range(300) for c in "0123456789X"]
    stolen = {PartyKeyer(key)(i) for i in ids[::7]}                      # keys as stored in core
    candidates = [normalise_identifier(i) for i in ids]
    guesses = {"", "yhlaw", "change-me-pii-hmac-key", "secret", "password"}
    attempts = set()
    for c in candidates:
        b = c.encode()
        attempts |= {hashlib.sha256(b).hexdigest(), hashlib.md5(b).hexdigest() * 2}
        attempts |= {hmac.new(g.encode(), b, hashlib.sha256).hexdigest() for g in guesses}
    assert not stolen & attempts
    # With the key the same dictionary finds every one (so the test would see a weak keying).
    assert stolen <= {PartyKeyer(key)(c) for c in candidates}
    # The same person written two ways (full-width digits, separators) gets one key.
    assert PartyKeyer(key)("３３０１１０ 19900101-0011") == PartyKeyer(key)("330110199001010011")


def test_key_fingerprint_identifies_a_key_without_revealing_it():
    from yhlaw.key_check import fingerprint

    a, b = fingerprint("key-one"), fingerprint("key-two")
    assert a == fingerprint(b"key-one") and a != b
    assert len(a) == 16 and int(a, 16) >= 0
    assert "key-one" not in a
