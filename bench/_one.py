"""One benchmark in a fresh process: migrate a fresh database, run bench_<BENCH_NAME>.run(rows), print JSON."""

import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    name = os.environ["BENCH_NAME"]
    rows = int(os.environ["BENCH_ROWS"])
    module = importlib.import_module(f"bench_{name}")
    started = time.perf_counter()
    figures = module.run(rows)
    figures.setdefault("seconds", round(time.perf_counter() - started, 3))
    figures["seconds"] = round(figures["seconds"], 3)
    counted = figures.get("rows", rows)
    line = {
        "bench": name,
        "db": connection.vendor,
        "rows": counted,
        "seconds": figures["seconds"],
        "rows_per_s": int(counted / figures["seconds"]) if figures["seconds"] else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if child:  # worker processes (parse pools): the largest one's peak; the total is at most self + n × this
        line["worker_peak_rss_mb"] = round(child / 1024)
    line.update({k: v for k, v in figures.items() if k not in line})
    print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()
