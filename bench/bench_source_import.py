"""source_import: one shared-data file of `rows` rows imported and put in force (SPEC §3.5, §5.2).

The file is the household source (身份证号, 姓名, 户号, 行政区划代码) as UTF-8 CSV, generated before the clock
starts: unique valid ID numbers, except one row in 100,000 with a wrong check digit and 5 rows that repeat
an earlier person. Timed: source_import_start (keeps the original file) + source_import_run (parse,
validate, encrypt and digest every ID, load with COPY / executemany, reject duplicates, switch).
Checked: the import is in force with exactly the expected accepted/rejected counts, the table holds the
accepted rows, and a sample row decrypts to the number in the file.

BENCH_SOURCE=ssc_card benchmarks the social security card source instead (two identifiers per row).
The main process's peak memory is the figure; the parse workers' peak is reported beside it.
"""

import datetime as dt
import os
import resource
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

START = dt.date(1940, 1, 1)
DAYS = 20_000  # birth dates 1940-01-01 … 1994-10-04
BAD_EVERY = 100_000
DUPLICATES = 5


def _ensure_tables() -> None:
    """The checks app may have no migrations yet: create its tables when migrate did not."""
    from django.apps import apps

    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in apps.get_app_config("checks").get_models():
            if model._meta.db_table not in existing and model._meta.managed:
                editor.create_model(model)


def _ensure_region() -> None:
    from yikatong.core.models import Region

    Region.objects.get_or_create(code="500000000000", defaults={"name": "重庆市", "level": 1, "full_name": "重庆市"})


def _id(i: int) -> str:
    from yikatong.checks.sources.spec import check_digit

    birth = START + dt.timedelta(days=i % DAYS)
    body = f"500101{birth:%Y%m%d}{i // DAYS:03d}"
    return body + check_digit(body)


def _card(i: int) -> str:
    from stdnum import luhn

    body = f"62170000{i:010d}"
    return body + luhn.calc_check_digit(body)


def _write_file(path: Path, rows: int, source: str) -> tuple[int, int, str]:
    """The CSV; returns (bad rows, duplicate rows, the ID of data row 1)."""
    from yikatong.checks.sources.spec import SPECS

    unique = rows - DUPLICATES if rows > 2 * DUPLICATES else rows
    dups = rows - unique
    bad = 0
    statuses = ("已激活", "未激活", "挂失", "注销")
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(SPECS[source].header_line + "\n")
        lines = []
        for i in range(rows):
            n = i if i < unique else i - unique  # the last rows repeat the first people
            number = _id(n)
            if i < unique and i % BAD_EVERY == BAD_EVERY - 1:
                number = number[:17] + ("0" if number[17] != "0" else "1")
                bad += 1
            if source == "ssc_card":
                lines.append(f"{number},张{n % 1000},{_card(n)},重庆农村商业银行,{statuses[n % 4]}\n")
            else:
                lines.append(f"{number},张{n % 1000},HH{n:09d},500101001001\n")
            if len(lines) >= 10_000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))
    return bad, dups, _id(0)


def run(rows: int) -> dict:
    from yikatong.checks.models import SOURCE_MODELS, SourceImport
    from yikatong.checks.sources import source_current, source_import_run, source_import_start
    from yikatong.core import crypto
    from yikatong.core.scope import Scope

    source = os.environ.get("BENCH_SOURCE", "household")
    _ensure_tables()
    _ensure_region()
    path = Path(settings.HOME) / f"bench_{source}.csv"
    bad, dups, first_id = _write_file(path, rows, source)

    cpu_before = _cpu()
    started = time.perf_counter()
    with open(path, "rb") as fh:
        imp = source_import_start(actor=Scope.system(reason="bench"), source=source, fileobj=fh,
                                  original_name=path.name, channel="cli")
    imp = source_import_run(source_import_id=imp.pk)
    seconds = time.perf_counter() - started
    cpu = {k: round(v - cpu_before[k], 2) for k, v in _cpu().items()}

    imp.refresh_from_db()
    expected_accepted = rows - bad - dups
    if imp.status != SourceImport.Status.ACTIVE or source_current(source) != imp:
        raise AssertionError(f"import not in force: {imp.status} {imp.message}")
    if (imp.total_rows, imp.accepted, imp.rejected) != (rows, expected_accepted, bad + dups):
        raise AssertionError(f"counts {imp.total_rows}/{imp.accepted}/{imp.rejected}, expected "
                             f"{rows}/{expected_accepted}/{bad + dups}")
    model = SOURCE_MODELS[source]
    stored = model.objects.filter(source_import=imp).count()
    if stored != expected_accepted:
        raise AssertionError(f"table holds {stored} rows, expected {expected_accepted}")
    sample = model.objects.get(source_import=imp, row_number=2)
    if crypto.decrypt_text(sample.id_enc) != first_id or sample.id_digest != crypto.digest("id", first_id):
        raise AssertionError("row 2 does not decrypt to the ID in the file")
    if imp.row_errors.count() != bad + dups:
        raise AssertionError("refusal report incomplete")
    path.unlink()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "rows": rows,
        "seconds": seconds,
        "source": source,
        "accepted": imp.accepted,
        "rejected": imp.rejected,
        "workers": _workers(),
        "worker_peak_rss_mb": round(children / 1024),
        # CPU seconds spent by the import in this process, its parse workers and the database session
        # (the last only when the server runs on this machine): on a shared machine the wall time
        # depends on the neighbours, these do not.
        **{f"cpu_{k}_s": v for k, v in cpu.items()},
    }


def _cpu() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {"main": own.ru_utime + own.ru_stime, "workers": kids.ru_utime + kids.ru_stime}
    if connection.vendor == "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            figures["db"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return figures


def _workers() -> int:
    from yikatong.checks.sources.load import worker_count

    return worker_count()
