"""Chunks of a bulk import handled by a pool of forked worker processes, results in input order.

Used where a file of a million lines must be parsed, validated, digested or encrypted faster than one Python
process can (source imports, bank results): the main process cuts the input into chunks in a reader thread
(`prefetch`) while at most 2 × workers chunks are in flight, and consumes the results in order (typically
writing them to the database, which releases the GIL while the server works). Memory stays bounded by the
chunks in flight, whatever the input size.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from django.conf import settings

from yikatong.core import crypto


def worker_count(setting: str, default: int = 2) -> int:
    """Worker processes from a setting (Django setting, else environment variable of that name); 0 = in the
    calling process."""
    value = getattr(settings, setting, None)
    if value is None:
        value = os.environ.get(setting, str(default))
    return max(0, int(value))


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def _worker_init() -> None:
    gc.disable()


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Produce `items` in a background thread, `depth` ahead: the file is read while the main thread
    waits on the database (psycopg and sqlite3 release the GIL while the server works). An exception
    of the producer is raised in the consumer; closing the generator stops and joins the thread."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Raised(exc))

    thread = threading.Thread(target=produce, name="bulk-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def ordered_map(func: Callable, chunks: Iterable, workers: int) -> Iterator:
    """`func(chunk)` for every chunk, in order. `func` must be picklable (a module-level function or a
    functools.partial of one). With workers <= 0, or fewer than three chunks, everything runs in this
    process (forking costs more than it saves). The cyclic garbage collector is off meanwhile: the loop
    makes millions of short-lived tuples and strings but no reference cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield from _ordered_map(func, chunks, workers)
    finally:
        if collecting:
            gc.enable()


def _ordered_map(func: Callable, chunks: Iterable, workers: int) -> Iterator:
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        return
    second = next(iterator, None)
    if workers <= 0 or second is None:
        yield func(first)
        if second is not None:
            yield func(second)
        for chunk in iterator:
            yield func(chunk)
        return
    # Keys are read before forking so every worker inherits them instead of racing to create key files.
    crypto.keyring()
    crypto._digest_base()  # noqa: SLF001
    pending: deque = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_worker_init) as pool:
        pool.submit(int).result()  # fork every worker now, before the reader thread exists
        rest = prefetch(iterator)
        try:
            for chunk in (first, second):
                pending.append(pool.submit(func, chunk))
            for chunk in rest:
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
                pending.append(pool.submit(func, chunk))
            while pending:
                yield pending.popleft().result()
        finally:
            rest.close()
            for future in pending:
                future.cancel()
