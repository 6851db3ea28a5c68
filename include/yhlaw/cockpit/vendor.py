"""The cockpit's browser assets (Apache ECharts), installed by the set-up from the npm registry
with the lock in ``include/cockpit`` (``npm ci``: exact versions, integrity checked) into
``.local/cockpit`` and served by the cockpit itself: a page never reaches a CDN."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from yhlaw import paths

SOURCE_DIR = paths.INCLUDE_DIR / "cockpit"
LOCK_FILES = ("package.json", "package-lock.json")


def install_dir() -> Path:
    return paths.LOCAL_DIR / "cockpit"


def echarts_path(base: Path | None = None) -> Path:
    return (base or install_dir()) / "node_modules" / "echarts" / "dist" / "echarts.min.js"


def _lock_digest() -> str:
    return hashlib.sha256(b"".join((SOURCE_DIR / f).read_bytes() for f in LOCK_FILES)).hexdigest()[:16]


def _install_npm() -> str | None:
    """Debian's nodejs and npm, when this runs as root with apt-get (as the set-up installs
    Chromium); otherwise None."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "nodejs", "npm"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return shutil.which("npm")


def install_assets(target: Path | None = None) -> str:
    """``npm ci`` the locked assets unless this lock is installed already; returns what it did.
    Raises RuntimeError saying what is missing when npm is not on the machine."""
    target = target or install_dir()
    stamp = target / f".installed-{_lock_digest()}"
    if stamp.exists() and echarts_path(target).exists():
        return f"cockpit assets: up to date in {target}"
    npm = shutil.which("npm") or _install_npm()
    if npm is None:
        raise RuntimeError("the cockpit's charts need Node.js and npm to install Apache ECharts once "
                           "(Debian: apt-get install -y nodejs npm); nothing else needs them")
    target.mkdir(parents=True, exist_ok=True)
    for name in LOCK_FILES:
        shutil.copyfile(SOURCE_DIR / name, target / name)
    done = subprocess.run([npm, "ci", "--prefix", str(target), "--ignore-scripts", "--no-audit", "--no-fund"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci of the cockpit's assets failed (is the npm registry reachable?): "
                           f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    for old in target.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return f"cockpit assets: Apache ECharts installed in {target}"
