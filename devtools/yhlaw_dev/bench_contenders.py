"""§1a of ``make bench``: the project's ingest against what users would pick instead (#20).

Contenders, on identical input (the bench's JSON-lines files of real simulator output; each run
gets its own copy, the same records with keys made unique to that run), runs alternating:

1. ``project``: ``bench.ingest_file`` in a fresh process, as an ingest task runs it.
2. ``dlt_merge`` / 3. ``dlt_scd2``: dlt's merge (delete-insert) and scd2 dispositions, fresh
   process of the peers' venv (``bench_peers``).
4. ``tutorial``: pandas -> GX on the DataFrame -> ``to_sql`` -> ``INSERT … ON CONFLICT``, fresh
   process of the project's venv.
5. ``copy_typed`` / 6. ``copy_source``: COPY of the rows the project's run typed, and of the
   source records themselves (the COPY alone, in this process).

Every contender's seconds are its process's wall time, start-up and imports included. After
each run the rows it loaded are counted against what it should load, and the target's dated
and decimal columns are checked to be typed (and filled, on a sample), not text.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg2 import sql

from yhlaw.spec import Entity, load_spec
from yhlaw.warehouse import transaction

from yhlaw_dev import bench, bench_peers

CONTENDERS = ("project", "dlt_merge", "dlt_scd2", "tutorial")
DAILY = 700                     # one day of enforcement cases
DEFAULT_ENTITIES = ("enforcement.case", "courts.case")
SECTION = "## 1a. "
# The column types a spec type must arrive as (format_type prefixes), wherever it is loaded.
TYPED = {"date": ("date",), "timestamp": ("timestamp with time zone", "timestamp"),
         "stage_time": ("timestamp with time zone", "timestamp"), "decimal": ("numeric",)}


@dataclass
class Contest:
    settings: Any
    samples: dict[str, list[str]]
    workdir: Path
    peers_py: Path
    log: Any = print
    serial: int = 0
    era: int = 0
    day: int = 0
    warm: WarmWorker | None = None

    @property
    def contenders(self) -> tuple[str, ...]:
        return CONTENDERS + (("project_warm",) if self.warm else ())

    @property
    def admin_url(self) -> str:
        return self.settings.admin_url

    def tag(self, what: str) -> str:
        self.serial += 1
        return f"{what[:3]}{self.serial}"


# --------------------------------------------------------------------------------------------
# One run of each contender: {"wall": s, "loaded": rows, "expected": rows, "types": {...}, ...}


ERA_END = datetime.fromisoformat("2029-06-01T00:00:00+08:00")


def new_era(c: Contest) -> None:
    """Days of their own for the project's next runs, 120 days before the previous era's (and
    before the 2030 days of §1's runs): the batch volume check compares a batch with the loaded
    batches *before* it, so a daily batch after 1M-record ones (or 10k after 700) would be
    rejected as a volume anomaly. Within an era every batch has the same size."""
    c.era, c.day = c.era + 1, 0


def _interval(c: Contest) -> str:
    c.day += 1
    return (ERA_END - timedelta(days=120 * c.era) + timedelta(days=c.day)).isoformat()


def _ingest_args(c: Contest, e: Entity, path: Path) -> list[str]:
    return [e.source, e.name, str(path), c.settings.warehouse_url, c.settings.secrets["PII_HMAC_KEY"], _interval(c)]


def run_project(c: Contest, e: Entity, path: Path, tag: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    full = bench._child("_ingest", *_ingest_args(c, e, path))
    wall = time.perf_counter() - t0
    copied, t_copy = bench.copy_baseline(c.admin_url, e, full["batch_id"])
    source_rows, t_copy_source = bench.copy_source_baseline(c.admin_url, path)
    return {**_project_checks(c, e, full, wall),
            "copies": {"copy_typed": (copied, t_copy), "copy_source": (source_rows, t_copy_source)}}


def run_project_warm(c: Contest, e: Entity, path: Path, tag: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    full = c.warm.ingest(_ingest_args(c, e, path))
    return _project_checks(c, e, full, time.perf_counter() - t0)


def _project_checks(c: Contest, e: Entity, full: dict, wall: float) -> dict[str, Any]:
    with transaction(c.admin_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE batch_id = %s").format(
            sql.Identifier("core", f"{e.table}_version")), (full["batch_id"],))
        in_core = cur.fetchone()[0]
        types = _types(cur, "core", e.table, _typed_fields(e), sql.SQL("batch_id = {}").format(sql.Literal(full["batch_id"])))
    return {"wall": wall, "loaded": in_core, "expected": full["loaded"], "records": full["received"],
            "quarantined": full["quarantined"], "types": types, "detail": full}


class WarmWorker:
    """A long-lived process that has imported great_expectations and yhlaw, forking one child per
    ingest: what a Celery worker that preloads them would give (Airflow 3's task supervisor forks
    the task process from the worker on Linux, so it inherits the worker's modules). Only the
    imports are shared; each child builds its own GX context, as a task would."""

    def __init__(self, workdir: Path):
        self.log = (workdir / "warm-worker.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "yhlaw_dev.bench_contenders", "_warm"], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env={**os.environ, "GX_ANALYTICS_ENABLED": "False"})
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"warm worker did not start: see {self.log.name}")
        self.out = workdir / "warm-result.json"

    def ingest(self, args: list[str]) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps({"args": args, "out": str(self.out)}) + "\n")
        self.proc.stdin.flush()
        code = json.loads(self.proc.stdout.readline())["code"]
        if code != 0:
            raise RuntimeError(f"warm worker's ingest failed ({code}): see {self.log.name}")
        return json.loads(self.out.read_text())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


def warm_main() -> int:
    import great_expectations  # noqa: F401  (what the worker preloads)

    import yhlaw.pipeline  # noqa: F401
    import yhlaw.validate  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                Path(job["out"]).write_text(json.dumps(bench.ingest_file(*job["args"])))
                code = 0
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
    return 0


def _dlt_job(c: Contest, e: Entity, path: Path, strategy: str, pipelines_dir: str) -> dict[str, Any]:
    spec = load_spec(e.source)
    hinted = {f.source: {"data_type": {"date": "date", "timestamp": "timestamp", "decimal": "decimal"}[f.type],
                         "nullable": True}
              for f in e.fields if f.type in ("date", "timestamp", "decimal") and "." not in f.source}
    return {"path": str(path), "key": e.key, "updated_at": e.updated_at, "table": e.table, "dataset": f"dlt_{strategy.replace('-', '_')}_{e.table}",
            "strategy": strategy, "hints": hinted, "pii": list(spec.pii),
            "keyed": [f.source for f in e.fields if f.type == "party_key"],
            "hmac_key": c.settings.secrets["PII_HMAC_KEY"], "url": _with_password(c.admin_url),
            "pipelines_dir": pipelines_dir}


def _with_password(url: str) -> str:
    """dlt insists on a password; the bench's PostgreSQL trusts local connections and ignores it."""
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(url)
    if u.password or not u.username:
        return url
    return urlunsplit(u._replace(netloc=f"{u.username}:unused@{u.hostname}" + (f":{u.port}" if u.port else "")))


def run_dlt(c: Contest, e: Entity, path: Path, tag: str, strategy: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=c.workdir) as pipelines:       # a fresh worker: no local state
        job = _dlt_job(c, e, path, strategy, pipelines)
        out = bench_peers.run_child(c.peers_py, "dlt", job, c.workdir)
    key, table, schema = out["key"], out["table"], job["dataset"]
    mine = sql.SQL("{} LIKE {}").format(sql.Identifier(key), sql.Literal(f"%~{tag}.%"))
    current = sql.SQL(" AND _dlt_valid_to IS NULL") if strategy == "scd2" else sql.SQL("")
    with transaction(c.admin_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}{}").format(sql.Identifier(schema, table), mine, current))
        loaded = cur.fetchone()[0]
        columns = {out["columns"][src]: t for src, t in
                   ((f.source, f.type) for f in e.fields if f.source in out["columns"])}
        types = _types(cur, schema, table, columns, mine)
        if f"{table}__stages" in out["tables"]:       # stage times: dlt's child table of the nested list
            types.update({f"stages.{k}": v for k, v in _types(cur, schema, f"{table}__stages", {"time": "stage_time"},
                                                            sql.SQL("true")).items()})
        variants = _variant_columns(cur, schema, table)
    return {"wall": out["wall"], "loaded": loaded, "expected": _distinct_keys(path, e.key), "types": types,
            "variants": variants, "detail": out["timings"]}


def run_tutorial(c: Contest, e: Entity, path: Path, tag: str) -> dict[str, Any]:
    job = {"source": e.source, "entity": e.name, "path": str(path), "url": c.admin_url,
           "hmac_key": c.settings.secrets["PII_HMAC_KEY"], "staging": f"tutorial_staging_{e.table}",
           "target": f"tutorial_{e.table}"}
    out = bench_peers.run_child(sys.executable, "tutorial", job, c.workdir)
    mine = sql.SQL("{} LIKE {}").format(sql.Identifier(e.natural_key), sql.Literal(f"%~{tag}.%"))
    with transaction(c.admin_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier("bench", job["target"]), mine))
        loaded = cur.fetchone()[0]
        types = _types(cur, "bench", job["target"], _typed_fields(e), mine)
    return {"wall": out["wall"], "loaded": loaded, "expected": out["valid_keys"], "records": out["records"],
            "rejected": out["rejected"], "types": types, "detail": out}


RUNNERS = {"project": run_project, "project_warm": run_project_warm, "tutorial": run_tutorial,
           "dlt_merge": lambda c, e, p, t: run_dlt(c, e, p, t, "delete-insert"),
           "dlt_scd2": lambda c, e, p, t: run_dlt(c, e, p, t, "scd2")}


# --------------------------------------------------------------------------------------------
# Checks


def _typed_fields(e: Entity) -> dict[str, str]:
    return {f.name: f.type for f in e.fields if f.type in TYPED}


def _types(cur, schema: str, table: str, columns: dict[str, str], where: sql.Composable) -> dict[str, dict]:
    """Per column: its type in the target, whether that is the spec type's, and how many of a
    sample of 200 of this run's rows have a value there (a typed column left empty is no proof)."""
    cur.execute("""SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                   WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped""",
                (sql.Identifier(schema, table).as_string(cur),))
    actual = dict(cur.fetchall())
    present = [c for c in columns if c in actual]
    filled: dict[str, int] = {}
    if present:
        cur.execute(sql.SQL("SELECT {} FROM (SELECT * FROM {} WHERE {} LIMIT 200) s").format(
            sql.SQL(", ").join(sql.SQL("count({})").format(sql.Identifier(c)) for c in present),
            sql.Identifier(schema, table), where))
        filled = dict(zip(present, cur.fetchone()))
    return {c: {"type": actual.get(c), "ok": bool(actual.get(c)) and actual[c].startswith(TYPED[t]),
                "filled": filled.get(c, 0)} for c, t in columns.items()}


def _variant_columns(cur, schema: str, table: str) -> list[str]:
    """dlt's variant columns: values it could not coerce to a column's type, kept as text beside it."""
    cur.execute("""SELECT column_name FROM information_schema.columns
                   WHERE table_schema = %s AND table_name = %s AND column_name LIKE '%%\\_\\_v\\_%%'""", (schema, table))
    return [r[0] for r in cur.fetchall()]


def _distinct_keys(path: Path, key: str) -> int:
    keys = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            v = json.loads(line).get(key)
            if v not in (None, ""):
                keys.add(v)
    return len(keys)


def equivalent(run: dict[str, Any]) -> bool:
    return run["loaded"] == run["expected"] and all(t["ok"] and t["filled"] > 0 for t in run["types"].values())


# --------------------------------------------------------------------------------------------
# The contest


def prepare_targets(c: Contest, chosen: list[Entity]) -> None:
    """Fresh peers' targets: the tutorial's table (like core's, keyed by the natural key, as its
    migration would make it) and no dlt datasets; then one small untimed load per dlt
    disposition, so that the timed runs load into tables that exist, as the project's do."""
    with transaction(c.admin_url) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS bench")
        for e in chosen:
            for strategy in ("delete_insert", "scd2"):
                for suffix in ("", "_staging"):         # dlt merges through a staging dataset of its own
                    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                        sql.Identifier(f"dlt_{strategy}_{e.table}{suffix}")))
            target = sql.Identifier("bench", f"tutorial_{e.table}")
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
            cur.execute(sql.SQL("CREATE TABLE {} {}").format(target, bench._like_core(e)))
            cur.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(target, sql.Identifier(e.natural_key)))
    for e in chosen:
        for name in ("dlt_merge", "dlt_scd2"):
            path = c.workdir / "prime.jsonl"
            bench.write_source_file(c.samples[f"{e.source}.{e.name}"], e, 20, path, c.tag("prime"))
            RUNNERS[name](c, e, path, "prime")
            path.unlink()


