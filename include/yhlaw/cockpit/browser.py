"""The real browser the monthly 通报 is printed with (and the browser tests drive): Debian's
Chromium and a CJK font. The set-up installs both when it can (root with apt-get) and otherwise
says exactly what is missing; nothing downloads a browser of its own."""

from __future__ import annotations

import os
import shutil
import subprocess

PACKAGES = ("chromium", "fonts-noto-cjk")


def chromium_path() -> str | None:
    """``CHROMIUM`` if set, else the first chromium on PATH (Debian: /usr/bin/chromium)."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def has_cjk_font() -> bool:
    fc = shutil.which("fc-list")
    if fc is None:
        return False
    out = subprocess.run([fc, ":lang=zh", "family"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def missing() -> list[str]:
    return [p for p, ok in (("chromium", chromium_path() is not None), ("fonts-noto-cjk", has_cjk_font())) if not ok]


def browser_status(*, install: bool = False) -> str:
    """One line for the set-up; installs the missing packages first when allowed and able."""
    lacking = missing()
    if lacking and install and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", *lacking]
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=False)
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False)
        lacking = missing()
    if lacking:
        return (f"browser: MISSING {' and '.join(lacking)}; the monthly report's PDF and the browser tests need "
                f"them: apt-get install -y {' '.join(lacking)} (or set CHROMIUM=/path/to/chromium)")
    return f"browser: {chromium_path()} with a CJK font"
