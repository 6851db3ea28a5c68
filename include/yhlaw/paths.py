"""Where the platform finds what it reads at run time, all under one project root.

``YHLAW_HOME`` names the root (the image sets it to /opt/yhlaw); by default it is the
repository the package was installed from. Under it, the design card's layout:
``dags/``, ``plugins/``, ``sql/``, ``expectations/`` and ``include/`` (source specs, the
indicator catalog, reference data, the reason-code registry, JSON Schemas).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("YHLAW_HOME", Path(__file__).resolve().parents[2]))
LOCAL_DIR = Path(os.environ.get("YHLAW_LOCAL_DIR", PROJECT_ROOT / ".local"))

DAGS_DIR = PROJECT_ROOT / "dags"
PLUGINS_DIR = PROJECT_ROOT / "plugins"
SQL_DIR = PROJECT_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
INCLUDE_DIR = PROJECT_ROOT / "include"
SPEC_DIR = INCLUDE_DIR / "specs"
CATALOG_DIR = INCLUDE_DIR / "indicators"
REFERENCE_DIR = INCLUDE_DIR / "reference"
SCHEMA_DIR = INCLUDE_DIR / "schemas"
DOCS_DIR = PROJECT_ROOT / "docs"