def contest(c: Contest, e: Entity, n: int, runs: int) -> dict[str, Any]:
    """``runs`` rounds of every contender on ``n`` records, the order rotating each round."""
    # The warm worker saves fixed costs per task: measured at the daily size only.
    names = c.contenders if n <= DAILY else CONTENDERS
    new_era(c)
    out: dict[str, list[dict]] = {k: [] for k in names}
    copies: dict[str, list[float]] = {"copy_typed": [], "copy_source": []}
    for r in range(runs):
        for name in names[r % len(names):] + names[:r % len(names)]:
            tag = c.tag(name)
            path = c.workdir / f"{tag}.jsonl"
            bench.write_source_file(c.samples[f"{e.source}.{e.name}"], e, n, path, tag)
            run = RUNNERS[name](c, e, path, tag)
            path.unlink()
            for k, (rows, seconds) in run.pop("copies", {}).items():
                copies[k].append(seconds)
                run.setdefault("copy_rows", {})[k] = rows
            out[name].append(run)
            c.log(f"  {e.source}.{e.name} {n:,} round {r + 1}/{runs} {name:<9} {run['wall']:7.2f} s, "
                  f"{run['loaded']:,} rows (expected {run['expected']:,})" + ("" if equivalent(run) else "  NOT EQUIVALENT"))
    return {"entity": f"{e.source}.{e.name}", "records": n, "runs": out, "copies": copies}


