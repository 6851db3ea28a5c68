"""The peers ``make bench`` measures the project's ingest against (#20), each in a fresh process
as a task would run it, on the same JSON-lines source file:

* **dlt** (``dlt[postgres]``, merge and scd2 write dispositions, its own normaliser: nested lists
  become child tables, ISO date-times are detected), run by the Python of a virtual environment
  of its own (``.local/bench-venv``, from ``devtools/bench-peers.lock`` with hashes), never the
  project's. dlt is given what a team would give it from the spec: the key, column hints for the
  dates and decimals, and the PII rule (names dropped, the party's ID replaced by its HMAC).
* **the tutorial path** a team would write first, in the project's venv: pandas typing ->
  Great Expectations (GX Core, pandas data source) with the suite's expectations on real
  columns -> ``DataFrame.to_sql`` into a staging table -> one ``INSERT … ON CONFLICT`` into a
  target table keyed by the natural key. Rows any of those expectations names are not loaded.

This file's top level imports the standard library only: the same file runs in both venvs
(``python bench_peers.py dlt|tutorial JOB.json``).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "devtools" / "bench-peers.lock"
VENV = ROOT / ".local" / "bench-venv"


class PeersUnavailable(RuntimeError):
    """The peers' venv could not be built (PyPI unreachable, a hash that does not match)."""


# --------------------------------------------------------------------------------------------
# The peers' virtual environment


def peers_python(venv: Path = VENV, lock: Path = LOCK, log=print) -> Path:
    """The peers' Python, installing their venv from the lock first if it is missing or the
    lock changed (a stamp named by the lock's hash; a file lock keeps two runs from racing)."""
    py = venv / "bin" / "python"
    stamp = venv / f".installed-{hashlib.sha1(lock.read_bytes()).hexdigest()[:12]}"
    if stamp.exists():
        return py
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not stamp.exists():
            log(f"installing the bench peers into {venv} from {lock.name} (dlt, py-spy; once)")
            _install(venv, lock)
            stamp.touch()
    return py


def _install(venv: Path, lock: Path) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    # The same interpreter as the project's venv, not the venv itself (its packages stay out).
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--require-hashes", "--no-deps", "-r", str(lock)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        r = None
    if r is None or r.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        tail = "timed out after 900 s" if r is None else (r.stderr or r.stdout)[-1500:]
        raise PeersUnavailable(
            f"could not install the benchmark's peers (dlt, py-spy) from PyPI into {venv} with "
            f"`{' '.join(cmd[2:])}`: is PyPI reachable from this machine? pip said:\n{tail}")


# --------------------------------------------------------------------------------------------
# Running a contender: a fresh process, timed from outside (start-up and imports included)


