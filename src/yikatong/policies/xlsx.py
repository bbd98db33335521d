"""The policy list as a spreadsheet: export a region's annual list or the policy catalogue (XLSX), and import
a list (XLSX or CSV, same headers) into a draft list.

Import rules (docs/policies.md, "界面与接口"):
- the first row holds the headers of LIST_HEADERS; 补贴项目编码 is required, the others optional, extra columns
  are ignored, order is free;
- every row names a policy that is already registered (补贴项目编码). A row with an unknown code is refused:
  the list columns lack what a policy needs (funding shares, legal basis, target group), so the platform does
  not guess a policy from a list row — register it on the policy page first;
- when 补贴资金名称 is filled it must match the registered name (a guard against a mistyped code);
  清单类型 may be 规定清单 / 自定清单 or empty (then decided as list_item_add does); the other columns are for
  reading and are not compared;
- all or nothing: each row goes through `list_item_add` (same checks as the page); if any row fails, nothing
  is added and every failing row is reported with its row number, column and reason;
- the uploaded original is kept (StoredFile, purpose "policy-list-import") and the attempt is audited.
"""

import io
from dataclasses import dataclass, field

from django.db import transaction

from yikatong.core import audit
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import StoredFile
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store
from yikatong.core.tabular import NOT_A_TABLE, MiB, TableError, open_table, xlsx_writer

from . import selectors
from .models import AnnualListItem, ListPart, ListStatus, Policy, StandardType
from .services import list_item_add

LIST_HEADERS = ["序号", "补贴项目编码", "补贴资金名称", "主管部门", "清单类型", "设立层级", "补贴标准", "计量单位",
                "发放周期", "是否家计调查", "是否直达资金", "有效期起", "有效期止"]
CATALOGUE_HEADERS = [*LIST_HEADERS, "状态", "版本"]
REQUIRED = ["补贴项目编码"]
NOT_XLSX = "文件不是有效的 XLSX 文件，请用 Excel 另存为 .xlsx 后重新上传"
MAX_BYTES = 10 * MiB  # a list has tens or hundreds of rows
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PART_BY_LABEL = {label: value for value, label in ListPart.choices} | {v: v for v in ListPart.values}
COLUMN_OF_FIELD = {"policy": "补贴项目编码", "part": "清单类型"}
_WIDTHS = {"补贴资金名称": 30, "主管部门": 22, "补贴标准": 16, "有效期起": 12, "有效期止": 12}


# -- export ---------------------------------------------------------------------------------------------
def _standard(policy: Policy):
    if policy.standard_type == StandardType.TIERED:
        return "；".join(f"{t['code']} {t['label']} {t['amount']}" for t in policy.tiers)
    return policy.standard_amount


def _policy_row(number: int, policy: Policy, part_label: str) -> list:
    return [
        number, policy.code, policy.name, policy.department.name, part_label, policy.get_level_set_display(),
        _standard(policy), policy.unit_name, policy.get_cycle_display(), "是" if policy.means_tested else "否",
        "是" if policy.direct_funds else "否", policy.valid_from, policy.valid_to,
    ]


def export_list(scope: Scope, region_code: str, year: int) -> bytes:
    """The items (not cancelled) of one region's list for a year, as the reader may see them."""
    items = selectors.annual_list_items(scope, region_code, year).select_related("policy__department")
    buffer = io.BytesIO()
    with xlsx_writer(buffer, LIST_HEADERS, sheet_title=f"{year}年度补贴政策清单", column_widths=_WIDTHS) as out:
        for number, item in enumerate(items.iterator(chunk_size=500), 1):
            out.write(_policy_row(number, item.policy, item.get_part_display()))
    return buffer.getvalue()


def export_catalogue(scope: Scope, policies) -> bytes:
    """Policies (a queryset from selectors.policies_visible, possibly filtered) as XLSX."""
    scope.require("policy.view")
    buffer = io.BytesIO()
    with xlsx_writer(buffer, CATALOGUE_HEADERS, sheet_title="补贴政策目录", column_widths=_WIDTHS) as out:
        for number, policy in enumerate(policies.select_related("department").iterator(chunk_size=500), 1):
            out.write([*_policy_row(number, policy, ""), policy.get_status_display(), policy.version])
    return buffer.getvalue()


# -- import ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowError:
    row: int | None
    column: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        return f"{where}「{self.column}」：{self.message}" if self.column else f"{where}：{self.message}"


class ImportRefused(DomainError):
    """Nothing was imported; `errors` lists every row that failed."""

    def __init__(self, message: str, errors: list[RowError]):
        super().__init__(message, code="import_refused")
        self.errors = errors


@dataclass
class ImportResult:
    added: list[AnnualListItem] = field(default_factory=list)
    stored: StoredFile | None = None


def _format_error(exc: TableError) -> TableError:
    message = exc.message
    if message.startswith(NOT_A_TABLE) or "旧版 Excel" in message:
        return TableError(NOT_XLSX + "。")
    if "UTF-8" in message or "UTF-16" in message:
        return TableError(f"{NOT_XLSX}（或另存为“CSV UTF-8”）。{message}")
    return exc