def run_peers(settings, samples: dict[str, list[str]], sizes: list[int], daily_runs: int = 5, large_runs: int = 1,
              only: list[str] | None = None, profile: bool = True, warm: bool = True,
              log=print) -> dict[str, Any] | None:
    """The whole §1a: every chosen entity at every size, then a profile of the project's daily run."""
    peers_py = bench_peers.peers_python(log=log)
    chosen = [e for e in bench.entities() if f"{e.source}.{e.name}" in (only or DEFAULT_ENTITIES)]
    if not chosen:                      # SIM_SOURCES left none of them
        log(f"  §1a skipped: none of {only or DEFAULT_ENTITIES} is simulated here")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        c = Contest(settings, samples, Path(tmp), peers_py, log)
        prepare_targets(c, chosen)
        c.warm = WarmWorker(Path(tmp)) if warm else None
        try:
            rows = [contest(c, e, n, daily_runs if n <= DAILY else large_runs) for e in chosen for n in sizes]
        finally:
            if c.warm:
                c.warm.close()
        daily = next((e for e in chosen if f"{e.source}.{e.name}" == DEFAULT_ENTITIES[0]), chosen[0])
        prof = profile_daily(c, daily, min(sizes)) if profile else None
    return {"sizes": sizes, "rows": rows, "profile": prof, "peers": _peer_versions(peers_py)}


