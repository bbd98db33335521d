"""Run the benchmarks under bench/ and print one JSON line per figure (see DESIGN.md, Benchmarks).

Each benchmark is a module bench/bench_<name>.py with `run(rows: int) -> dict` returning at least
{"rows": n, "seconds": s} after checking its own result (counts, totals) — a fast wrong answer raises.
Every benchmark runs in a fresh process on a fresh database, so peak memory is its own.

  BENCH_ROWS   size (default 1,000,000)
  BENCH_DB     sqlite | postgresql (default: both; PostgreSQL only when reachable)
  BENCH_ONLY   comma-separated names (default: all)
  DATABASE_URL PostgreSQL server to use (a database named yikatong_bench is created and dropped there)
  BENCH_PG_DB  another name for that database (so that parallel runs do not clash)
  BENCH_KEEP   1 = keep each run's YIKATONG_HOME under var/bench (its SQLite database, files); removed otherwise
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = ROOT / "var" / "bench" / "results.jsonl"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def postgres_url() -> str | None:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = os.environ.get("BENCH_PG_DB", "yikatong_bench")
    if not name.isidentifier():
        raise SystemExit(f"BENCH_PG_DB must be a plain name, not {name!r}")
    try:
        import psycopg

        with psycopg.connect(base, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL
        print(f"# PostgreSQL not reachable ({exc}); skipping", file=sys.stderr)
        return None
    return base.rsplit("/", 1)[0] + "/" + name


def main() -> int:
    rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    only = [n for n in os.environ.get("BENCH_ONLY", "").split(",") if n]
    names = [n for n in available() if not only or n in only]
    unknown = set(only) - set(available())
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; available: {', '.join(available())}")
        return 2
    dbs = [os.environ["BENCH_DB"]] if os.environ.get("BENCH_DB") else ["sqlite", "postgresql"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    for db in dbs:
        for name in names:
            env = dict(os.environ, BENCH_ROWS=str(rows), BENCH_NAME=name, DJANGO_SETTINGS_MODULE="yikatong.settings")
            home = tempfile.mkdtemp(prefix=f"bench-{name}-", dir=RESULTS.parent)
            env["YIKATONG_HOME"] = home
            if db == "postgresql":
                url = postgres_url()
                if not url:
                    break
                env["DATABASE_URL"] = url
            else:
                env.pop("DATABASE_URL", None)
            try:
                proc = subprocess.run(
                    [sys.executable, str(HERE / "_one.py")], env=env, capture_output=True, text=True
                )
            finally:  # the run's home (its SQLite database, files: gigabytes at a million rows)
                if os.environ.get("BENCH_KEEP") != "1":
                    shutil.rmtree(home, ignore_errors=True)
            sys.stderr.write(proc.stderr)
            line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            if proc.returncode != 0 or not line.startswith("{"):
                failed += 1
                print(json.dumps({"bench": name, "db": db, "rows": rows, "error": f"exit {proc.returncode}"}))
                continue
            print(line, flush=True)
            with RESULTS.open("a") as fh:
                fh.write(line + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
