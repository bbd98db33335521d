"""Shared-data sources (SPEC §3.5, §5.2): start and run an import, and read what is in force.

    imp = source_import_start(actor=scope, source="death", fileobj=f, original_name="死亡.csv")
    imp = source_import_run(source_import_id=imp.pk, progress=reporter)   # a task, or the CLI
    source_current("death")        # the SourceImport in force, or None
    source_rows("death")           # DeathRow queryset of the import in force

Who imports what (permission "source.import"): the administrator imports every source (acting for the
data-sharing exchange, which uses the API with a "data_sharing" credential); HR imports the social
security card source only. A credential acts with the role of its organization's kind.

An import keeps its original file (core.services.files), its data date, row counts and the refusals of
single rows; it is either put in force as a whole (the previous import is superseded) or fails and
changes nothing. One audit event ("source.import") per import, written when it ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import types
from contextlib import closing

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from yikatong.core import audit, clock
from yikatong.core.errors import DomainError
from yikatong.core.jobs import INTERNAL_ERROR_MESSAGE, no_progress
from yikatong.core.models import ApiCredential, Region, Role, User
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_abspath, file_store
from yikatong.core.tabular import open_table

from ..models import SOURCE_MODELS, SourceCode, SourceImport, SourceState, SscCardRow
from . import load
from .spec import SPECS, spec_for

log = logging.getLogger("yikatong.checks.sources")

CHANNELS = ("file", "api", "cli")
FILE_PURPOSE = "source-import"
# Sources each role may import (the administrator: all of them).
IMPORTABLE_BY_ROLE: dict[str, tuple[str, ...]] = {Role.HR: (SourceCode.SSC_CARD,)}


# -- who may import --------------------------------------------------------------------------------------
def importable_sources(actor: Scope) -> list[str]:
    """Source codes the actor may import (empty when none)."""
    if actor.read_only or not actor.can("source.import"):
        return []
    if actor.is_system or actor.role == Role.ADMIN:
        return list(SPECS)
    return [str(code) for code in IMPORTABLE_BY_ROLE.get(actor.role, ())]


def require_import(actor: Scope, source: str) -> None:
    actor.require_write("source.import")
    spec = spec_for(source)
    if source not in importable_sources(actor):
        from yikatong.core.errors import ScopeError

        raise ScopeError(f"无权导入“{spec.label}”数据：人社部门只能导入社保卡数据，其他数据源由系统管理员导入。")


def _clean_data_date(data_date) -> dt.date:
    today = clock.today()
    if data_date in (None, ""):
        return today
    if isinstance(data_date, str):
        try:
            data_date = dt.date.fromisoformat(data_date.strip())
        except ValueError:
            raise DomainError(f"数据日期“{data_date}”无效：应为 YYYY-MM-DD。", field="data_date") from None
    if isinstance(data_date, dt.datetime):
        data_date = data_date.date()
    if data_date > today:
        raise DomainError(f"数据日期 {data_date.isoformat()} 晚于今天：请填写数据的截止日期。", field="data_date")
    return data_date


def _file_region(actor: Scope) -> str:
    if actor.region_code:
        return actor.region_code
    top = Region.objects.filter(parent__isnull=True).order_by("code").values_list("code", flat=True).first()
    if top is None:
        raise DomainError("平台尚未导入行政区划，无法保存导入文件：请先导入行政区划。")
    return top


# -- writes --------------------------------------------------------------------------------------------------
def source_import_start(*, actor: Scope, source: str, fileobj, original_name: str, data_date=None,
                        channel: str = "file") -> SourceImport:
    """Keep the file and record an import of `source` (status "loading"); nothing is in force yet.
    Run it with `source_import_run` (a background task via tasks_sources.source_import_enqueue, or
    the CLI)."""
    require_import(actor, source)
    if channel not in CHANNELS:
        raise DomainError(f"来源渠道“{channel}”无效：应为 {'、'.join(CHANNELS)}。", field="channel")
    data_date = _clean_data_date(data_date)
    if fileobj is None:
        raise DomainError("请选择要导入的文件。", field="file")
    stored = file_store(actor=actor, fileobj=fileobj, original_name=original_name or f"{source}.csv",
                        purpose=FILE_PURPOSE, region_code=_file_region(actor))
    return SourceImport.objects.create(source=source, file=stored, channel=channel, data_date=data_date,
                                       created_by=actor.username[:150])


def source_import_run(*, source_import_id, progress=no_progress) -> SourceImport:
    """Load the import's file, refuse bad rows, and put it in force (or fail and change nothing).

    A whole-file refusal (headers, empty, encoding, damaged file) or a file without a single good row
    ends the import as failed with the reason; the import in force stays. An unexpected error does the
    same and is raised again after cleaning up. Running an import that has already ended returns it."""
    imp = SourceImport.objects.select_related("file").get(pk=source_import_id)
    if imp.status != SourceImport.Status.LOADING:
        return imp
    loader = load.Loader(imp)
    try:
        _load(imp, loader, progress)
    except _Refused as exc:
        return _fail(imp, loader, exc.message, keep_errors=True)
    except DomainError as exc:
        return _fail(imp, loader, exc.message)
    except BaseException:
        _fail(imp, loader, INTERNAL_ERROR_MESSAGE)
        raise
    _after_switch(imp)
    return imp


class _Refused(DomainError):
    """The file was read but nothing in it can be used: the row refusals stay as the report."""


def _load(imp: SourceImport, loader: load.Loader, progress) -> None:
    spec = SPECS[imp.source]
    path = file_abspath(imp.file)
    rows = loaded = 0
    with open(path, "rb") as fileobj, open_table(fileobj, required=spec.columns) as table:
        total = table.size_hint
        progress(0, total)
        ctx = loader.context(imp.data_date or clock.today())
        loader.create_stage()
        try:
            chunks = load.read_chunks(table, fileobj, spec)
            # closing(): the reader thread and the worker pool stop before the file is closed, also on error
            with closing(load.parsed_chunks(imp.source, chunks, ctx, load.worker_count())) as results:
                for result in results:
                    loader.write(result)
                    rows += result.rows
                    loaded += result.loaded
                    progress(rows, total)
            if rows == 0:
                raise DomainError("文件中没有数据行（只有表头）：未替换现有数据。")
            duplicates = loader.reject_duplicates()
            accepted = loader.publish() if loaded > duplicates else 0
        finally:
            loader.drop_stage()
    if accepted != loaded - duplicates:
        raise RuntimeError(f"published {accepted} rows, expected {loaded - duplicates}")
    progress(rows, rows)
    imp.total_rows, imp.accepted, imp.rejected = rows, accepted, rows - accepted
    if accepted == 0:
        raise _Refused(f"全部 {rows} 行均被拒绝，未替换现有数据：请按拒绝原因改正后重新导入。")
    imp.message = f"共 {rows} 行：导入 {accepted} 行，拒绝 {rows - accepted} 行" + (
        f"（其中文件内重复 {duplicates} 行）" if duplicates else "") + "。"

    def record(previous: SourceImport | None) -> None:
        after = _snapshot(imp)
        after["previous_import"] = str(previous.pk) if previous else None
        audit.record(actor=_actor_of(imp), action="source.import", obj=imp, region_code=imp.file.region_id,
                     after=after)

    previous = load.switch(imp, on_switch=record)
    if previous is not None:
        imp.message += f"已替换此前生效的导入（{previous.data_date or ''} 数据，{previous.accepted} 行）。"
        SourceImport.objects.filter(pk=imp.pk).update(message=imp.message)


def _fail(imp: SourceImport, loader: load.Loader, message: str, *, keep_errors: bool = False) -> SourceImport:
    try:
        with transaction.atomic():
            if keep_errors:
                load.delete_import_rows(imp)
            else:
                loader.delete_rows()
                imp.rejected = imp.accepted = 0
            imp.status = SourceImport.Status.FAILED
            imp.message = message
            imp.finished_at = clock.now()
            imp.save(update_fields=["status", "message", "finished_at", "total_rows", "accepted", "rejected"])
            audit.record(actor=_actor_of(imp), action="source.import", obj=imp, region_code=imp.file.region_id,
                         after=_snapshot(imp))
    except Exception:  # noqa: BLE001 - never hide the original error behind a cleanup error
        log.exception("source import %s: cleaning up after a failure failed", imp.pk)
    return imp


def _after_switch(imp: SourceImport) -> None:
    """What follows a switch and may fail without undoing it: the card refresh and the purge."""
    if imp.source == SourceCode.SSC_CARD:
        try:
            counts = _refresh_cards(imp)
        except DomainError as exc:
            counts, note = None, f"收款账户社保卡状态未刷新：{exc.message}"
        except Exception:  # noqa: BLE001 - the import is in force; the refresh can be repeated
            log.exception("source import %s: card status refresh failed", imp.pk)
            counts, note = None, "收款账户社保卡状态未刷新：内部错误，已记录日志。"
        else:
            note = "" if counts is None else (
                f"收款账户社保卡状态：匹配 {counts['matched']} 个账户，其中状态变化 {counts['updated']} 个；"
                f"{counts['unmatched']} 行未找到对应的社保卡收款账户。")
        if note:
            imp.message += note
            SourceImport.objects.filter(pk=imp.pk).update(message=imp.message)
        imp.card_refresh = counts
    try:
        load.reap_interrupted(imp.source)
        load.purge(imp.source)
    except Exception:  # noqa: BLE001 - purging is housekeeping; the next import retries it
        log.exception("source import %s: purge of superseded rows failed", imp.pk)


def _refresh_cards(imp: SourceImport) -> dict | None:
    """Card statuses of matching payee accounts from this import (registry.card_status_refresh_bulk,
    set-based), within the importer's region. Runs while holding the source's state row, and only if
    this import is still the one in force — a later import's own refresh then applies after it."""
    from yikatong.registry.models import AccountKind, PayeeAccount
    from yikatong.registry.services import card_status_refresh_bulk

    actor = Scope.system(imp.file.region_id, reason=imp.created_by or "source-import")
    with transaction.atomic():
        state = SourceState.objects.select_for_update().get(source=imp.source)
        if state.current_import_id != imp.pk:
            return None
        # Only card rows that are some beneficiary's active card account go to the refresh (one semi-join):
        # most card holders receive no subsidy, and the refresh handles its rows a thousand at a time.
        payee = PayeeAccount.objects.filter(is_active=True, kind=AccountKind.SSC_CARD,
                                            account_digest=OuterRef("account_digest"),
                                            beneficiary__id_digest=OuterRef("id_digest"))
        rows = (SscCardRow.objects.filter(source_import_id=imp.pk).filter(Exists(payee)).order_by()
                .values_list("id_digest", "account_digest", "card_status").iterator(chunk_size=2000))
        counts = card_status_refresh_bulk(actor=actor, rows=rows, source=f"ssc_card:{imp.pk}")
    others = imp.accepted - counts["rows"]
    counts["rows"] += others
    counts["unmatched"] += others
    return counts