def _peer_versions(py: Path) -> dict[str, str]:
    r = subprocess.run([str(py), "-c", "import importlib.metadata as m; import json; "
                        "print(json.dumps({p: m.version(p) for p in ('dlt', 'py-spy', 'psycopg2-binary')}))"],
                       capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {}


# --------------------------------------------------------------------------------------------
# Where the project's daily run spends its time: its own stage timings and a py-spy profile

PROFILE_HZ = 100
# A stack goes to the first bucket (in this order) one of whose frames it contains, imports apart.
BUCKETS = (("SuiteRunner.__init__", "GX context build (ephemeral context, suite)"),
           ("type_batch", "typing (conform.type_batch)"),
           ("SuiteRunner.run", "GX validation (SuiteRunner.run)"),
           ("publish", "publish staging + quarantine"),
           ("load_batch", "merge into core (load_batch)"),
           ("land (yhlaw", "land raw (store.land)"),
           ("validate_batch", "validate_batch, other (key check, batch checks, audit)"),
           ("ingest_file", "read the source file + spool"))


def profile_daily(c: Contest, e: Entity, n: int) -> dict[str, Any]:
    """One more project run of ``n`` records under py-spy (from the peers' venv; ``--idle``: the
    time spent waiting for PostgreSQL counts too)."""
    tag = c.tag("profile")
    path = c.workdir / f"{tag}.jsonl"
    bench.write_source_file(c.samples[f"{e.source}.{e.name}"], e, n, path, tag)
    raw = c.workdir / "profile.txt"
    new_era(c)
    cmd = [str(c.peers_py.parent / "py-spy"), "record", "--idle", "--format", "raw", "-r", str(PROFILE_HZ), "-o", str(raw),
           "--", sys.executable, "-m", "yhlaw_dev.bench", "_ingest", *_ingest_args(c, e, path)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "GX_ANALYTICS_ENABLED": "False"})
    path.unlink()
    if r.returncode != 0 or not raw.exists():
        c.log(f"  py-spy failed ({r.returncode}): {r.stderr[-500:]}")
        return {"error": (r.stderr or r.stdout)[-500:], "entity": f"{e.source}.{e.name}", "records": n}
    return {"entity": f"{e.source}.{e.name}", "records": n, "hz": PROFILE_HZ, **summarise_profile(raw.read_text())}


