"""Loading one source import (the pipeline), the switch that puts it in force, and the purge.

Pipeline (memory bounded by the chunks in flight plus the duplicate index): the main process cuts the
file into chunks of CHUNK_ROWS rows — raw CSV blocks (reading.py; decoding and CSV parsing happen in the
workers) or, for XLSX, rows read with core.tabular — in a reader thread; a pool of WORKERS forked
processes parses, validates, encrypts and digests each chunk (spec.parse_chunk). At most 2 × WORKERS
chunks are in flight, whatever the file size. The main process hands each result to the Loader
(loader.py) in file order: it notes the natural keys (duplicates are refused without a query) and keeps
the rows — a spill file of digest-sorted COPY lines on PostgreSQL, a TEMP stage on SQLite — and finally
publishes them into the source's table in ID digest order.

The rows of an import are invisible until it is in force: readers only read rows of the import
SourceState points to. `switch` moves that pointer in one short transaction (select_for_update on the
SourceState row: concurrent imports of one source serialize and the later switch wins). A failed import
deletes what it wrote (`Loader.delete_rows`); `purge` removes rows of superseded imports, keeping the
import in force and the one just before it (a reader that started before the switch finishes on intact
rows), and `reap_interrupted` fails imports whose process died while loading.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from functools import partial

from django.db import transaction
from django.utils import timezone

from yikatong.core import csv_blocks as reading
from yikatong.core.models import JobProgress
from yikatong.core.parallel import ordered_map, prefetch
from yikatong.core.parallel import worker_count as parallel_workers

from ..models import SourceImport, SourceImportError, SourceState
from . import spec as specs
from .loader import ERROR_COPY_THRESHOLD, Loader, delete_import_rows

__all__ = ["CHUNK_ROWS", "ERROR_COPY_THRESHOLD", "Loader", "delete_import_rows", "parsed_chunks", "prefetch",
           "purge", "reap_interrupted", "read_chunks", "switch", "worker_count"]

log = logging.getLogger("yikatong.checks.sources")

CHUNK_ROWS = 20_000
STALE_AFTER = dt.timedelta(hours=12)
INTERRUPTED = "导入中断：处理进程意外停止，本次导入未生效，请重新导入。"
PURGE_LOOKBACK = 50


def worker_count() -> int:
    """Parse/encrypt processes (setting YIKATONG_SOURCE_IMPORT_WORKERS, default 2; 0 = in-process)."""
    return parallel_workers("YIKATONG_SOURCE_IMPORT_WORKERS")


# -- reading and parsing --------------------------------------------------------------------------------
def read_chunks(table, fileobj, spec: specs.SourceSpec, chunk_rows: int | None = None) -> Iterator:
    """The table opened by `open_table(fileobj, …)` in chunks of `chunk_rows` rows (default CHUNK_ROWS):
    raw CSV blocks (reading.CsvBlock, decoded in the workers) or lists of (row_number, cells) for XLSX."""
    return reading.chunks(table, fileobj, spec.columns, chunk_rows or CHUNK_ROWS)


def parsed_chunks(code: str, chunks: Iterable[list[tuple]], ctx: specs.Context,
                  workers: int) -> Iterator[specs.ChunkResult]:
    """Results in file order. With workers, a forked pool and a bounded window of chunks in flight."""
    return ordered_map(partial(specs.parse_chunk, code, ctx=ctx), chunks, workers)


# -- switch and purge -------------------------------------------------------------------------------------
def _state(source: str) -> None:
    SourceState.objects.get_or_create(source=source)  # safe under races: get_or_create retries the get


def switch(imp: SourceImport, *, on_switch=None) -> SourceImport | None:
    """Put `imp` in force: one short transaction holding the source's SourceState row. The import in
    force until now is superseded and returned. `on_switch(previous)` runs inside the transaction (the
    audit event), so the switch and its record commit together."""
    _state(imp.source)
    with transaction.atomic():
        state = SourceState.objects.select_for_update().get(source=imp.source)
        previous = None
        if state.current_import_id and state.current_import_id != imp.pk:
            previous = SourceImport.objects.select_for_update().get(pk=state.current_import_id)
            previous.status = SourceImport.Status.SUPERSEDED
            previous.save(update_fields=["status"])
        now = timezone.now()
        imp.status = SourceImport.Status.ACTIVE
        imp.finished_at = now
        imp.save(update_fields=["status", "finished_at", "total_rows", "accepted", "rejected", "message"])
        state.current_import = imp
        state.switched_at = now
        state.save(update_fields=["current_import", "switched_at"])
        if on_switch is not None:
            on_switch(previous)
    return previous


def reap_interrupted(source: str) -> list[SourceImport]:
    """Imports still 'loading' whose process is gone (their job ended, or they are older than
    STALE_AFTER): marked failed, their rows deleted."""
    cutoff = timezone.now() - STALE_AFTER
    loading = SourceImport.objects.filter(source=source, status=SourceImport.Status.LOADING)
    ended = [JobProgress.Status.SUCCEEDED, JobProgress.Status.FAILED]
    reaped = []
    for imp in loading.filter(created_at__lt=cutoff) | loading.filter(job__status__in=ended):
        with transaction.atomic():
            locked = SourceImport.objects.select_for_update().get(pk=imp.pk)
            if locked.status != SourceImport.Status.LOADING:
                continue
            delete_import_rows(locked)
            SourceImportError.objects.filter(source_import_id=locked.pk).delete()
            locked.status = SourceImport.Status.FAILED
            locked.message = INTERRUPTED
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "message", "finished_at"])
        reaped.append(locked)
    return reaped


def purge(source: str) -> int:
    """Delete rows of superseded and failed imports of `source`, except the import in force and the one
    in force just before it. Holds the SourceState row while deleting, so a concurrent switch cannot
    change what is kept. Returns the number of rows deleted."""
    _state(source)
    deleted = 0
    with transaction.atomic():
        state = SourceState.objects.select_for_update().get(source=source)
        keep = {state.current_import_id}
        previous = (SourceImport.objects.filter(source=source, status=SourceImport.Status.SUPERSEDED)
                    .order_by("-finished_at").values_list("pk", flat=True).first())
        keep.add(previous)
        # Every purge leaves at most two imports with rows, so only the latest few can still hold any.
        candidates = (SourceImport.objects.filter(
            source=source, status__in=[SourceImport.Status.SUPERSEDED, SourceImport.Status.FAILED])
            .exclude(pk__in=[pk for pk in keep if pk]).order_by("-created_at"))
        for imp in candidates.only("pk", "source")[:PURGE_LOOKBACK]:
            deleted += delete_import_rows(imp)
    return deleted