def _snapshot(imp: SourceImport) -> dict:
    return {
        "source": imp.source, "status": imp.status, "channel": imp.channel,
        "data_date": imp.data_date.isoformat() if imp.data_date else None,
        "file_id": str(imp.file_id) if imp.file_id else None,
        "file_name": imp.file.original_name if imp.file_id else "",
        "total_rows": imp.total_rows, "accepted": imp.accepted, "rejected": imp.rejected,
        "message": imp.message,
    }


def _actor_of(imp: SourceImport):
    """Who started the import, for its audit event (the run itself happens in a task)."""
    username = imp.created_by
    user = User.objects.select_related("organization").filter(username=username).first()
    if user is not None:
        return types.SimpleNamespace(user_id=user.pk, username=username,
                                     organization_code=user.organization.code if user.organization else "")
    org_code = ""
    if username.startswith("apikey:"):
        cred = ApiCredential.objects.select_related("organization").filter(
            key_prefix=username.removeprefix("apikey:")).first()
        org_code = cred.organization.code if cred else ""
    return types.SimpleNamespace(user_id=None, username=username, organization_code=org_code)


# -- reads (for the rule engine and the pages) ----------------------------------------------------------
def source_current(source: str) -> SourceImport | None:
    """The import of `source` in force, or None when the source was never imported."""
    spec_for(source)
    state = SourceState.objects.select_related("current_import").filter(source=source).first()
    return state.current_import if state else None


def source_rows(source: str, *, import_id=None) -> QuerySet:
    """Rows of the import in force (or of `import_id`), e.g. `source_rows("death").filter(id_digest=d)`.

    Without `import_id` the current import is looked up when the queryset is evaluated; a reader that
    runs several queries should pin one import: `source_rows(s, import_id=source_current(s).pk)`."""
    spec_for(source)
    model = SOURCE_MODELS[source]
    if import_id is not None:
        return model.objects.filter(source_import_id=import_id)
    current = SourceState.objects.filter(source=source, current_import__isnull=False).values("current_import_id")
    return model.objects.filter(source_import_id__in=current)