def summarise_profile(text: str, top: int = 12) -> dict[str, Any]:
    """Seconds per bucket (imports by the package imported) and the busiest frames, from py-spy's raw output."""
    buckets: Counter = Counter()
    leaves: Counter = Counter()
    frames: Counter = Counter()
    gx_import: Counter = Counter()      # the package whose module body runs, inside GX's import
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n, parts = int(count), [re.sub(r":\d+\)$", ")", p) for p in stack.split(";")]
        total += n
        bucket = _bucket(parts)
        buckets[bucket] += n
        if bucket == "import great_expectations":
            inner = [p for p in parts if p.startswith("<module> (") and not p.startswith("<module> (<")]
            gx_import[inner[-1][len("<module> ("):].split("/")[0].removesuffix(".py") if inner else "?"] += n
        leaves[parts[-1]] += n
        for f in set(p for p in parts if "importlib" not in p and "<module>" not in p):
            frames[f] += n
    s = lambda k: round(k / PROFILE_HZ, 2)     # noqa: E731
    return {"seconds": s(total), "buckets": {k: s(v) for k, v in buckets.most_common()},
            "top_self": [(f, s(v)) for f, v in leaves.most_common(top)],
            "gx_import": [(f, s(v)) for f, v in gx_import.most_common(top)],
            "top_inclusive": [(f, s(v)) for f, v in frames.most_common(top * 3)
                              if "yhlaw" in f or "great_expectations" in f][:top]}


def _bucket(parts: list[str]) -> str:
    """An import (by the package imported first) wherever it happens, else the outermost stage."""
    i = next((i for i, p in enumerate(parts) if p.startswith("_find_and_load")), None)
    if i is not None:
        mod = next((q for q in parts[i:] if q.startswith("<module> (")), "")
        where = mod[len("<module> ("):-1].removeprefix("<frozen ").rstrip(">")
        return f"import {where.split('/')[0].split('.')[0] or '?'}"
    for needle, label in BUCKETS:
        if any(needle in p for p in parts):
            return label
    return "other (interpreter start, connections, …)"


