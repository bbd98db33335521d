"""Regions: import of the official division list (CSV), and single edits (create, rename, deactivate).

Import policy — all or nothing. Reference data must never be half-written: a file is first read and
validated completely (pass 1, nothing written); if any row is rejected, nothing is imported and every
rejected row is reported (row number, column, reason). Only a clean file is written (pass 2), in one
transaction, in chunks of CHUNK_SIZE rows with set-based upserts. Rows may come in any order: the
foreign key to the parent is deferred to commit on SQLite and PostgreSQL, and every parent has been
checked to exist (in the file or in the database) before anything is written.

Memory: rows are streamed; only the set of codes seen (to find duplicates) and the set of parent codes
referenced are kept, as integers — a few tens of MB for the whole country (~700,000 divisions).
"""

import csv
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from yikatong.core import audit
from yikatong.core import regions as rules
from yikatong.core.errors import DomainError
from yikatong.core.models import Region
from yikatong.core.scope import Scope

CHUNK_SIZE = 5000
MAX_LISTED_ERRORS = 1000  # all errors are counted; this many are listed
NAME_MAX = Region._meta.get_field("name").max_length
FULL_NAME_MAX = Region._meta.get_field("full_name").max_length

# Accepted header names (compared after stripping and lower-casing) → our column.
HEADER_ALIASES = {
    "code": "code", "区划代码": "code", "行政区划代码": "code",
    "name": "name", "名称": "name", "区划名称": "name",
    "parent_code": "parent_code", "上级代码": "parent_code", "上级区划代码": "parent_code",
}
COLUMN_LABELS = {"code": "区划代码", "name": "名称", "parent_code": "上级代码"}
EXPECTED_HEADERS = "code,name,parent_code 或 区划代码,名称,上级代码"
NOT_UTF8 = "文件不是 UTF-8 编码，请另存为 UTF-8 CSV（Excel：另存为 →“CSV UTF-8（逗号分隔）”）。"


@dataclass(frozen=True)
class RowError:
    row: int  # as in a spreadsheet: the header is row 1, the first data row is row 2
    column: str
    value: str
    reason: str


@dataclass
class RegionImportResult:
    source_name: str = ""
    file_error: str = ""  # the file was refused as a whole (headers, encoding, empty)
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)  # at most MAX_LISTED_ERRORS, by row
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.file_error and not self.error_count

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)

    def summary(self) -> str:
        if self.file_error:
            return f"导入被拒绝：{self.file_error}"
        if self.error_count:
            return (f"导入被拒绝：共 {self.rows} 行，其中 {self.error_count} 处错误。"
                    "为保证区划数据完整，本次未写入任何数据，请更正后重新导入整个文件。")
        return (f"导入完成：共 {self.rows} 行，新增 {self.created} 个，更新 {self.updated} 个，"
                f"未变化 {self.unchanged} 个，用时 {self.seconds:.1f} 秒。")


@dataclass(frozen=True)
class _Row:
    number: int
    code: str
    name: str
    level: int
    parent: str | None


class _FileRefused(Exception):
    pass


# -- reading ----------------------------------------------------------------------------------------
@contextmanager
def _binary_source(path_or_file) -> Iterator[io.IOBase]:
    """A seekable binary stream over a path, an uploaded file or any file object."""
    if isinstance(path_or_file, (str, os.PathLike)):
        try:
            with open(path_or_file, "rb") as fh:
                yield fh
        except FileNotFoundError as exc:
            raise _FileRefused(f"文件不存在：{path_or_file}") from exc
        return
    source = path_or_file
    if isinstance(source, io.TextIOBase):  # already text: encode back so one code path reads it
        source = io.BytesIO(source.read().encode("utf-8"))
    elif not (hasattr(source, "seekable") and source.seekable()):
        spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        shutil.copyfileobj(source, spooled)
        source = spooled
    yield source