def run_child(python: Path | str, kind: str, job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run ``kind`` (dlt | tutorial) on ``job`` in a fresh ``python``; its result plus ``wall``."""
    spec = workdir / f"job-{kind}-{os.getpid()}.json"
    spec.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "RUNTIME__LOG_LEVEL": "WARNING",
           "DLT_TELEMETRY_DISABLED": "1", "RUNTIME__DLTHUB_TELEMETRY": "false"}
    t0 = time.perf_counter()
    # The tutorial runs as the module in the project's venv; dlt runs this file in its own venv
    # (-P: this folder stays off sys.path, so nothing of the harness can shadow a package there).
    entry = ["-m", "yhlaw_dev.bench_peers"] if kind == "tutorial" else ["-P", __file__]
    r = subprocess.run([str(python), *entry, kind, str(spec)], capture_output=True, text=True, env=env,
                       cwd=workdir)
    wall = time.perf_counter() - t0
    spec.unlink()
    if r.returncode != 0:
        raise RuntimeError(f"bench peer {kind} failed:\n{r.stderr[-4000:]}")
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "wall": wall}


def _protect(rec: dict, pii: list[str], keyed: set[str], key: bytes) -> None:
    """The spec's PII rule, as a team would apply it before loading: the party's ID becomes its
    HMAC (``keyed`` paths), other PII fields are dropped."""
    for path in pii:
        *parents, leaf = path.split(".")
        node: Any = rec
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            continue
        if path in keyed and node[leaf] not in (None, ""):
            node[leaf] = hmac.new(key, str(node[leaf]).strip().upper().encode(), hashlib.sha256).hexdigest()
        else:
            del node[leaf]


# --------------------------------------------------------------------------------------------
# dlt (in the peers' venv)


def _dlt_records(job: dict[str, Any]) -> Iterator[dict]:
    key, pii, keyed = job["key"], job["pii"], set(job["keyed"])
    hkey = job["hmac_key"].encode()
    chosen = _latest_per_key(job["path"], key, job["updated_at"]) if job["strategy"] == "scd2" else None
    with open(job["path"], encoding="utf-8") as f:
        for offset, line in enumerate(f):
            rec = json.loads(line)
            if rec.get(key) in (None, ""):
                continue                # dlt's primary / merge key is NOT NULL: a team filters these out
            if chosen is not None and chosen[rec[key]][1] != offset:
                continue
            _protect(rec, pii, keyed, hkey)
            yield rec


def _latest_per_key(path: str, key: str, updated_at: str) -> dict[Any, tuple[str, int]]:
    """key -> (update time, line) of each key's latest record. scd2 takes one version per key per
    load (two records of a key in one load give rows of one id in its child tables); merge
    de-duplicates by itself (``dedup_sort`` on the update time)."""
    latest: dict[Any, tuple[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        for offset, line in enumerate(f):
            rec = json.loads(line)
            k, t = rec.get(key), str(rec.get(updated_at) or "")
            if k not in (None, "") and (k not in latest or t >= latest[k][0]):
                latest[k] = (t, offset)
    return latest


def dlt_job(job: dict[str, Any]) -> dict[str, Any]:
    if not all(k.isascii() for k in job["hints"] | {job["key"]: 0}):
        # dlt's default snake_case naming maps every non-ASCII letter to "x" (all the courts' Chinese
        # field names would become one column): dlt's docs point to a naming that keeps them.
        os.environ["SCHEMA__NAMING"] = "direct"
    t0 = time.perf_counter()
    import dlt

    t_import = time.perf_counter() - t0
    scd2 = job["strategy"] == "scd2"
    keys = {"merge_key": job["key"]} if scd2 else {"primary_key": job["key"]}
    hints = dict(job["hints"])
    if not scd2:
        hints[job["updated_at"]] = {**hints.get(job["updated_at"], {}), "dedup_sort": "desc"}
    resource = dlt.resource(_dlt_records(job), name=job["table"], columns=hints,
                            write_disposition={"disposition": "merge", "strategy": job["strategy"]}, **keys)
    pipeline = dlt.pipeline(pipeline_name=job["dataset"], dataset_name=job["dataset"],
                            destination=dlt.destinations.postgres(credentials=job["url"]),
                            pipelines_dir=job["pipelines_dir"], progress=None)
    t1 = time.perf_counter()
    pipeline.extract(resource)
    t_extract = time.perf_counter() - t1
    t2 = time.perf_counter()
    pipeline.normalize()
    t_normalize = time.perf_counter() - t2
    t3 = time.perf_counter()
    pipeline.load().raise_on_failed_jobs()
    t_load = time.perf_counter() - t3
    schema = pipeline.default_schema
    naming = schema.naming
    return {"table": naming.normalize_table_identifier(job["table"]), "key": naming.normalize_identifier(job["key"]),
            "columns": {c: naming.normalize_path(c.replace(".", "__")) if "." in c else naming.normalize_identifier(c)
                        for c in job["hints"]},
            "tables": sorted(schema.data_table_names()),
            "timings": {"import": t_import, "extract": t_extract, "normalize": t_normalize, "load": t_load,
                        "total": time.perf_counter() - t0}}


# --------------------------------------------------------------------------------------------
# The tutorial path (in the project's venv)


def _tutorial_frame(records: list[dict], entity, towns: dict[str, str], keyer):
    """Type the records with pandas, one column per spec field, as a first version would."""
    import pandas as pd

    from yhlaw.normalise import TRUE_VALUES

    flat = pd.json_normalize(records, max_level=1)
    out = pd.DataFrame(index=flat.index)
    for f in entity.fields:
        raw = flat[f.source] if f.source in flat else pd.Series([None] * len(flat), index=flat.index, dtype=object)
        if f.type == "stage_time":
            stage = f.options.get("stage")
            raw = raw.map(lambda v: next((s.get("time") for s in v if isinstance(s, dict) and s.get("stage") == stage),
                                         None) if isinstance(v, list) else None)
        out[f.name] = _tutorial_typed(raw, f, towns, keyer, TRUE_VALUES)
    return out


def _tutorial_typed(raw, f, towns: dict[str, str], keyer, true_values: set):
    import pandas as pd

    t = f.type
    raw = raw.astype(object).where(raw.notna(), None)         # json_normalize fills gaps with NaN
    if t in ("timestamp", "stage_time"):
        return pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    if t == "date":
        return pd.to_datetime(raw, errors="coerce", format="ISO8601").dt.date.astype(object).where(raw.notna(), None)
    if t == "decimal":
        return pd.to_numeric(raw, errors="coerce")
    if t == "bool":
        return raw.map(lambda v: None if v is None or v == "" else v in true_values).astype(object)
    if t == "party_key":
        return raw.map(keyer).astype(object)
    if t == "town":
        return raw.map(lambda v: towns.get(str(v).strip()) if v not in (None, "") else None).astype(object)
    if t == "json":
        keep = f.options.get("keep")
        return raw.map(lambda v: None if v is None else json.dumps(
            [{k: x.get(k) for k in keep} if keep and isinstance(x, dict) else x for x in v]
            if isinstance(v, list) else v, ensure_ascii=False)).astype(object)
    mapping = f.options.get("map")
    return raw.map(lambda v: None if v is None else mapping.get(v, v) if mapping else str(v)).astype(object)


def _tutorial_suite(entity, columns):
    """The project's suite, less the expectations on its own typing flags (``_parse_errors``,
    ``_duplicate``, …: columns a tutorial's DataFrame does not have)."""
    import great_expectations as gx

    from yhlaw.paths import EXPECTATIONS_DIR

    spec = json.loads((EXPECTATIONS_DIR / f"{entity.suite}.json").read_text(encoding="utf-8"))
    total = len(spec["expectations"])
    spec["expectations"] = [e for e in spec["expectations"]
                            if all(v in columns for k, v in e["kwargs"].items() if k in ("column", "column_A", "column_B"))]
    return gx.ExpectationSuite(**spec), total


def tutorial_job(job: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import great_expectations as gx
    import pandas  # noqa: F401  (imported before timing the typing)
    from sqlalchemy import create_engine, text

    from yhlaw.pii import PartyKeyer
    from yhlaw.spec import load_spec

    t = {"import": time.perf_counter() - t0}
    entity = load_spec(job["source"]).entities[job["entity"]]
    engine = create_engine(job["url"].replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.connect() as conn:
        towns = dict(conn.execute(text("SELECT alias, town_code FROM core.town_alias")).all())
    t1 = time.perf_counter()
    with open(job["path"], encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    frame = _tutorial_frame(records, entity, towns, PartyKeyer(job["hmac_key"]))
    t["type"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    bad, applied, total, failed_to_run = _tutorial_validate(gx, entity, frame)
    t["great_expectations"] = time.perf_counter() - t2
    good = frame.drop(index=sorted(bad))
    t3 = time.perf_counter()
    good.to_sql(job["staging"], engine, schema="bench", if_exists="replace", index=False, chunksize=10_000)
    t["to_sql"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(_upsert(conn, entity, job["staging"], job["target"])))
    t["upsert"] = time.perf_counter() - t4
    t["total"] = time.perf_counter() - t0
    return {"records": len(records), "rejected": len(bad), "valid_keys": int(good[entity.natural_key].dropna().nunique()),
            "expectations": applied, "suite_expectations": total, "could_not_run": failed_to_run, "timings": t}


def _tutorial_validate(gx, entity, frame) -> tuple[set[int], int, int, list[str]]:
    """Rows named by any expectation; expectations applied / in the suite; those that raised."""
    suite, total = _tutorial_suite(entity, set(frame.columns))
    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("tutorial").add_dataframe_asset("records")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0})
    bad: set[int] = set()
    raised = []
    for r in result.results:
        if r.exception_info and r.exception_info.get("raised_exception"):
            raised.append(r.expectation_config.type)
            continue
        bad.update(int(i) for i in r.result.get("unexpected_index_list") or [])
    return bad, len(suite.expectations), total, raised


def _upsert(conn, entity, staging: str, target: str) -> str:
    """One ``INSERT … SELECT DISTINCT ON (key) … ON CONFLICT (key) DO UPDATE`` (the latest update
    of a key wins), casting each staging column to the target's type."""
    from sqlalchemy import text

    types = dict(conn.execute(text("""SELECT column_name, format_type(atttypid, atttypmod)
        FROM information_schema.columns c JOIN pg_attribute a ON a.attrelid = ('bench.' || :t)::regclass
         AND a.attname = c.column_name WHERE table_schema = 'bench' AND table_name = :t"""), {"t": target}).all())
    cols = entity.columns
    q = ", ".join(f'"{c}"' for c in cols)
    casts = ", ".join(f'"{c}"::{types[c]}' for c in cols)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != entity.natural_key)
    return (f'INSERT INTO bench."{target}" ({q}) SELECT DISTINCT ON ("{entity.natural_key}") {casts} '
            f'FROM bench."{staging}" WHERE "{entity.natural_key}" IS NOT NULL '
            f'ORDER BY "{entity.natural_key}", "source_updated_at" DESC NULLS LAST '
            f'ON CONFLICT ("{entity.natural_key}") DO UPDATE SET {updates}')


def main(argv: list[str]) -> int:
    kind, path = argv
    job = json.loads(Path(path).read_text(encoding="utf-8"))
    result = {"dlt": dlt_job, "tutorial": tutorial_job}[kind](job)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