# --------------------------------------------------------------------------------------------
# docs/benchmarks.md §1a

LABELS = {"project": "this project", "project_warm": "this project, warm worker", "dlt_merge": "dlt merge", "dlt_scd2": "dlt scd2", "tutorial": "tutorial",
          "copy_typed": "COPY of typed rows", "copy_source": "COPY of the source records"}
LOADS = {"project": "the records the suite passed (the rest are quarantined with a reason): `loaded` of the run, "
                    "counted as version rows of its batch in core",
         "project_warm": "the same as this project's",
         "dlt_merge": "every record with a key, one row per distinct key (dlt de-duplicates by the key, latest "
                      "update first); records without a key are filtered out before dlt (its key is NOT NULL)",
         "dlt_scd2": "every record with a key, one current row (`_dlt_valid_to IS NULL`) per distinct key",
         "tutorial": "the records no applied expectation named, one row per distinct key (`DISTINCT ON` the key, "
                     "latest update first)"}


def _stats(xs: list[float]) -> tuple[float, float, float]:
    return min(xs), statistics.median(xs), max(xs)


def _cell(xs: list[float]) -> str:
    if not xs:
        return "–"
    lo, med, hi = _stats(xs)
    f = (lambda x: f"{x:.2f}") if hi >= 0.1 else (lambda x: f"{x:.3f}")     # noqa: E731
    return f(med) if len(xs) == 1 else f"{f(med)} ({f(lo)}–{f(hi)})"


def _walls(row: dict) -> dict[str, list[float]]:
    out = {k: [x["wall"] for x in v] for k, v in row["runs"].items()}
    return {**out, **row["copies"]}