def _require_importer(actor: Scope, region_code: str, year: int) -> None:
    actor.require_write("list.submit")
    actor.require_region(region_code)
    if not actor.is_system and actor.region_code != region_code:
        raise ScopeError(f"只能导入本级（{actor.region_code}）的年度补贴政策清单。")
    current = selectors.annual_lists(actor, year).filter(region_id=region_code).first()
    if current and current.status != ListStatus.DRAFT:
        raise DomainError(f"{year}年度清单{current.get_status_display()}，不能再导入；如需调整请提交调整变更申请。")


def _read_rows(fileobj) -> list[tuple[int, dict]]:
    try:
        with open_table(fileobj, required=REQUIRED, optional=[h for h in LIST_HEADERS if h not in REQUIRED],
                        aliases={"补贴项目名称": "补贴资金名称", "清单类别": "清单类型"},
                        max_bytes=MAX_BYTES) as table:
            return list(table)
    except TableError as exc:
        error = _format_error(exc)
        raise ImportRefused(error.message, [RowError(exc.row_number, exc.column or "", error.message)]) from exc


def _check_rows(rows: list[tuple[int, dict]]) -> tuple[list[tuple[int, Policy, str | None]], list[RowError]]:
    """Shape checks that need no writes: codes present, known and unique, names matching, parts valid."""
    codes = {r["补贴项目编码"] for _, r in rows if r["补贴项目编码"]}
    policies = {p.code: p for p in Policy.objects.filter(code__in=codes)}
    errors, ok, seen = [], [], {}
    for number, row in rows:
        code, name, part_label = row["补贴项目编码"], row["补贴资金名称"], row["清单类型"]
        if not code:
            errors.append(RowError(number, "补贴项目编码", "请填写补贴项目编码。"))
            continue
        if code in seen:
            errors.append(RowError(number, "补贴项目编码", f"补贴项目 {code} 与第 {seen[code]} 行重复，请删除重复的行。"))
            continue
        seen[code] = number
        policy = policies.get(code)
        if policy is None:
            errors.append(RowError(number, "补贴项目编码",
                                   f"补贴项目 {code} 不存在：请先在“补贴政策”中登记该政策"
                                   "（资金来源、政策依据等清单表没有的属性须在登记时填写），再导入清单。"))
            continue
        if name and name != policy.name:
            errors.append(RowError(number, "补贴资金名称",
                                   f"“{name}”与补贴项目 {code} 登记的名称“{policy.name}”不一致，请核对编码。"))
            continue
        part = None
        if part_label:
            part = PART_BY_LABEL.get(part_label)
            if part is None:
                errors.append(RowError(number, "清单类型", f"“{part_label}”无效，应为“规定清单”或“自定清单”（或留空）。"))
                continue
        ok.append((number, policy, part))
    if not rows:
        errors.append(RowError(None, "", "文件中没有数据行。"))
    return ok, errors


def import_list(*, actor: Scope, region_code: str, year: int, fileobj, original_name: str) -> ImportResult:
    """Add the policies of an uploaded list to the region's draft list for `year`, all or nothing.
    Raises ImportRefused (a DomainError carrying `errors`) when any row fails; ScopeError for the wrong user."""
    try:
        region_code = region_rules.normalize_code(region_code)
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region") from exc
    year = int(year)
    _require_importer(actor, region_code, year)
    # Keep the original as received, whatever happens next.
    stored = file_store(actor=actor, fileobj=fileobj, original_name=original_name or "清单.xlsx",
                        purpose="policy-list-import", region_code=region_code,
                        organization_id=actor.organization_id,
                        content_type=getattr(fileobj, "content_type", "") or "")
    outcome = {"file": str(stored.pk), "original_name": stored.original_name, "year": year}
    try:
        rows = _read_rows(fileobj)
        candidates, errors = _check_rows(rows)
        added: list[AnnualListItem] = []
        with transaction.atomic():
            for number, policy, part in candidates:
                try:
                    with transaction.atomic():
                        added.append(list_item_add(actor=actor, region_code=region_code, year=year,
                                                   policy_code=policy.code, part=part))
                except DomainError as exc:
                    errors.append(RowError(number, COLUMN_OF_FIELD.get(exc.field, "补贴项目编码"), exc.message))
            if errors:
                errors.sort(key=lambda e: (e.row or 0, e.column))
                raise ImportRefused(f"清单未导入：{len(errors)} 行有错误，请按提示修改后重新上传（本次未导入任何项目）。",
                                    errors)
            audit.record(actor=actor, action="list.import", object_type="policies.annualpolicylist",
                         object_id=f"{region_code}/{year}", region_code=region_code,
                         after={**outcome, "rows": len(rows), "added": [i.policy.code for i in added]})
    except ImportRefused as refused:
        with transaction.atomic():
            audit.record(actor=actor, action="list.import_refused", object_type="policies.annualpolicylist",
                         object_id=f"{region_code}/{year}", region_code=region_code,
                         after={**outcome, "errors": [str(e) for e in refused.errors[:50]]})
        raise
    return ImportResult(added=added, stored=stored)