def _records(stream) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
    """Yield (row number, values by column, header text by column) for each non-blank data row."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = None
        for cells in reader:
            if any(c.strip() for c in cells):
                header = cells
                break
        if header is None:
            raise _FileRefused("文件为空：没有表头，也没有数据行。")
        columns = _columns(header)
        labels = {col: header[i].strip() for col, i in columns.items()}
        number = 1
        for cells in reader:
            number += 1
            if not any(c.strip() for c in cells):
                continue
            yield number, {col: (cells[i].strip() if i < len(cells) else "") for col, i in columns.items()}, labels
    except UnicodeDecodeError as exc:
        raise _FileRefused(NOT_UTF8) from exc
    except csv.Error as exc:
        raise _FileRefused(f"文件不是有效的 CSV 文本（第 {reader.line_num} 行附近：{exc}）。") from exc
    finally:
        text.detach()  # leave the caller's stream open


def _columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        col = HEADER_ALIASES.get(cell.strip().lower())
        if col is None:
            continue  # extra columns are ignored
        if col in columns:
            raise _FileRefused(f"表头中“{COLUMN_LABELS[col]}”列出现了两次（“{header[columns[col]]}”和“{cell}”）。")
        columns[col] = i
    missing = [COLUMN_LABELS[c] for c in ("code", "name") if c not in columns]
    if missing:
        found = ",".join(h.strip() for h in header)
        raise _FileRefused(f"表头缺少“{'”“'.join(missing)}”列：第一行应为 {EXPECTED_HEADERS}，实际为“{found}”。")
    return columns


def _parse(number: int, values: dict, labels: dict, scope: Scope) -> tuple[_Row | None, list[RowError]]:
    """Validate one row on its own (codes, name, level, parent prefix, scope)."""
    errors: list[RowError] = []

    def bad(col: str, reason: str) -> None:
        errors.append(RowError(number, labels.get(col, COLUMN_LABELS[col]), values.get(col, ""), reason))

    raw_code, name, raw_parent = values["code"], values["name"], values.get("parent_code", "")
    code = level = None
    if not raw_code:
        bad("code", "区划代码不能为空。")
    else:
        try:
            code = rules.normalize_code(raw_code)
            level = rules.level_of(code)
        except rules.RegionCodeError as exc:
            code = None
            bad("code", str(exc))
    if code and not scope.covers_region(code):
        bad("code", f"区划 {code} 不在您的管辖范围内，不能导入。")
    if not name:
        bad("name", "名称不能为空。")
    elif len(name) > NAME_MAX:
        bad("name", f"名称过长：最多 {NAME_MAX} 个字符，实际 {len(name)} 个。")
    elif not name.isprintable():
        bad("name", "名称含有换行、制表符等不可见字符，请删除后重新导入。")
    parent = None
    if code:
        if raw_parent:
            try:
                parent = rules.normalize_code(raw_parent)
                rules.level_of(parent)
            except rules.RegionCodeError as exc:
                parent = None
                bad("parent_code", f"上级代码无效：{exc}")
            else:
                if level == rules.PROVINCE:
                    bad("parent_code", "省级区划不能有上级代码，请留空。")
                elif not rules.is_proper_ancestor(parent, code):
                    bad("parent_code", f"上级代码 {parent} 与区划代码 {code} 不一致：上级代码必须是本级代码的前缀"
                                       f"（如 {rules.parent_code_of(code)}）。")
        else:
            parent = rules.parent_code_of(code)
    if errors:
        return None, errors
    return _Row(number, code, name, level, parent), []


# -- import -----------------------------------------------------------------------------------------
def region_import_csv(
    *, actor: Scope, path_or_file, source_name: str = "",
    progress: Callable[[str, int], None] | None = None,
) -> RegionImportResult:
    """Import (insert or update) regions from a CSV file; all or nothing. See the module docstring.

    Returns the result; a refused file (`result.ok` False) changed nothing. `progress(phase, rows)` is
    called every CHUNK_SIZE rows with phase "check" or "write".
    """
    actor.require_write("region.manage")
    started = time.monotonic()
    if not source_name and isinstance(path_or_file, (str, os.PathLike)):
        source_name = Path(path_or_file).name
    source_name = source_name or getattr(path_or_file, "name", "") or ""
    result = RegionImportResult(source_name=str(source_name))
    try:
        with _binary_source(path_or_file) as stream:
            _check_file(stream, actor, result, progress)
            if result.ok:
                _write_file(stream, actor, result, progress)
    except _FileRefused as exc:
        result.file_error = str(exc)
        result.created = result.updated = result.unchanged = 0
    result.errors.sort(key=lambda e: (e.row, e.column))
    result.seconds = time.monotonic() - started
    _audit_import(actor, result, path_or_file)
    return result


def _check_file(stream, scope: Scope, result: RegionImportResult, progress) -> None:
    seen: set[int] = set()
    duplicated: set[int] = set()
    parents: set[int] = set()

    def add_error(err: RowError) -> None:
        result.error_count += 1
        if len(result.errors) < MAX_LISTED_ERRORS:
            result.errors.append(err)

    for number, values, labels in _records(stream):
        result.rows += 1
        row, errors = _parse(number, values, labels, scope)
        for err in errors:
            add_error(err)
        if row is not None:
            key = int(row.code)
            if key in seen:
                duplicated.add(key)
            else:
                seen.add(key)
            if row.parent:
                parents.add(int(row.parent))
        if progress and result.rows % CHUNK_SIZE == 0:
            progress("check", result.rows)
    if result.rows == 0:
        raise _FileRefused("文件没有数据行：表头下面至少要有一行区划。")
    missing = _missing_in_database({p for p in parents if p not in seen})
    if not (duplicated or missing):
        return
    # Second look, only for a file already rejected: name the rows behind duplicates and missing parents.
    first_row: dict[int, int] = {}
    for number, values, labels in _records(stream):
        row, errors = _parse(number, values, labels, scope)
        if row is None:
            continue
        key = int(row.code)
        if key in duplicated:
            if key in first_row:
                add_error(RowError(number, labels["code"], values["code"],
                                   f"区划代码 {row.code} 在文件中重复：与第 {first_row[key]} 行相同，每个代码只能出现一次。"))
            else:
                first_row[key] = number
        if row.parent and int(row.parent) in missing:
            col = "parent_code" if values.get("parent_code") else "code"
            add_error(RowError(number, labels.get(col, COLUMN_LABELS[col]), values.get(col, ""),
                               f"上级区划 {row.parent} 不存在：文件和系统中都没有该区划，请在文件中加入上级区划或更正代码。"))


def _missing_in_database(codes: set[int]) -> set[int]:
    missing = set(codes)
    ordered = sorted(codes)
    for i in range(0, len(ordered), CHUNK_SIZE):
        chunk = [str(c).zfill(12) for c in ordered[i:i + CHUNK_SIZE]]
        for code in Region.objects.filter(code__in=chunk).values_list("code", flat=True):
            missing.discard(int(code))
    return missing


def _write_file(stream, scope: Scope, result: RegionImportResult, progress) -> None:
    written = 0
    with transaction.atomic():
        chunk: list[_Row] = []
        for number, values, labels in _records(stream):
            row, errors = _parse(number, values, labels, scope)
            if row is None:  # the file changed under us; refuse rather than half-import
                raise _FileRefused("文件在导入过程中被修改，请重新上传。")
            chunk.append(row)
            if len(chunk) == CHUNK_SIZE:
                _upsert(chunk, result)
                written += len(chunk)
                chunk = []
                if progress:
                    progress("write", written)
        if chunk:
            _upsert(chunk, result)
        if result.created or result.updated:
            refresh_full_names()


def _upsert(rows: list[_Row], result: RegionImportResult) -> None:
    existing = _existing([r.code for r in rows])
    changed = []
    for r in rows:
        before = existing.get(r.code)
        if before is None:
            result.created += 1
        elif before == (r.name, r.level, r.parent):
            result.unchanged += 1
            continue
        else:
            result.updated += 1
        changed.append((r.code, r.name, r.level, r.parent))
    # Parents first, so that a row whose parent is already in the table gets its full name at once;
    # the others (child before parent in the file) are completed by refresh_full_names().
    changed.sort(key=lambda r: r[2])
    for _level, group in groupby(changed, key=lambda r: r[2]):
        _upsert_rows(list(group))


def _existing(codes: list[str]) -> dict[str, tuple]:
    """(name, level, parent) of the rows among `codes` already in the table, locked for the import."""
    table = connection.ops.quote_name(Region._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one array parameter instead of thousands
            cursor.execute(f"SELECT code, name, level, parent_id FROM {table} WHERE code = ANY(%s) FOR UPDATE",
                           [codes])
            found = cursor.fetchall()
        else:
            found = Region.objects.filter(code__in=codes).values_list("code", "name", "level", "parent_id")
    return {code: (name, level, parent) for code, name, level, parent in found}


def _upsert_rows(rows: list[tuple]) -> None:
    """Insert or update (code, name, level, parent_id) rows, one statement per chunk and level.

    Existing rows keep `active`; new rows start active. full_name is taken from the parent when the
    parent is already in the table (refresh_full_names() completes the rest)."""
    table = connection.ops.quote_name(Region._meta.db_table)
    conflict = ("ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, "
                "parent_id = excluded.parent_id, full_name = excluded.full_name")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Four array parameters instead of 4 × 5,000 scalars: one short statement.
            codes, names, levels, parents = (list(col) for col in zip(*rows, strict=True))
            cursor.execute(
                f"INSERT INTO {table} (code, name, level, parent_id, full_name, active) "
                f"SELECT t.c, t.n, t.l, t.p, SUBSTR(COALESCE(p.full_name || '/', '') || t.n, 1, {FULL_NAME_MAX}), TRUE "
                "FROM unnest(%s::varchar[], %s::varchar[], %s::smallint[], %s::varchar[]) AS t(c, n, l, p) "
                f"LEFT JOIN {table} p ON p.code = t.p {conflict}",
                [codes, names, levels, parents],
            )
        else:
            # SQLite allows few parameters per statement; a prepared executemany is as fast there.
            # ("WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.)
            cursor.executemany(
                f"INSERT INTO {table} (code, name, level, parent_id, full_name, active) "
                f"SELECT %s, %s, %s, %s, SUBSTR(COALESCE((SELECT full_name FROM {table} WHERE code = %s) || '/', '') "
                f"|| %s, 1, {FULL_NAME_MAX}), 1 WHERE true {conflict}",
                [(c, n, lv, p, p, n) for c, n, lv, p in rows],
            )


def _audit_import(scope: Scope, result: RegionImportResult, path_or_file) -> None:
    after = {
        "source_name": result.source_name,
        "file": _file_label(path_or_file),
        "rows": result.rows,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "error_count": result.error_count,
        "file_error": result.file_error,
    }
    with transaction.atomic():
        audit.record(
            actor=scope,
            action="region.import" if result.ok else "region.import_rejected",
            object_type="core.region",
            object_id=result.source_name[:64],  # the full name is in `after`
            region_code=scope.region_code,
            after=after,
        )


def _file_label(path_or_file) -> str:
    if not isinstance(path_or_file, (str, os.PathLike)):
        return ""
    path = Path(path_or_file).resolve()
    try:
        return str(path.relative_to(Path(settings.MEDIA_ROOT).resolve()))
    except ValueError:
        return str(path)


def store_import_file(upload, *, original_name: str = "") -> Path:
    """Keep the original file as received: MEDIA_ROOT/imports/regions/<timestamp>_<name>.

    `upload` is an uploaded file (Django UploadedFile), a binary file object or a path."""
    name = original_name or Path(getattr(upload, "name", "") or str(upload)).name or "regions.csv"
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = Path(settings.MEDIA_ROOT) / "imports" / "regions"
    folder.mkdir(parents=True, exist_ok=True)
    safe = Path(get_valid_filename(name) or "regions.csv")
    safe = safe.stem[:60] + safe.suffix[:10]  # file systems allow 255 bytes; a CJK character takes 3
    target = folder / f"{stamp}_{safe}"
    if isinstance(upload, (str, os.PathLike)):
        shutil.copyfile(upload, target)
        return target
    with open(target, "wb") as out:
        if hasattr(upload, "chunks"):
            for part in upload.chunks():
                out.write(part)
        else:
            shutil.copyfileobj(upload, out)
    return target


# -- full names ---------------------------------------------------------------------------------------
def refresh_full_names(lo: str = "000000000000", hi: str = "999999999999") -> int:
    """Recompute full_name ("重庆市/市辖区/万州区/…") for regions with codes in [lo, hi], level by level
    (parents first), writing only the rows whose full name changed. Returns the number of rows changed."""
    table = connection.ops.quote_name(Region._meta.db_table)
    computed = f"SUBSTR(p.full_name || '/' || c.name, 1, {FULL_NAME_MAX})"
    changed = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET full_name = name WHERE parent_id IS NULL AND code BETWEEN %s AND %s "
            f"AND full_name <> name", [lo, hi])
        changed += cursor.rowcount
        for level in range(rules.PREFECTURE, rules.VILLAGE + 1):
            cursor.execute(
                f"UPDATE {table} AS c SET full_name = {computed} FROM {table} AS p "
                f"WHERE p.code = c.parent_id AND c.level = %s AND c.code BETWEEN %s AND %s "
                f"AND c.full_name <> {computed}", [level, lo, hi])
            changed += cursor.rowcount
    return changed


# -- single edits -------------------------------------------------------------------------------------
def _clean_code(code: str, field: str = "code") -> str:
    try:
        code = rules.normalize_code(code)
        rules.level_of(code)
    except rules.RegionCodeError as exc:
        raise DomainError(str(exc), field=field) from exc
    return code


def _clean_name(name: str) -> str:
    text = (name or "").strip()
    if not text:
        raise DomainError("请填写区划名称。", field="name")
    if len(text) > NAME_MAX:
        raise DomainError(f"区划名称过长：最多 {NAME_MAX} 个字符，实际 {len(text)} 个。", field="name")
    if not text.isprintable():
        raise DomainError("区划名称含有换行、制表符等不可见字符。", field="name")
    return text


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise DomainError("请填写原因（如：民政部门批复文号）。", field="reason")
    return text


def _locked(code: str) -> Region:
    region = Region.objects.select_for_update().filter(code=code).first()
    if region is None:
        raise DomainError(f"区划 {code} 不存在。", field="code", code="not_found")
    return region


def region_snapshot(region: Region) -> dict:
    return {"code": region.code, "name": region.name, "level": region.level,
            "parent_code": region.parent_id, "full_name": region.full_name, "active": region.active}


@transaction.atomic
def region_create(*, actor: Scope, code: str, name: str, parent_code: str | None = None) -> Region:
    """Add one region below an existing, active parent (derived from the code unless given)."""
    actor.require_write("region.manage")
    code = _clean_code(code)
    actor.require_region(code)
    name = _clean_name(name)
    level = rules.level_of(code)
    if level == rules.PROVINCE:
        if parent_code:
            raise DomainError("省级区划不能有上级区划。", field="parent_code")
        parent = None
    else:
        parent_code = _clean_code(parent_code, "parent_code") if parent_code else rules.parent_code_of(code)
        if not rules.is_proper_ancestor(parent_code, code):
            raise DomainError(f"上级区划 {parent_code} 与区划代码 {code} 不一致：上级代码必须是本级代码的前缀。",
                              field="parent_code")
        parent = Region.objects.select_for_update().filter(code=parent_code).first()
        if parent is None:
            raise DomainError(f"上级区划 {parent_code} 不存在，请先添加上级区划。", field="parent_code")
        if not parent.active:
            raise DomainError(f"上级区划“{parent.name}”已停用，不能在其下添加区划。", field="parent_code")
    full_name = f"{parent.full_name}/{name}" if parent else name
    try:
        with transaction.atomic():
            region = Region.objects.create(code=code, name=name, level=level, parent=parent,
                                           full_name=full_name[:FULL_NAME_MAX])
    except IntegrityError as exc:
        raise DomainError(f"区划代码 {code} 已存在。", field="code") from exc
    audit.record(actor=actor, action="region.create", obj=region, region_code=code, after=region_snapshot(region))
    return region


@transaction.atomic
def region_rename(*, actor: Scope, code: str, name: str, reason: str) -> Region:
    """Rename a region; the full names of everything below follow."""
    actor.require_write("region.manage")
    code = _clean_code(code)
    actor.require_region(code)
    name, reason = _clean_name(name), _clean_reason(reason)
    region = _locked(code)
    if region.name == name:
        raise DomainError(f"新名称与原名称“{name}”相同，无需更名。", field="name")
    before = region_snapshot(region)
    region.name = name
    region.save(update_fields=["name"])
    refresh_full_names(*rules.subtree_range(code))
    region.refresh_from_db()
    audit.record(actor=actor, action="region.rename", obj=region, region_code=code,
                 before=before, after=region_snapshot(region), reason=reason)
    return region


@transaction.atomic
def region_deactivate(*, actor: Scope, code: str, reason: str) -> Region:
    """Mark a region no longer in use (merged, abolished). Regions are never deleted: records that
    refer to them keep their meaning. Lower levels must be deactivated first."""
    actor.require_write("region.manage")
    code = _clean_code(code)
    actor.require_region(code)
    reason = _clean_reason(reason)
    region = _locked(code)
    if not region.active:
        raise DomainError(f"区划“{region.name}”已经停用。", field="code")
    lo, hi = rules.subtree_range(code)
    active_below = Region.objects.filter(code__gt=lo, code__lte=hi, active=True).count()
    if active_below:
        raise DomainError(f"区划“{region.name}”下还有 {active_below} 个有效的下级区划，请先停用下级区划。",
                          field="code")
    before = region_snapshot(region)
    region.active = False
    region.save(update_fields=["active"])
    audit.record(actor=actor, action="region.deactivate", obj=region, region_code=code,
                 before=before, after=region_snapshot(region), reason=reason)
    return region


@transaction.atomic
def region_reactivate(*, actor: Scope, code: str, reason: str) -> Region:
    """Undo a deactivation; the parent must be active."""
    actor.require_write("region.manage")
    code = _clean_code(code)
    actor.require_region(code)
    reason = _clean_reason(reason)
    region = _locked(code)
    if region.active:
        raise DomainError(f"区划“{region.name}”当前有效，无需恢复。", field="code")
    if region.parent_id and not Region.objects.filter(code=region.parent_id, active=True).exists():
        raise DomainError("上级区划已停用，请先恢复上级区划。", field="code")
    before = region_snapshot(region)
    region.active = True
    region.save(update_fields=["active"])
    audit.record(actor=actor, action="region.reactivate", obj=region, region_code=code,
                 before=before, after=region_snapshot(region), reason=reason)
    return region