def render_section(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    L = [SECTION + "Ingest against what users would pick instead: dlt and the tutorial path (#20)", "",
         "**One run, machine busy** (2 cores shared with other work while this ran): read the ratios, not the "
         "seconds. Every contender ran in a fresh process, as a task runs, on the same records (each run its "
         "own copy of the bench's source file with its keys made unique to that run); seconds are the "
         "process's wall time, start-up and imports included. Runs alternate between contenders (the order "
         "rotates each round); cells are median (min–max) over the runs. COPY rows are the COPY alone. "
         f"Peers: dlt {r['peers'].get('dlt', '?')} (`dlt[postgres]`, devtools/bench-peers.lock, its own venv), "
         "GX Core in the project's venv."
         + (f" This section was made on {r['date']} by `{r['command']}` (only this section; the others are "
            "from the last full run)." if r.get("command") else ""), "",
         "- **this project**: `bench.ingest_file` (source file -> raw -> typing -> GX suite -> staging/quarantine "
         "-> core with version history).",
         "- **dlt merge / scd2**: `dlt.resource` over the JSON lines -> dlt's normaliser (nested lists to child "
         "tables, ISO date-times detected) -> PostgreSQL, write disposition merge (delete-insert, `primary_key`) "
         "or scd2 (`merge_key`, incremental), column hints from the spec for dates and decimals, the spec's PII "
         "rule applied before dlt (party ID -> HMAC, names dropped), a fresh pipelines dir per run (a fresh worker).",
         "- **tutorial**: pandas (`json_normalize`, `to_datetime`, `to_numeric`, the spec's maps) -> GX on the "
         "DataFrame (pandas data source, COMPLETE results) with the suite's expectations on real columns "
         "(not those on the project's typing flags `_parse_errors`, `_duplicate`, …) -> rows any expectation "
         "names are dropped -> `DataFrame.to_sql` into a staging table -> one `INSERT … SELECT DISTINCT ON (key) "
         "… ON CONFLICT (key) DO UPDATE` into a table like core's, keyed by the natural key.",
         "- **this project, warm worker**: the same `ingest_file`, in a process forked from a long-lived one "
         "that has already imported great_expectations and yhlaw (`WarmWorker`): what a Celery worker that "
         "preloads them would give, since Airflow 3's task supervisor forks the task process from the worker on "
         "Linux (`airflow/sdk/execution_time/supervisor.py`, `os.fork`; the Celery provider's "
         "`on_celery_import_modules` already preloads a few modules the same way). A measurement of one option, "
         "not what the deployed system does today.", ""]
    shown = [k for k in LABELS if any(row["runs"].get(k) or row["copies"].get(k) for row in r["rows"])]
    ratios = [k for k in ("dlt_merge", "dlt_scd2", "tutorial", "copy_source") if k in shown]
    warm = "project_warm" in shown
    L += ["| entity | records | runs | " + " | ".join(LABELS[k] for k in shown) + " | "
          + " | ".join(f"project / {LABELS[k]}" for k in ratios) + (" | warm worker / dlt merge |" if warm else " |"),
          "|---|---:|---:|" + "---:|" * (len(shown) + len(ratios) + warm)]
    for row in r["rows"]:
        w = _walls(row)
        med = {k: statistics.median(v) for k, v in w.items() if v}
        ratio = lambda a, b: f"{med[a] / med[b]:.1f}x" if med.get(a) and med.get(b) else "–"     # noqa: E731
        L.append(f"| {row['entity']} | {row['records']:,} | {len(w['project'])} | "
                 + " | ".join(_cell(w.get(k, [])) for k in shown) + " | "
                 + " | ".join(ratio("project", k) for k in ratios) + (f" | {ratio('project_warm', 'dlt_merge')} |" if warm else " |"))
    L += _render_reading(r) + _render_equivalence(r) + _render_stages(r) + _render_profile(r.get("profile"))
    return L


def _render_reading(r: dict[str, Any]) -> list[str]:
    """The daily size in words: the project's fixed costs per task against its work, and dlt."""
    L = []
    for row in r["rows"]:
        if row["records"] > DAILY or not row["runs"].get("dlt_merge"):
            continue
        per = [_stages("project", x) for x in row["runs"]["project"]]
        med = {k: statistics.median(p[k] for p in per) for k in per[0]}
        total = statistics.median(x["wall"] for x in row["runs"]["project"])
        fixed = med["start-up + imports"] + med["GX import + context"]
        dlt = statistics.median(x["wall"] for x in row["runs"]["dlt_merge"])
        warm = [x["wall"] for x in row["runs"].get("project_warm", [])]
        L += ["", f"At the daily size ({row['entity']}, {row['records']:,} records) this project took {total:.2f} s, "
              f"{total / dlt:.1f}x dlt merge ({dlt:.2f} s). {fixed:.2f} s of it ({fixed / total:.0%}) are fixed costs "
              f"every task process pays before it touches a record: interpreter start and imports "
              f"{med['start-up + imports']:.2f} s, great_expectations' import and context "
              f"{med['GX import + context']:.2f} s; typing {med['typing']:.2f} s, GX validation "
              f"{med['GX validation']:.2f} s and the merge into core {med['merge into core']:.2f} s."
              + (f" Forked from a warm worker the same run took {statistics.median(warm):.2f} s = "
                 f"**{statistics.median(warm) / dlt:.2f}x dlt merge** (goal ≤ 0.5x)." if warm else "")]
    return L


def _render_equivalence(r: dict[str, Any]) -> list[str]:
    L = ["", "Equivalence, checked after every run: rows loaded = the rows the contender should load, and the "
         "spec's date, date-time and decimal columns are of those types in the target (not text) and filled "
         "on a sample of 200 of the run's rows. What each should load:", ""]
    L += [f"- {LABELS[k]}: {v}." for k, v in LOADS.items()]
    L += ["", "| entity | records | contender | rows loaded (expected), per run | typed columns checked | all runs equivalent |",
          "|---|---:|---|---|---|---|"]
    for row in r["rows"]:
        for k, runs in row["runs"].items():
            loads = ", ".join(f"{x['loaded']:,} ({x['expected']:,})" for x in runs[:5]) + (" …" if len(runs) > 5 else "")
            types = "; ".join(f"{c} {t['type']}" for c, t in runs[0]["types"].items())
            variants = sorted({v for x in runs for v in x.get("variants") or []})
            ok = all(equivalent(x) for x in runs)
            L.append(f"| {row['entity']} | {row['records']:,} | {LABELS[k]} | {loads} | {types}"
                     + (f"; variant columns {', '.join(variants)}" if variants else "") + f" | {'yes' if ok else '**no**'} |")
    return L


def _stages(name: str, run: dict) -> dict[str, float]:
    """Seconds per stage of one run; ``start-up`` is the process's wall time outside the timed body."""
    d = run["detail"]
    if name in ("project", "project_warm"):
        t, v = d["timings"], d["validate_timings"]
        return {"start-up + imports": run["wall"] - t["total"], "read source": t["read_source"],
                "land raw": t["land_raw"], "GX import + context": t["validate"] - sum(v.values()),
                "typing": v.get("type", 0), "GX validation": v.get("great_expectations", 0),
                "publish": v.get("publish_staging_quarantine", 0), "batch checks": v.get("batch_checks", 0),
                "merge into core": t["load_core"]}
    t = d["timings"] if name == "tutorial" else d
    return {"start-up": run["wall"] - t["total"], **{k: v for k, v in t.items() if k != "total"}}


def _render_stages(r: dict[str, Any]) -> list[str]:
    L = ["", "Where each contender's time goes (median seconds per stage over the runs; `import` is the "
         "contender's own libraries, after the interpreter's start-up):", "",
         "| entity | records | contender | stages |", "|---|---:|---|---|"]
    for row in r["rows"]:
        for name, runs in row["runs"].items():
            per = [_stages(name, x) for x in runs]
            med = {k: statistics.median(p[k] for p in per) for k in per[0]}
            L.append(f"| {row['entity']} | {row['records']:,} | {LABELS.get(name, name)} | "
                     + ", ".join(f"{k} {v:.2f}" for k, v in med.items()) + " |")
    return L


def _render_profile(p: dict[str, Any] | None) -> list[str]:
    if not p:
        return []
    L = ["", f"### Profile of the project's daily run ({p['entity']}, {p['records']:,} records, one task process)", ""]
    if "error" in p:
        return L + [f"py-spy could not profile it here: `{p['error'][-300:]}`"]
    L += [f"`py-spy record --idle -r {p['hz']}` (from the peers' venv) over one more run: {p['seconds']:.2f} s "
          "sampled. Each sample is put under the import it is in (by the package imported first, wherever the "
          "import happens: great_expectations also imports modules while its context is built) or else the "
          "first stage below whose function is on its stack.", "",
          "| where | seconds | share |", "|---|---:|---:|"]
    L += [f"| {k} | {v:.2f} | {v / p['seconds']:.0%} |" for k, v in p["buckets"].items() if v >= 0.02]
    if p.get("gx_import"):
        L += ["", "Inside `import great_expectations`, by the package whose module body was running: "
              + "; ".join(f"{f} {v:.2f} s" for f, v in p["gx_import"][:10]) + "."]
    L += ["", "Top frames by own time (leaf): " + "; ".join(f"`{f}` {s:.2f} s" for f, s in p["top_self"][:8]) + ".",
          "", "Top frames of the project and GX by inclusive time: "
          + "; ".join(f"`{f}` {s:.2f} s" for f, s in p["top_inclusive"][:10]) + "."]
    return L


def write_section(out: Path, lines: list[str]) -> None:
    """Put §1a into an existing report in place (or before §2), leaving every other section as it is."""
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    body = "\n".join(lines) + "\n"
    start = text.find("\n" + SECTION)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start + 1] + body + (text[end:] if end >= 0 else "")
    else:
        at = text.find("\n## 2. ")
        text = text[:at + 1] + body + text[at:] if at >= 0 else text + "\n" + body
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["_warm"]:
        sys.exit(warm_main())
    raise SystemExit("the harness starts this module's warm worker itself (`_warm`)")
