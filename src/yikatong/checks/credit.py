"""The credit list (信用名单, SPEC §3.8): persons flagged for review or blocked from applying (rule R16).

Writes (permission "credit.manage": admin, finance), each audited, within the actor's region:
    credit_add(actor=…, id_number=…, name=…, severity="flag"|"block", reason=…, region_code=…, valid_from=…)
    credit_lift(actor=…, entry_id=…, reason=…)       # entries are never deleted, only lifted
    credit_import(actor=…, fileobj=…, original_name=…, region_code=…)   # CSV/XLSX, see IMPORT_HEADERS
Reads (permission "credit.view": admin, finance, supervisor, department), scoped to the reader's region:
    credit_entries(scope, state="active"|"lifted"|"all", q="")
    credit_entry_get(scope, pk)
For the rule engine (no scope: the platform's own check):
    credit_entries_in_force(on=date, id_digests=[…])

A person has at most one unlifted entry per region whose validity overlaps another: adding a second one
is refused, re-importing the same file adds nothing. ID numbers are stored encrypted with their digest
(core.crypto) and shown masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet

from yikatong.core import audit, clock, crypto, identity, masking
from yikatong.core.errors import DomainError
from yikatong.core.models import Region, StoredFile
from yikatong.core.regions import RegionCodeError, normalize_code
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store
from yikatong.core.tabular import open_table

from .models import CreditListEntry

Severity = CreditListEntry.Severity
SEVERITY_BY_LABEL = {str(label): value for value, label in Severity.choices}
ID, NAME, REASON, SEVERITY, VALID_FROM, VALID_TO = "身份证号", "姓名", "列入原因", "限制类型", "有效期起", "有效期止"
IMPORT_HEADERS = (ID, NAME, REASON, SEVERITY, VALID_FROM, VALID_TO)
IMPORT_REQUIRED = (ID, NAME, REASON, SEVERITY, VALID_FROM)
MAX_IMPORT_ROWS = 100_000
FILE_PURPOSE = "credit-import"


# -- cleaning (shared by the form, the import and the API) ------------------------------------------------
def _severity(value) -> str:
    text = (value or "").strip()
    if text in Severity.values:
        return text
    if text in SEVERITY_BY_LABEL:
        return SEVERITY_BY_LABEL[text]
    raise DomainError(f"限制类型“{text}”无效：应为 提示复核 或 限制申领。", field="severity")


def _date(value, *, field_name: str, label: str, required: bool) -> dt.date | None:
    if value in (None, ""):
        if required:
            raise DomainError(f"请填写{label}（YYYY-MM-DD）。", field=field_name)
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip().replace("/", "-"))
    except ValueError:
        raise DomainError(f"{label}“{value}”不是有效日期：应为 YYYY-MM-DD。", field=field_name) from None


def _text(value, *, field_name: str, label: str, max_length: int) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(f"请填写{label}。", field=field_name)
    if len(text) > max_length:
        raise DomainError(f"{label}过长：最多 {max_length} 个字符。", field=field_name)
    return text


@dataclass(frozen=True)
class _Entry:
    id_number: str
    name: str
    severity: str
    reason: str
    valid_from: dt.date
    valid_to: dt.date | None


def _clean(*, id_number, name, severity, reason, valid_from, valid_to) -> _Entry:
    try:
        number = identity.validate_resident_id(id_number).number
    except identity.IdentityError as exc:
        raise DomainError(exc.message, field="id_number") from None
    start = _date(valid_from, field_name="valid_from", label="有效期起", required=True)
    end = _date(valid_to, field_name="valid_to", label="有效期止", required=False)
    if end is not None and end < start:
        raise DomainError(f"有效期止 {end.isoformat()} 早于有效期起 {start.isoformat()}。", field="valid_to")
    return _Entry(
        id_number=number,
        name=_text(name, field_name="name", label="姓名", max_length=100),
        severity=_severity(severity),
        reason=_text(reason, field_name="reason", label="列入原因", max_length=300),
        valid_from=start,
        valid_to=end,
    )


def _region(actor: Scope, region_code) -> str:
    try:
        code = normalize_code((region_code or actor.region_code or "").strip())
    except RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code") from None
    if not Region.objects.filter(code=code).exists():
        raise DomainError(f"行政区划 {code} 不存在。", field="region_code")
    actor.require_region(code)
    return code


def _source(source: str) -> str:
    return _text(source, field_name="source", label="来源", max_length=50)


def _overlapping(region_code: str, digests: Iterable[str]) -> dict[str, CreditListEntry]:
    """Unlifted entries of these persons in the region (any validity), by digest: overlap is checked by
    the caller, since validities differ per entry."""
    found: dict[str, list[CreditListEntry]] = {}
    for entry in CreditListEntry.objects.filter(region_id=region_code, id_digest__in=list(digests),
                                                lifted_at__isnull=True):
        found.setdefault(entry.id_digest, []).append(entry)
    return found


def _clash(entries: list[CreditListEntry], start: dt.date, end: dt.date | None) -> CreditListEntry | None:
    for entry in entries:
        if (entry.valid_to is None or entry.valid_to >= start) and (end is None or entry.valid_from <= end):
            return entry
    return None


def _clash_message(entry: CreditListEntry) -> str:
    until = entry.valid_to.isoformat() if entry.valid_to else "长期"
    return (f"该人员已在本区划的信用名单中（第 {entry.pk} 号，{entry.get_severity_display()}，"
            f"有效期 {entry.valid_from.isoformat()} 至 {until}）：如需调整，请先解除原记录。")


def snapshot(entry: CreditListEntry) -> dict:
    """The audited picture of an entry: masked ID and digest, never the number."""
    return {
        "id_masked": entry.id_masked, "id_digest": entry.id_digest, "name": masking.mask_name(entry.name),
        "severity": entry.severity, "reason": entry.reason, "source": entry.source, "region": entry.region_id,
        "valid_from": entry.valid_from, "valid_to": entry.valid_to,
        "lifted_at": entry.lifted_at, "lifted_reason": entry.lifted_reason,
    }


def _new(actor: Scope, entry: _Entry, region_code: str, source: str) -> CreditListEntry:
    blob, digest = crypto.protect("id", entry.id_number)
    return CreditListEntry(
        id_digest=digest, id_enc=blob, id_masked=masking.mask_id_number(entry.id_number), name=entry.name,
        severity=entry.severity, reason=entry.reason, source=source, region_id=region_code,
        valid_from=entry.valid_from, valid_to=entry.valid_to, created_by=actor.username[:150],
    )


def _lock_region(region_code: str) -> None:
    """Adds to one region's list serialize on its Region row, so two concurrent adds of one person cannot
    both pass the overlap check."""
    Region.objects.select_for_update().filter(code=region_code).values_list("code", flat=True).first()


# -- writes ---------------------------------------------------------------------------------------------
def credit_add(*, actor: Scope, id_number: str, name: str, severity: str, reason: str, region_code: str,
               valid_from, valid_to=None, source: str = "manual") -> CreditListEntry:
    """Put a person on the credit list of a region."""
    actor.require_write("credit.manage")
    region = _region(actor, region_code)
    cleaned = _clean(id_number=id_number, name=name, severity=severity, reason=reason,
                     valid_from=valid_from, valid_to=valid_to)
    source = _source(source)
    with transaction.atomic():
        _lock_region(region)
        entry = _new(actor, cleaned, region, source)
        clash = _clash(_overlapping(region, [entry.id_digest]).get(entry.id_digest, []),
                       cleaned.valid_from, cleaned.valid_to)
        if clash is not None:
            raise DomainError(_clash_message(clash), field="id_number", code="duplicate")
        entry.save()
        audit.record(actor=actor, action="credit.add", obj=entry, after=snapshot(entry))
    return entry


def credit_lift(*, actor: Scope, entry_id, reason: str) -> CreditListEntry:
    """Lift an entry (it stays on record with the time and the reason)."""
    actor.require_write("credit.manage")
    reason = _text(reason, field_name="reason", label="解除原因", max_length=300)
    with transaction.atomic():
        try:
            pk = int(entry_id)
        except (TypeError, ValueError):
            pk = None
        entry = CreditListEntry.objects.select_for_update().filter(pk=pk).first() if pk is not None else None
        if entry is None or not actor.covers_region(entry.region_id):
            raise DomainError("信用名单记录不存在或不在您的管辖范围内。", code="not_found")
        if entry.lifted_at is not None:
            raise DomainError(f"该记录已于 {clock_text(entry.lifted_at)} 解除，不能重复解除。", code="lifted")
        before = snapshot(entry)
        entry.lifted_at = clock.now()
        entry.lifted_reason = reason
        entry.save(update_fields=["lifted_at", "lifted_reason"])
        audit.record(actor=actor, action="credit.lift", obj=entry, before=before, after=snapshot(entry),
                     reason=reason)
    return entry


def clock_text(moment: dt.datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


@dataclass
class CreditImportResult:
    file: StoredFile
    region_code: str
    rows: int = 0
    added: int = 0
    errors: list[tuple[int, str, str, str]] = field(default_factory=list)  # row, column, value, reason

    @property
    def rejected(self) -> int:
        return len({row for row, *_ in self.errors})

    def summary(self) -> str:
        return f"共 {self.rows} 行：列入 {self.added} 人，拒绝 {self.rejected} 行。"


_FIELD_COLUMNS = {"id_number": ID, "name": NAME, "reason": REASON, "severity": SEVERITY,
                  "valid_from": VALID_FROM, "valid_to": VALID_TO}


def credit_import(*, actor: Scope, fileobj, original_name: str, region_code: str | None = None,
                  source: str = "import") -> CreditImportResult:
    """Add the rows of a CSV/XLSX file (headers IMPORT_HEADERS; 有效期止 may be empty) to the region's list.

    Every row is either added or reported with its reason (bad ID, missing reason, unknown type, bad
    dates, repeated in the file, already listed); good rows are added even when others are refused. The
    original file is kept; one audit event for the whole import."""
    actor.require_write("credit.manage")
    region = _region(actor, region_code)
    source = _source(source)
    stored = file_store(actor=actor, fileobj=fileobj, original_name=original_name or "credit.csv",
                        purpose=FILE_PURPOSE, region_code=region)
    result = CreditImportResult(file=stored, region_code=region)
    fileobj.seek(0)
    candidates: list[tuple[int, _Entry, str]] = []  # (row, entry, digest)
    first_row: dict[str, int] = {}
    with open_table(fileobj, required=IMPORT_REQUIRED, optional=(VALID_TO,)) as table:
        for number, row in table:
            result.rows += 1
            if result.rows > MAX_IMPORT_ROWS:
                raise DomainError(f"文件超过 {MAX_IMPORT_ROWS} 行：请分成几个文件导入。")
            try:
                entry = _clean(id_number=row[ID], name=row[NAME], severity=row[SEVERITY], reason=row[REASON],
                               valid_from=row[VALID_FROM], valid_to=row[VALID_TO])
            except DomainError as exc:
                column = _FIELD_COLUMNS.get(exc.field or "", "")
                value = masking.mask_id_number(row[ID]) if column == ID else (row.get(column, "") or "")[:100]
                result.errors.append((number, column, value, exc.message))
                continue
            digest = crypto.digest("id", entry.id_number)
            if digest in first_row:
                result.errors.append((number, ID, masking.mask_id_number(entry.id_number),
                                      f"与第 {first_row[digest]} 行重复：同一人在一个文件中只能列入一次。"))
                continue
            first_row[digest] = number
            candidates.append((number, entry, digest))
    with transaction.atomic():
        _lock_region(region)
        existing = _overlapping(region, [digest for _, _, digest in candidates])
        new = []
        for number, entry, digest in candidates:
            clash = _clash(existing.get(digest, []), entry.valid_from, entry.valid_to)
            if clash is not None:
                result.errors.append((number, ID, masking.mask_id_number(entry.id_number), _clash_message(clash)))
                continue
            new.append(_new(actor, entry, region, source))
        CreditListEntry.objects.bulk_create(new, batch_size=1000)
        result.added = len(new)
        result.errors.sort()
        audit.record(actor=actor, action="credit.import", object_type="checks.creditlistentry",
                     object_id=str(stored.pk), region_code=region,
                     after={"file_id": str(stored.pk), "file_name": stored.original_name, "rows": result.rows,
                            "added": result.added, "rejected": result.rejected, "source": source})
    return result


# -- reads ----------------------------------------------------------------------------------------------
def credit_entries(scope: Scope, *, state: str = "active", q: str = "") -> QuerySet[CreditListEntry]:
    """Entries of the reader's region (and below); state "active" (not lifted), "lifted" or "all"; `q` a
    full ID number (looked up by digest) or part of a name."""
    scope.require("credit.view")
    qs = scope.filter(CreditListEntry.objects.select_related("region"), region_field="region_id")
    if state == "active":
        qs = qs.filter(lifted_at__isnull=True)
    elif state == "lifted":
        qs = qs.filter(lifted_at__isnull=False)
    q = (q or "").strip()
    if q:
        compact = identity.compact_resident_id(q)
        if len(compact) == 18 and compact[:17].isdigit():
            qs = qs.filter(id_digest=crypto.digest("id", compact))
        else:
            qs = qs.filter(name__contains=q)
    return qs.order_by("-created_at", "-pk")


def credit_entry_get(scope: Scope, pk) -> CreditListEntry:
    entry = credit_entries(scope, state="all").filter(pk=pk).first()
    if entry is None:
        raise DomainError("信用名单记录不存在或不在您的管辖范围内。", code="not_found")
    return entry


def credit_entries_in_force(*, on: dt.date, id_digests: Iterable[str] | None = None) -> QuerySet[CreditListEntry]:
    """Unlifted entries valid on `on` (for rule R16), optionally of some persons only."""
    qs = CreditListEntry.objects.filter(lifted_at__isnull=True, valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on))
    if id_digests is not None:
        qs = qs.filter(id_digest__in=list(id_digests))
    return qs
