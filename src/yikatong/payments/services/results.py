"""Bank results (回盘): one core for the result file (CLI, UI) and the bank API — `result_import`.

Never paid twice:
- the import keeps its original content (file or API payload) with its SHA-256;
- every line addresses one attempt by (批次号 = batch number, 序号 = attempt seq) and is classified set-based
  (services/results_stage.py): only a line that matches a sent attempt exactly (amount to the fen, account
  digest) and whose item is still sending is applied; a line equal to what was applied before is a duplicate
  (counted, nothing changes); anything else is stored as a ResultLine for review and changes nothing;
- everything of one import happens in ONE transaction with the touched batches locked in id order, so two
  imports of the same results racing apply once (the second sees the first's results as duplicates) and a
  crash half-way leaves nothing applied; an applied result whose item is no longer sending (already paid
  through another attempt) refuses the whole import.

Applying: attempt sent → paid|failed; item sending → paid (paid_on) | failed (reason, correction deadline
3 wd); general-ledger entries PAID/FAILED per batch and day and RETURNED per batch and return day (money back
in the treasury the next working day after processing), the attempts being the detail; one indicator return
per plan for its failed money; batch counters recomputed by the database and the batch partial/completed; the plan completed when none of its items is still open.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from contextlib import closing, contextmanager
from functools import partial

from django.db import connection, transaction
from django.db.models import Count, Sum

from yikatong.core import audit, clock, csv_blocks, workdays
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.jobs import failure_message, no_progress
from yikatong.core.models import Organization, OrgKind, Region
from yikatong.core.money import ZERO, from_fen
from yikatong.core.parallel import ordered_map
from yikatong.core.parallel import worker_count as parallel_workers
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_abspath, file_store
from yikatong.core.tabular import open_table

from .. import workflow
from ..models import (
    BatchStatus,
    DailyClose,
    ItemStatus,
    LineDisposition,
    PaymentAttempt,
    PaymentBatch,
    PaymentItem,
    PlanStatus,
    ResultImport,
    ResultLine,
)
from .common import deadline, fen_of, lock_plan, move_plan
from .ledgers import county_of, require_day_open
from .results_parse import HEADERS, api_rows, chunked, may_repeat, parse_chunk
from .results_stage import APPLY, DUP, Stage

log = logging.getLogger("yikatong.payments.results")

CHUNK = 20_000
FILE_PURPOSE = "bank-results"
OPEN_ITEM_STATUSES = (ItemStatus.PENDING, ItemStatus.HELD, ItemStatus.SENDING, ItemStatus.FAILED,
                      ItemStatus.CORRECTED)
RESULT_STATUSES = (BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL, BatchStatus.COMPLETED)
REJECTED = tuple(LineDisposition.values)


# -- entry points -----------------------------------------------------------------------------------------
def result_import(*, actor: Scope, fileobj=None, original_name: str = "", rows=None, channel: str = "file",
                  bank_code: str | None = None, progress=None) -> ResultImport:
    """Import one bank result (a CSV/XLSX file, or `rows` from the bank API) and apply what matches.

    Returns the ResultImport: status `done` with its counts, or `failed` with a message when the content was
    refused as a whole (wrong or missing headers, empty, unreadable, or an error while applying) — then nothing
    was applied. Scope errors (no permission, another bank's code) are raised."""
    ri = result_import_receive(actor=actor, fileobj=fileobj, original_name=original_name, rows=rows,
                               channel=channel, bank_code=bank_code)
    return result_import_run(actor=actor, result_import_id=ri.pk, progress=progress)


def _bank_for(actor: Scope, bank_code: str | None) -> Organization | None:
    code = (bank_code or "").strip()
    if actor.own_org_only:
        if actor.role != "paying_bank":
            raise ScopeError("只有代发银行可以提交回盘结果。")
        bank = Organization.objects.get(pk=actor.organization_id)
        if code and code != bank.code:
            raise ScopeError("只能提交本行代发批次的回盘结果。")
        return bank
    if not code:
        return None
    bank = Organization.objects.filter(code=code, kind=OrgKind.PAYING_BANK).first()
    if bank is None:
        raise DomainError(f"代发银行编码 {code} 不存在。", field="bank_code")
    return bank


def _storage_region(actor: Scope, bank: Organization | None) -> str:
    if actor.region_code:
        return actor.region_code
    if bank is not None:
        return bank.region_id
    root = Region.objects.filter(parent__isnull=True).order_by("code").values_list("code", flat=True).first()
    if root is None:
        raise DomainError("系统中没有行政区划，无法保存回盘文件。")
    return root


def result_import_receive(*, actor: Scope, fileobj=None, original_name: str = "", rows=None,
                          channel: str = "file", bank_code: str | None = None) -> ResultImport:
    """Keep the content and record the import (status running); result_import_run applies it."""
    actor.require_write("payment.result")
    if channel not in ResultImport.Channel.values:
        raise DomainError(f"回盘渠道“{channel}”无效。", field="channel")
    if (fileobj is None) == (rows is None):
        raise DomainError("请提供回盘文件或回盘数据（二者选一）。")
    bank = _bank_for(actor, bank_code)
    if rows is not None:
        if not isinstance(rows, (list, tuple)):
            raise DomainError("回盘数据应为逐笔结果的列表。", field="rows")
        payload = json.dumps({"rows": list(rows)}, ensure_ascii=False, default=str).encode("utf-8")
        fileobj = io.BytesIO(payload)
        original_name = original_name or f"bank-results-{clock.today():%Y%m%d}.json"
    stored = file_store(actor=actor, fileobj=fileobj, original_name=original_name or "回盘文件",
                        purpose=FILE_PURPOSE, region_code=_storage_region(actor, bank),
                        content_type="application/json" if rows is not None else "")
    return ResultImport.objects.create(
        bank=bank, channel=channel, file=stored, content_digest=stored.sha256, status=ResultImport.Status.RUNNING,
        received_by=actor.username[:150], received_at=clock.now())


def result_import_run(*, actor: Scope, result_import_id, progress=None) -> ResultImport:
    """Apply a received import in one transaction. Refusals end the import as failed (nothing applied);
    an unexpected error also marks it failed, then propagates."""
    ri = ResultImport.objects.select_related("file", "bank").get(pk=result_import_id)
    if ri.status != ResultImport.Status.RUNNING:
        raise DomainError("该回盘导入已处理，不能重复处理。", code="done")
    progress = progress or no_progress
    try:
        with transaction.atomic():
            _process(actor, ri, progress)
    except DomainError as exc:
        return _failed(actor, ri, exc.message)
    except BaseException as exc:
        _failed(actor, ri, failure_message(exc))
        raise
    return ri


def _failed(actor: Scope, ri: ResultImport, message: str) -> ResultImport:
    ResultImport.objects.filter(pk=ri.pk).update(status=ResultImport.Status.FAILED, message=message[:2000],
                                                 finished_at=clock.now())
    ri.refresh_from_db()
    with transaction.atomic():
        audit.record(actor=actor, action="payment_result.refuse", obj=ri, region_code=ri.file.region_id,
                     after={"file": ri.file.original_name, "digest": ri.content_digest}, reason=message[:500])
    return ri


# -- reading the content ----------------------------------------------------------------------------------
@contextmanager
def _chunks(ri: ResultImport):
    """(chunks of the stored content, approximate line count): raw CSV blocks that the workers decode and
    split (core.csv_blocks), or lists of (line_no, 7 texts) for XLSX and API payloads."""
    path = file_abspath(ri.file)
    if ri.channel == ResultImport.Channel.API:
        try:
            lines = [(n, *values) for n, values in api_rows(path.read_bytes())]
        except (ValueError, AttributeError) as exc:
            raise DomainError(f"回盘数据无法读取：{exc}") from None
        yield chunked(lines, CHUNK), len(lines)
        return
    with open(path, "rb") as fileobj, open_table(fileobj, required=HEADERS) as table:  # refuses an empty file
        # and names a missing header
        yield csv_blocks.chunks(table, fileobj, HEADERS, CHUNK), table.size_hint


def worker_count() -> int:
    """Parse processes of a result import (setting YIKATONG_RESULT_IMPORT_WORKERS, default 2; 0 = in-process)."""
    return parallel_workers("YIKATONG_RESULT_IMPORT_WORKERS")


# -- the transaction --------------------------------------------------------------------------------------
def _process(actor: Scope, ri: ResultImport, progress) -> None:
    today = clock.today()
    stage = Stage()
    stage.create()
    lines = invalid = 0
    batch_lines: dict[str, int] = {}
    spans: dict[str, list[tuple]] = {}
    dates: set[dt.date] = set()
    with _chunks(ri) as (chunks, hint):
        progress(0, hint)
        parse = partial(parse_chunk, today=today, copy=stage.pg)
        # No progress while loading: a progress write is a query on this connection, which the open COPY holds
        # (it would wait for ever). closing(): the reader thread and the worker pool stop before the file is
        # closed, also on error.
        with stage.loader() as load, closing(ordered_map(parse, chunks, worker_count())) as results:
            for result in results:
                load(result.payload)
                lines += result.lines
                invalid += result.invalid
                for number, span in result.batches.items():
                    batch_lines[number] = batch_lines.get(number, 0) + span[0]
                    spans.setdefault(number, []).append(tuple(span))
                dates |= result.dates
        progress(lines, hint)
    if lines == 0:
        raise DomainError("回盘文件中没有数据行：请检查文件内容后重新导入。")
    step("loaded")
    stage.index()
    batches = _lock_batches(actor, ri.bank, batch_lines)
    stage.load_batches(batches["rows"])
    return_days = _return_days(dates, today)
    stage.load_dates(return_days)
    stage.load_closed(_closed_days(batches["batches"].values(), dates | {r[2] for r in return_days}, today), today)
    if may_repeat(spans) and stage.find_later():
        stage.mark_later()
    step("repeats")
    step("classify")
    stage.classify()
    counts = _counts(stage.tally())
    rejected = stage.store_rejected(_db_id(ri.pk)) if any(counts[d][0] for d in REJECTED) else 0
    step("apply")
    applied = counts["paid"][0] + counts["failed"][0]
    if applied:
        _apply(actor, ri, stage, counts, batches, today)
    stage.drop()
    ri.line_count = lines
    ri.applied_count = applied
    ri.duplicate_count = counts[DUP][0]
    ri.rejected_count = rejected
    ri.status = ResultImport.Status.DONE
    ri.finished_at = clock.now()
    ri.message = _summary(counts, rejected)
    ri.save(update_fields=["line_count", "applied_count", "duplicate_count", "rejected_count", "status",
                           "finished_at", "message"])
    audit.record(actor=actor, action="payment_result.import", obj=ri, region_code=ri.file.region_id,
                 after={"file": ri.file.original_name, "digest": ri.content_digest, "channel": ri.channel,
                        "lines": ri.line_count, "paid": counts["paid"][0], "failed": counts["failed"][0],
                        "paid_amount": str(from_fen(counts["paid"][1])),
                        "failed_amount": str(from_fen(counts["failed"][1])),
                        "duplicates": ri.duplicate_count, "rejected": rejected})
    if applied:
        pk = ri.pk
        transaction.on_commit(lambda: _after_commit(pk))
    progress(lines, lines)


def step(name: str) -> None:
    """A named point between the steps of the transaction (tests make it fail to prove nothing is half-done)."""


def _db_id(pk):
    return ResultImport._meta.pk.get_db_prep_value(pk, connection)


def _counts(tally: list[tuple]) -> dict:
    counts = {key: [0, 0] for key in (DUP, "paid", "failed", *REJECTED)}
    for disp, outcome, n, fen_total in tally:
        key = outcome if disp == APPLY else disp
        counts[key][0] += n
        counts[key][1] += int(fen_total or 0)
    return counts


def _summary(counts: dict, rejected: int) -> str:
    text = (f"入账成功 {counts['paid'][0]} 笔（{from_fen(counts['paid'][1])} 元），"
            f"入账失败 {counts['failed'][0]} 笔（{from_fen(counts['failed'][1])} 元），"
            f"重复（未变更）{counts[DUP][0]} 笔，拒收待复核 {rejected} 笔")
    parts = [f"{LineDisposition(d).label} {counts[d][0]}" for d in REJECTED if counts[d][0]]
    return text + (f"（{'，'.join(parts)}）。" if parts else "。")


def _return_days(days: set[dt.date], today: dt.date) -> list[tuple]:
    rows = []
    for day in sorted(days):
        returned = workdays.add_working_days(day, 1)
        rows.append((day, returned, min(today, returned)))
    return rows


def _closed_days(batches, days: set[dt.date], today: dt.date) -> set[tuple]:
    """(county, day) pairs among `days` that the counties of `batches` have closed (日清). Results are then booked
    on today; when today is closed too, the import is refused (nothing applied) until the next day."""
    counties = {_county(batch) for batch in batches} - {None}
    if not counties:
        return set()
    for county in sorted(counties):
        require_day_open(county, today)
    return set(DailyClose.objects.filter(region_id__in=counties, day__in=sorted(days))
               .values_list("region_id", "day"))


def _county(batch: PaymentBatch) -> str | None:
    return county_of(batch.region_id)


def _lock_batches(actor: Scope, bank: Organization | None, numbers: dict[str, int]) -> dict:
    """Resolve the batch numbers of the import, lock the batches this import may act on (id order, so two
    imports never wait on each other in a circle) and say why the others are not applied."""
    found = dict(PaymentBatch.objects.filter(number__in=list(numbers)).values_list("number", "pk"))
    locked = {b.pk: b for b in PaymentBatch.objects.select_for_update(of=("self",)).select_related("bank", "plan")
              .filter(pk__in=sorted(found.values())).order_by("pk")}
    rows, usable = [], {}
    for number in numbers:
        batch = locked.get(found.get(number))
        if batch is None:
            continue
        disp, msg = _batch_refusal(actor, bank, batch)
        rows.append((number, batch.pk, batch.plan_id, batch.indicator_id or batch.plan.indicator_id, disp, msg,
                     _county(batch)))
        if disp is None:
            usable[batch.pk] = batch
    return {"rows": rows, "batches": usable}


def _batch_refusal(actor: Scope, bank: Organization | None, batch: PaymentBatch) -> tuple[str | None, str | None]:
    if bank is not None and batch.bank_id != bank.pk:
        if actor.own_org_only:
            return LineDisposition.WRONG_BANK, f"批次 {batch.number} 不是本行代发的批次，不能提交其回盘结果"
        return LineDisposition.WRONG_BANK, f"批次 {batch.number} 的代发银行是{batch.bank.name}，不是{bank.name}"
    if not actor.own_org_only and (not actor.covers_region(batch.region_id) or (
            not actor.sees_all_lines and actor.business_line != batch.business_line)):
        return LineDisposition.UNKNOWN_ITEM, f"批次 {batch.number} 不在您的管辖范围内"
    if batch.status == BatchStatus.PREPARED:
        return LineDisposition.CONFLICT, f"批次 {batch.number} 尚未发送银行，不能回盘"
    if batch.status not in RESULT_STATUSES:
        return LineDisposition.CONFLICT, f"批次 {batch.number} 已撤销，不能回盘"
    return None, None


def _apply(actor: Scope, ri: ResultImport, stage: Stage, counts: dict, batches: dict, today: dt.date) -> None:
    applied = counts["paid"][0] + counts["failed"][0]
    now = clock.now()
    applied_batch_ids = sorted(stage.applied_batches())
    plans = {}
    for plan_id in sorted({batches["batches"][b].plan_id for b in applied_batch_ids}):
        plans[plan_id] = lock_plan(plan_id)
    n = stage.apply_attempts(_db_id(ri.pk))
    if n != applied:
        raise RuntimeError(f"result import {ri.pk}: {n} attempts updated, {applied} expected")
    step("attempts")
    n = stage.apply_items(correction_deadline=deadline(workflow.FAILURE_CORRECTION, today), now=now)
    if n != applied:
        _refuse_item_not_sending(stage, now)
    step("items")
    stage.book_entries(_db_id(ri.pk), now=now, actor=actor.username[:150])
    step("entries")
    _return_to_indicators(actor, ri, stage, plans)
    step("indicators")
    for batch_id in applied_batch_ids:
        _settle_batch(actor, batches["batches"][batch_id], today)
    for plan in plans.values():
        _settle_plan(actor, plan)
    step("done")


def _refuse_item_not_sending(stage: Stage, now) -> None:
    """An applied result whose item was not `sending` (already paid by another attempt, or two results for one
    item): never a second credit — the whole import is refused (the transaction rolls back), naming the lines."""
    lines = stage.lines_of_items_not_taken(now=now)
    shown = "、".join(str(n) for n in lines[:5]) + ("等" if len(lines) > 5 else "")
    raise DomainError(f"第 {shown} 行：该明细已不在“发放中”状态（已由另一笔发放记录入账，或同一明细有两笔结果），"
                      "为防止重复入账，本次回盘未入账任何结果：请核查该明细的发放记录后重新导入。", code="paid_twice")


def _return_to_indicators(actor: Scope, ri: ResultImport, stage: Stage, plans: dict) -> None:
    """One indicator return per plan (and indicator) for the failed money of this import."""
    from yikatong.policies.services.indicators import indicator_return

    for plan_id, indicator_id, fen_total, book_day in stage.failed_by_plan():
        plan = plans[plan_id]
        indicator_id = indicator_id or plan.indicator_id
        if not indicator_id or not fen_total:
            continue
        if isinstance(book_day, str):
            book_day = dt.date.fromisoformat(book_day)
        platform = Scope.system(plan.region_id, reason=actor.username)  # the platform books it for the import
        indicator_return(actor=platform, indicator_id=indicator_id, amount=from_fen(int(fen_total)),
                         ref_type="payment_plan", ref_id=plan.number, on=book_day,
                         note=f"回盘导入 {str(ri.pk)[:8]} 发放失败资金退回")


def _settle_batch(actor: Scope, batch: PaymentBatch, today: dt.date) -> None:
    """Counters recomputed by the database from the attempts; partial or completed."""
    before = {"status": batch.status, "paid_count": batch.paid_count, "failed_count": batch.failed_count}
    by_status = {row["status"]: (row["n"], from_fen(int(row["fen"] or 0))) for row in
                 PaymentAttempt.objects.filter(batch_id=batch.pk).values("status")
                 .annotate(n=Count("pk"), fen=Sum(fen_of())).order_by()}  # one pass over the batch
    batch.paid_count, batch.paid_amount = by_status.get("paid", (0, ZERO))
    batch.failed_count, batch.failed_amount = by_status.get("failed", (0, ZERO))
    open_left = "sent" in by_status
    action = "partial" if open_left else "complete"
    tr = workflow.batch_transition(action, batch.status)
    batch.status = tr.target
    fields = ["status", "paid_count", "paid_amount", "failed_count", "failed_amount"]
    if not open_left:
        batch.completed_on = today
        fields.append("completed_on")
    batch.save(update_fields=fields)
    audit.record(actor=actor, action=f"payment_batch.{action}", obj=batch, before=before,
                 after={"status": batch.status, "paid_count": batch.paid_count, "paid_amount": str(batch.paid_amount),
                        "failed_count": batch.failed_count, "failed_amount": str(batch.failed_amount)})


def _settle_plan(actor: Scope, plan) -> None:
    if plan.status != PlanStatus.PAYING:
        return
    if PaymentItem.objects.filter(plan_id=plan.pk, status__in=OPEN_ITEM_STATUSES).exists():
        return
    move_plan(actor, plan, "complete", reason="全部明细已发放或剔除")


def _after_commit(result_import_id) -> None:
    """Hooks of other concerns (SMS for credited items, publication records) once the results are committed."""
    try:
        from . import notices
    except ImportError:
        return
    hook = getattr(notices, "sms_queue_for_import", None)
    if hook is None:
        return
    try:
        hook(result_import_id)
    except Exception:  # noqa: BLE001 - the results are committed; a notice problem must not undo them
        log.exception("sms_queue_for_import failed for result import %s", result_import_id)


# -- review -----------------------------------------------------------------------------------------------
@transaction.atomic
def result_line_review(*, actor: Scope, line_id: int, note: str) -> ResultLine:
    """Close a stored (not applied) line with what was done about it (e.g. asked the bank, corrected)."""
    from ..selectors.results import result_imports_visible

    actor.require_write("payment.result")
    note = (note or "").strip()
    if not note:
        raise DomainError("请填写复核说明。", field="note")
    line = (ResultLine.objects.select_for_update(of=("self",)).select_related("result_import")
            .filter(pk=line_id, result_import__in=result_imports_visible(actor)).first())
    if line is None:
        raise DomainError("该回盘行不存在或不在您的管辖范围内。", code="not_found")
    if line.review == ResultLine.Review.CLOSED:
        raise DomainError("该回盘行已复核。", code="closed")
    line.review, line.reviewed_by, line.review_note = ResultLine.Review.CLOSED, actor.username[:150], note
    line.save(update_fields=["review", "reviewed_by", "review_note"])
    audit.record(actor=actor, action="payment_result.review", object_type="payments.resultline",
                 object_id=str(line.pk), region_code=line.result_import.file.region_id,
                 after={"line_no": line.line_no, "disposition": line.disposition, "note": note})
    return line
