"""Every SQL statement that takes a value passes it as a driver parameter; identifiers are quoted
by the driver (psycopg2.sql). A static audit of the source: a statement built by f-string, ``%``
or ``str.format`` interpolation, or concatenation, fails this test with its file and line."""

from __future__ import annotations

import ast
from pathlib import Path

from yhlaw.settings import PROJECT_ROOT

DB_CALLS = {"execute", "executemany", "copy_expert", "mogrify", "read_sql", "read_sql_query"}


def _unsafe(node: ast.AST, assignments: dict[str, ast.AST], depth: int = 0) -> str | None:
    """Why this expression is an unsafe SQL text, or None."""
    if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
        return "f-string interpolation"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "%-interpolation"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _unsafe(node.left, assignments, depth) or _unsafe(node.right, assignments, depth) or (
            None if all(isinstance(s, ast.Constant) for s in (node.left, node.right)) else "concatenation")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        target = node.func.value
        is_composable = (isinstance(target, ast.Call) and isinstance(target.func, ast.Attribute)
                         and target.func.attr in {"SQL", "Composed"})
        if not is_composable:
            return "str.format interpolation"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "SQL" and node.args:
        return _unsafe(node.args[0], assignments, depth)
    if isinstance(node, ast.Name) and node.id in assignments and depth < 5:
        return _unsafe(assignments[node.id], assignments, depth + 1)
    return None


def audit(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module))]:
        assignments = {t.id: n.value for n in ast.walk(func) if isinstance(n, ast.Assign)
                       for t in n.targets if isinstance(t, ast.Name)}
        for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if name in DB_CALLS and call.args:
                why = _unsafe(call.args[0], assignments)
                if why:
                    where = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
                    problems.append(f"{where}:{call.lineno}: {name}() with {why}")
    return sorted(set(problems), key=lambda p: (p.split(":")[0], int(p.split(":")[1])))


def test_the_audit_catches_interpolated_sql(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(cur, x, t):\n"
        "    cur.execute(f\"SELECT * FROM t WHERE a = '{x}'\")\n"
        "    cur.execute(\"SELECT * FROM t WHERE a = '%s'\" % x)\n"
        "    q = \"SELECT * FROM {} WHERE a = 1\".format(t)\n"
        "    cur.execute(q)\n"
        "    cur.execute(\"SELECT * FROM \" + t)\n"
        "    cur.execute(sql.SQL(f\"SELECT * FROM {t}\"))\n"
        "    cur.execute(\"SELECT * FROM t WHERE a = %s\", (x,))\n"
        "    cur.execute(sql.SQL(\"SELECT * FROM {}\").format(sql.Identifier(t)))\n")
    assert audit(bad) == ["bad.py:2: execute() with f-string interpolation", "bad.py:3: execute() with %-interpolation",
                          "bad.py:5: execute() with str.format interpolation", "bad.py:6: execute() with concatenation",
                          "bad.py:7: execute() with f-string interpolation"]


def test_every_statement_in_the_package_and_dags_is_parameterised():
    files = sorted((PROJECT_ROOT / "include" / "yhlaw").rglob("*.py")) + sorted((PROJECT_ROOT / "dags").glob("*.py"))
    problems = [p for f in files for p in audit(f)]
    assert not problems, "SQL built by interpolation (use parameters or psycopg2.sql):\n" + "\n".join(problems)
