"""Budget indicators (预算指标): receive, allocate down the levels, and the money services the payments
module calls (commit, release, pay, return) [003 §15, §20; SPEC §3.2].

Every movement is one append-only IndicatorEntry; the balance columns of the indicator change in the same
transaction, under `select_for_update` of the indicator row, so concurrent requests on one indicator are
serialized and the Python check sees the committed balance. The database refuses a negative balance anyway.

Who may do what (permissions registered in PoliciesConfig.ready):
  indicator.manage  finance — receive (own region, own bureau as holder), allocate, complete, close
  indicator.propose department — the allocation proposal of [003 §15], own region, policy's business line
  indicator.mount   finance, department — commit/release/pay/return on an indicator of the actor's own
                    region (departments: the policy's business line); the payments module may act as
                    Scope.system() when a bank result books a payment
  indicator.view    finance, department (own line), supervisor, regulator, admin
"""

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction

from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, OrgKind
from yikatong.core.money import format_yuan, to_money
from yikatong.core.scope import Scope
from yikatong.core.selectors.regions import existing_code

from .. import rules_indicators as rules
from ..models import (
    HUIMIN_TAG,
    BudgetIndicator,
    EntryKind,
    GovLevel,
    IndicatorEntry,
    IndicatorStatus,
    Policy,
    PolicyStatus,
)
from ..selectors_indicators import sums_by_kind
from .library import library_require

REF_INDICATOR = "indicator"


# -- input helpers -----------------------------------------------------------------------------------
def _amount(value, what: str = "金额") -> Decimal:
    amount = to_money(value)
    if amount <= 0:
        raise DomainError(f"{what}应大于0。", field="amount")
    return amount


def _date(value, what: str, *, required: bool = True) -> dt.date | None:
    if value in (None, ""):
        if required:
            raise DomainError(f"请填写{what}。")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DomainError(f"{what}“{value}”格式不正确，应为 YYYY-MM-DD。") from None


def _year(value) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        raise DomainError(f"预算年度“{value}”无效，应为四位年份。", field="fiscal_year") from None
    if not 2000 <= year <= 2100:
        raise DomainError(f"预算年度“{value}”无效，应为四位年份。", field="fiscal_year")
    return year


def _region(code: str) -> str:
    return existing_code(code, field="region")


def _text(value, what: str, *, max_length: int | None = None) -> str:
    text = str(value or "").strip()
    if not text:
        raise DomainError(f"请填写{what}。")
    if max_length and len(text) > max_length:
        raise DomainError(f"{what}过长（最多 {max_length} 个字）。")
    return text


def _ref(ref_type, ref_id) -> tuple[str, str]:
    return _text(ref_type, "关联单据类型", max_length=40), _text(ref_id, "关联单据编号", max_length=64)


def _finance_org(code: str, region_code: str) -> Organization:
    org = Organization.objects.filter(code=str(code or "").strip()).first()
    if org is None:
        raise DomainError(f"机构 {code} 不存在。", field="holder")
    if org.kind != OrgKind.FINANCE or not org.active:
        raise DomainError(f"{org.name}不是有效的财政部门，预算指标只能由财政部门持有。", field="holder")
    if org.region_id != region_code:
        raise DomainError(f"{org.name}不在区划 {region_code}，指标持有部门须为该区划的财政部门。", field="holder")
    return org


def _locked(indicator_id) -> BudgetIndicator:
    indicator = (BudgetIndicator.objects.select_for_update(of=("self",)).select_related("policy", "region")
                 .filter(pk=indicator_id).first())
    if indicator is None:
        raise DomainError(f"预算指标 {indicator_id} 不存在。", code="not_found")
    return indicator


def _snapshot(indicator: BudgetIndicator) -> dict:
    return {k: str(v) for k, v in rules.Balances.of(indicator).as_dict().items()}


# -- scope checks ------------------------------------------------------------------------------------
def _require_holder(actor: Scope, indicator: BudgetIndicator, what: str) -> None:
    """Finance acts on the indicators its own bureau holds."""
    actor.require_write("indicator.manage")
    actor.require_region(indicator.region_id)
    if not actor.is_system and actor.organization_id != indicator.holder_id:
        raise ScopeError(f"{what}须由指标持有部门（{indicator.holder.name}）办理。")


def _require_mount(actor: Scope, indicator: BudgetIndicator) -> None:
    actor.require_write("indicator.mount")
    actor.require_region(indicator.region_id)
    if actor.is_system:
        return
    if actor.region_code != indicator.region_id:
        raise ScopeError("只能使用本级财政部门持有的预算指标。")
    actor.require_business_line(indicator.policy.business_line)


def _require_active(indicator: BudgetIndicator) -> None:
    if indicator.status != IndicatorStatus.ACTIVE:
        raise DomainError(f"预算指标 {indicator.doc_no} 已关闭，不能再分配或挂接。", code="closed")


# -- the ledger --------------------------------------------------------------------------------------
def post_entry(indicator: BudgetIndicator, *, kind: str, amount: Decimal, ref_type: str, ref_id: str,
               actor: Scope, note: str = "", on: dt.date | None = None) -> IndicatorEntry:
    """Append one entry and move the balance columns with it. The caller holds the row lock and has checked
    the business rules; `rules.apply_entry` still refuses any negative column, and the database constraints
    refuse a negative balance written by any other path."""
    after = rules.apply_entry(rules.Balances.of(indicator), kind, amount)
    for column, value in after.as_dict().items():
        setattr(indicator, column, value)
    indicator.save(update_fields=list(rules.COLUMNS))
    return IndicatorEntry.objects.create(
        indicator=indicator, kind=kind, amount=amount, ref_type=ref_type, ref_id=ref_id,
        booked_on=on or clock.today(), created_at=clock.now(), actor=actor.username, note=note or "",
    )


def _ref_totals(indicator: BudgetIndicator, ref_type: str, ref_id: str) -> rules.RefTotals:
    entries = IndicatorEntry.objects.filter(indicator=indicator, ref_type=ref_type, ref_id=ref_id)
    return rules.RefTotals.from_sums(dict(sums_by_kind(entries)))


# -- receive -----------------------------------------------------------------------------------------
@transaction.atomic
def indicator_receive(*, actor: Scope, doc_no: str, received_on, amount, source_level: str, policy_code: str,
                      fiscal_year: int, region_code: str, central_document_date=None,
                      direct_to_county: bool = False, tag: str = HUIMIN_TAG, holder_code: str | None = None,
                      note: str = "") -> BudgetIndicator:
    """Register an indicator received from above the platform (e.g. the central document) by the finance
    bureau of `region_code`, which becomes its holder. Writes the `received` entry.

    `central_document_date` is required for central funds received at province level (it starts the 15/30-day
    clocks) and allowed only for central funds. `direct_to_county` marks funds the province allocated directly
    to counties (a prefecture then has 15 days instead of 30). A system actor names the holder with `holder_code`."""
    actor.require_write("indicator.manage")
    region_code = _region(region_code)
    actor.require_region(region_code)
    if actor.is_system:
        if not holder_code:
            raise DomainError("请指定指标持有的财政部门（holder_code）。", field="holder")
        holder = _finance_org(holder_code, region_code)
    else:
        if actor.region_code != region_code:
            raise ScopeError("预算指标须由本区划的财政部门登记。")
        holder = Organization.objects.get(pk=actor.organization_id)
        if holder_code and holder_code != holder.code:
            raise ScopeError("只能以本部门作为指标持有部门登记预算指标。")
        _finance_org(holder.code, region_code)
    doc_no = _text(doc_no, "指标文号", max_length=100)
    received_on = _date(received_on, "收到日期")
    if received_on > clock.today():
        raise DomainError(f"收到日期 {received_on} 晚于今天，请核对。", field="received_on")
    amount = _amount(amount, "指标金额")
    if source_level not in GovLevel.values:
        choices = "、".join(f"{v}（{label}）" for v, label in GovLevel.choices)
        raise DomainError(f"资金来源层级“{source_level}”无效，可选：{choices}。", field="source_level")
    fiscal_year = _year(fiscal_year)
    central_document_date = _date(central_document_date, "中央资金文件日期", required=False)
    if source_level == "central":
        if central_document_date is None and region_rules.level_of(region_code) == region_rules.PROVINCE:
            raise DomainError("中央资金请填写中央资金文件日期（起算15日、30日分配时限）。",
                              field="central_document_date")
        if central_document_date and central_document_date > received_on:
            raise DomainError("中央资金文件日期不能晚于收到日期。", field="central_document_date")
    elif central_document_date is not None:
        raise DomainError("只有中央资金需要填写中央资金文件日期。", field="central_document_date")
    tag = _text(tag, "资金标识", max_length=50)
    policy = Policy.objects.filter(code=str(policy_code or "").strip()).select_related("region").first()
    if policy is None:
        raise DomainError(f"补贴项目 {policy_code} 不存在。", field="policy")
    if policy.status == PolicyStatus.RETIRED:
        raise DomainError(f"补贴项目 {policy.code} 已停止执行，不能登记新的预算指标。", field="policy")
    if not region_rules.is_within(region_code, policy.region_id):
        raise DomainError(f"补贴项目 {policy.code} 由{policy.region.name}制定，不适用于区划 {region_code}。",
                          field="policy")
    if BudgetIndicator.objects.filter(holder=holder, doc_no=doc_no, policy=policy, fiscal_year=fiscal_year).exists():
        raise DomainError(f"指标文号 {doc_no} 已为补贴项目 {policy.code} 登记过 {fiscal_year} 年度指标，请勿重复登记。",
                          code="duplicate")
    try:
        with transaction.atomic():
            indicator = BudgetIndicator.objects.create(
                doc_no=doc_no, received_on=received_on, amount=amount, source_level=source_level, policy=policy,
                fiscal_year=fiscal_year, region_id=region_code, holder=holder, tag=tag,
                central_document_date=central_document_date,
                direct_to_county=bool(direct_to_county), created_by=actor.username, created_at=clock.now(),
            )
    except IntegrityError:  # a concurrent identical submission won the race
        raise DomainError(f"指标文号 {doc_no} 已登记，请勿重复登记。", code="duplicate") from None
    post_entry(indicator, kind=EntryKind.RECEIVED, amount=amount, ref_type="document", ref_id=doc_no,
               actor=actor, note=note, on=received_on)
    audit.record(actor=actor, action="indicator.receive", obj=indicator, after={
        "doc_no": doc_no, "amount": str(amount), "policy": policy.code, "fiscal_year": fiscal_year,
        "source_level": source_level, "holder": holder.code, **_snapshot(indicator)})
    return indicator


# -- allocate ----------------------------------------------------------------------------------------
def _clean_part(parent: BudgetIndicator, index: int, part) -> dict:
    if not isinstance(part, dict):
        raise DomainError(f"第{index}项分配格式无效。")
    where = f"第{index}项分配"
    try:
        code = region_rules.normalize_code(str(part.get("region_code") or ""))
    except region_rules.RegionCodeError as exc:
        raise DomainError(f"{where}：{exc}") from None
    if not region_rules.is_proper_ancestor(parent.region_id, code):
        raise DomainError(f"{where}：区划 {code} 不在上级指标区划 {parent.region_id} 的下级范围内。", field="region")
    try:
        holder = _finance_org(part.get("holder_code"), code)
    except DomainError as exc:
        raise DomainError(f"{where}：{exc.message}", field="holder") from None
    try:
        amount = _amount(part.get("amount"), "分配金额")
    except DomainError as exc:
        raise DomainError(f"{where}：{exc.message}", field="amount") from None
    doc_no = str(part.get("doc_no") or "").strip()
    if not doc_no:
        raise DomainError(f"{where}：请填写下达文号。", field="doc_no")
    if len(doc_no) > 100:
        raise DomainError(f"{where}：下达文号过长（最多 100 个字）。", field="doc_no")
    return {"region_code": code, "holder": holder, "amount": amount, "doc_no": doc_no,
            "direct_to_county": bool(part.get("direct_to_county", False))}


@transaction.atomic
def indicator_allocate(*, actor: Scope, parent_id: int, parts: list[dict], complete: bool = False,
                       note: str = "") -> list[BudgetIndicator]:
    """Allocate a held indicator down to lower-level finance bureaus, all parts or none.

    Each part: {region_code, holder_code, amount, doc_no[, direct_to_county]}; the region lies below the
    parent's region and the holder is a finance bureau of exactly that region. The parts may add up to less
    than the parent's available balance, never more. Each child gets an `allocated_in` entry and the parent
    one `allocated_out` entry per child. `complete=True` (or a parent left with nothing available) records
    the allocation as done for the [003 §15] clocks."""
    parent = _locked(parent_id)
    _require_holder(actor, parent, "分配预算指标")
    _require_active(parent)
    if not parts:
        raise DomainError("请至少填写一项分配（区划、财政部门、金额、文号）。")
    cleaned = [_clean_part(parent, i, part) for i, part in enumerate(parts, start=1)]
    seen = set()
    for i, part in enumerate(cleaned, start=1):
        key = (part["holder"].pk, part["doc_no"])
        if key in seen or BudgetIndicator.objects.filter(holder=part["holder"], doc_no=part["doc_no"],
                                                         policy=parent.policy_id,
                                                         fiscal_year=parent.fiscal_year).exists():
            raise DomainError(f"第{i}项分配：文号 {part['doc_no']} 已向{part['holder'].name}下达过本项目指标，请勿重复下达。",
                              code="duplicate")
        seen.add(key)
    total = sum((p["amount"] for p in cleaned), Decimal("0.00"))
    rules.require_allocatable(parent.available, total)
    before = _snapshot(parent)
    today, now = clock.today(), clock.now()
    children = []
    for part in cleaned:
        child = BudgetIndicator.objects.create(
            doc_no=part["doc_no"], received_on=today, amount=part["amount"], source_level=parent.source_level,
            policy_id=parent.policy_id, fiscal_year=parent.fiscal_year, region_id=part["region_code"],
            holder=part["holder"], tag=parent.tag, parent=parent,
            central_document_date=parent.central_document_date, direct_to_county=part["direct_to_county"],
            created_by=actor.username, created_at=now,
        )
        post_entry(parent, kind=EntryKind.ALLOCATED_OUT, amount=part["amount"], ref_type=REF_INDICATOR,
                   ref_id=str(child.pk), actor=actor, note=note)
        post_entry(child, kind=EntryKind.ALLOCATED_IN, amount=part["amount"], ref_type=REF_INDICATOR,
                   ref_id=str(parent.pk), actor=actor, note=note)
        audit.record(actor=actor, action="indicator.allocate_in", obj=child, after={
            "parent": parent.pk, "doc_no": child.doc_no, "amount": str(child.amount), "holder": part["holder"].code,
            **_snapshot(child)})
        children.append(child)
    if (complete or parent.available == 0) and parent.allocation_done_on is None:
        parent.allocation_done_on = today
        parent.save(update_fields=["allocation_done_on"])
    audit.record(actor=actor, action="indicator.allocate", obj=parent, before=before, after={
        **_snapshot(parent), "children": [c.pk for c in children], "total": str(total),
        "allocation_done_on": parent.allocation_done_on})
    return children


@transaction.atomic
def indicator_allocation_complete(*, actor: Scope, indicator_id: int, note: str = "") -> BudgetIndicator:
    """Record that the holder has finished allocating (the rest stays at its own level), which stops the
    allocation clock of [003 §15]."""
    indicator = _locked(indicator_id)
    _require_holder(actor, indicator, "确认分配下达完成")
    if indicator.allocation_done_on is not None:
        raise DomainError(f"预算指标 {indicator.doc_no} 已于 {indicator.allocation_done_on} 确认分配下达完成。")
    indicator.allocation_done_on = clock.today()
    indicator.save(update_fields=["allocation_done_on"])
    audit.record(actor=actor, action="indicator.allocation_complete", obj=indicator,
                 after={"allocation_done_on": indicator.allocation_done_on}, reason=note)
    return indicator


@transaction.atomic
def indicator_proposal_submit(*, actor: Scope, indicator_id: int, note: str) -> BudgetIndicator:
    """The competent department of the indicator's region and the policy's business line reports its
    allocation proposal to finance [003 §15] (the 15-day step for central funds)."""
    actor.require_write("indicator.propose")
    indicator = _locked(indicator_id)
    actor.require_region(indicator.region_id)
    if not actor.is_system:
        if actor.region_code != indicator.region_id:
            raise ScopeError("资金分配建议方案须由指标所在区划的主管部门报送。")
        actor.require_business_line(indicator.policy.business_line)
    _require_active(indicator)
    note = _text(note, "分配建议方案说明")
    if indicator.proposal_submitted_on is not None:
        raise DomainError(f"预算指标 {indicator.doc_no} 的分配建议方案已于 {indicator.proposal_submitted_on} 报送。")
    indicator.proposal_submitted_on, indicator.proposal_note = clock.today(), note
    indicator.save(update_fields=["proposal_submitted_on", "proposal_note"])
    audit.record(actor=actor, action="indicator.propose", obj=indicator,
                 after={"proposal_submitted_on": indicator.proposal_submitted_on, "note": note})
    return indicator


@transaction.atomic
def indicator_close(*, actor: Scope, indicator_id: int, reason: str) -> BudgetIndicator:
    """Close an indicator (e.g. at year end): no further allocation or commitment. Refused while money is
    still committed and unpaid; payments already booked stay, and returns are still accepted."""
    indicator = _locked(indicator_id)
    _require_holder(actor, indicator, "关闭预算指标")
    reason = _text(reason, "关闭原因")
    _require_active(indicator)
    if indicator.committed_total > 0:
        raise DomainError(f"预算指标 {indicator.doc_no} 尚有已挂接未支付资金 {format_yuan(indicator.committed_total)} 元，"
                          "请先完成支付或解除挂接。")
    indicator.status, indicator.closed_at, indicator.closed_reason = IndicatorStatus.CLOSED, clock.now(), reason
    indicator.save(update_fields=["status", "closed_at", "closed_reason"])
    audit.record(actor=actor, action="indicator.close", obj=indicator, before={"status": "active"},
                 after={"status": indicator.status, **_snapshot(indicator)}, reason=reason)
    return indicator


# -- money services for the payments module --------------------------------------------------------
def _ref_label(ref_type: str, ref_id: str) -> str:
    return f"单据 {ref_type}:{ref_id} "


@transaction.atomic
def indicator_commit(*, actor: Scope, indicator_id: int, amount, ref_type: str, ref_id: str, policy_code: str,
                     fiscal_year: int, region_code: str | None = None, note: str = "") -> IndicatorEntry:
    """Mount a reviewed payment plan/request on an indicator: reserve `amount` for the reference.

    Refused unless the indicator is active, of `policy_code` and `fiscal_year`, the paying region
    (`region_code`, default the indicator's region) lies within the indicator's region and the policy is in
    that year's project library there, and the balance covers the amount ("指标余额不足：…")."""
    amount = _amount(amount, "挂接金额")
    ref_type, ref_id = _ref(ref_type, ref_id)
    indicator = _locked(indicator_id)
    _require_mount(actor, indicator)
    _require_active(indicator)
    if indicator.policy.code != str(policy_code or "").strip():
        raise DomainError(f"预算指标 {indicator.doc_no} 属于补贴项目 {indicator.policy.code}，"
                          f"不能用于补贴项目 {policy_code} 的支付。", code="policy_mismatch")
    if indicator.fiscal_year != _year(fiscal_year):
        raise DomainError(f"预算指标 {indicator.doc_no} 是 {indicator.fiscal_year} 年度指标，"
                          f"不能用于 {fiscal_year} 年度的支付。", code="year_mismatch")
    paying_region = indicator.region_id if region_code is None else _region(region_code)
    if not region_rules.is_within(paying_region, indicator.region_id):
        raise DomainError(f"区划 {paying_region} 不在预算指标所属区划 {indicator.region_id} 范围内。",
                          code="region_mismatch")
    library_require(policy=indicator.policy, region_code=paying_region, year=indicator.fiscal_year)
    rules.require_sufficient(indicator.available, amount)
    before = _snapshot(indicator)
    entry = post_entry(indicator, kind=EntryKind.COMMITTED, amount=amount, ref_type=ref_type, ref_id=ref_id,
                       actor=actor, note=note)
    audit.record(actor=actor, action="indicator.commit", obj=indicator, before=before,
                 after={**_snapshot(indicator), "amount": str(amount), "ref": f"{ref_type}:{ref_id}"})
    return entry


def _move(kind: str, action: str, *, actor: Scope, indicator_id, amount, ref_type, ref_id, note: str,
          on=None) -> IndicatorEntry:
    amount = _amount(amount)
    ref_type, ref_id = _ref(ref_type, ref_id)
    on = _date(on, "记账日期", required=False)
    if on is not None and on > clock.today():
        raise DomainError(f"记账日期 {on} 晚于今天，请核对。")
    indicator = _locked(indicator_id)
    _require_mount(actor, indicator)
    rules.check_ref_movement(kind, amount, _ref_totals(indicator, ref_type, ref_id),
                             ref_label=_ref_label(ref_type, ref_id))
    before = _snapshot(indicator)
    entry = post_entry(indicator, kind=kind, amount=amount, ref_type=ref_type, ref_id=ref_id, actor=actor,
                       note=note, on=on)
    audit.record(actor=actor, action=action, obj=indicator, before=before,
                 after={**_snapshot(indicator), "amount": str(amount), "ref": f"{ref_type}:{ref_id}"})
    return entry


@transaction.atomic
def indicator_release(*, actor: Scope, indicator_id: int, amount, ref_type: str, ref_id: str,
                      note: str = "") -> IndicatorEntry:
    """Undo (part of) a commitment of the reference that was not paid: the money is available again.
    Never more than the reference has committed and not yet paid or released."""
    return _move(EntryKind.RELEASED, "indicator.release", actor=actor, indicator_id=indicator_id, amount=amount,
                 ref_type=ref_type, ref_id=ref_id, note=note)


@transaction.atomic
def indicator_pay(*, actor: Scope, indicator_id: int, amount, ref_type: str, ref_id: str, note: str = "",
                  on=None) -> IndicatorEntry:
    """Book money of the reference as paid: committed → paid (the available balance does not change).
    `on` is the booking date (default today; e.g. the bank's processing date), never in the future."""
    return _move(EntryKind.PAID, "indicator.pay", actor=actor, indicator_id=indicator_id, amount=amount,
                 ref_type=ref_type, ref_id=ref_id, note=note, on=on)


@transaction.atomic
def indicator_return(*, actor: Scope, indicator_id: int, amount, ref_type: str, ref_id: str, note: str = "",
                     on=None) -> IndicatorEntry:
    """Paid money that came back (e.g. a failed item returned by the bank): paid → available. Never more
    than the reference has paid and not yet had back. Allowed on a closed indicator."""
    return _move(EntryKind.RETURNED, "indicator.return", actor=actor, indicator_id=indicator_id, amount=amount,
                 ref_type=ref_type, ref_id=ref_id, note=note, on=on)


# -- recompute and verify ----------------------------------------------------------------------------
def indicator_recompute(indicator) -> dict:
    """The balance columns recomputed from the indicator's entries (one query): {column: Decimal}."""
    pk = indicator.pk if isinstance(indicator, BudgetIndicator) else indicator
    sums = dict(sums_by_kind(IndicatorEntry.objects.filter(indicator_id=pk)))
    return rules.balances_from_sums(sums).as_dict()


def indicator_verify(*, fiscal_year: int | None = None, indicator_ids=None, region_code: str | None = None
                     ) -> list[dict]:
    """Compare every selected indicator's stored balance columns with its ledger, and check conservation.
    Returns the problems (empty when everything balances to the fen), each a dict with `indicator_id`,
    `doc_no`, `check` and `detail` (Chinese). Set-based: a few grouped queries whatever the number of rows.

    Checks: each column equals the sum of its entries; the money in equals the indicator amount; the parent's
    allocated-out equals what its children received; per reference, payments and releases stay within the
    commitments and returns within the payments."""
    indicators = BudgetIndicator.objects.all()
    if fiscal_year is not None:
        indicators = indicators.filter(fiscal_year=fiscal_year)
    if indicator_ids is not None:
        indicators = indicators.filter(pk__in=list(indicator_ids))
    if region_code:
        lo, hi = region_rules.subtree_range(region_code)
        indicators = indicators.filter(region_id__gte=lo, region_id__lte=hi)
    entries = IndicatorEntry.objects.filter(indicator__in=indicators)
    sums: dict[int, dict] = {}
    for pk, kind, total in sums_by_kind(entries, "indicator_id"):
        sums.setdefault(pk, {})[kind] = total
    children_in = {parent: total for parent, _kind, total in sums_by_kind(
        IndicatorEntry.objects.filter(kind=EntryKind.ALLOCATED_IN, indicator__parent__in=indicators),
        "indicator__parent_id")}
    problems = []
    fields = ["pk", "doc_no", "amount", *rules.COLUMNS]
    for row in indicators.values(*fields).order_by("pk").iterator(chunk_size=2000):
        pk, doc = row["pk"], row["doc_no"]
        ledger = rules.balances_from_sums(sums.get(pk, {})).as_dict()
        for column in rules.COLUMNS:
            if row[column] != ledger[column]:
                problems.append({"indicator_id": pk, "doc_no": doc, "check": column, "stored": row[column],
                                 "ledger": ledger[column],
                                 "detail": f"{rules.COLUMN_LABELS[column]}：记录 {format_yuan(row[column])} 元，"
                                           f"台账合计 {format_yuan(ledger[column])} 元"})
        if ledger["received_total"] != row["amount"]:
            problems.append({"indicator_id": pk, "doc_no": doc, "check": "amount",
                             "detail": f"指标金额 {format_yuan(row['amount'])} 元，台账收到 "
                                       f"{format_yuan(ledger['received_total'])} 元"})
        out = ledger["allocated_out_total"]
        if out != (children_in.get(pk) or 0):
            problems.append({"indicator_id": pk, "doc_no": doc, "check": "allocation",
                             "detail": f"分配下级 {format_yuan(out)} 元，下级指标收到 "
                                       f"{format_yuan(children_in.get(pk) or 0)} 元"})
    refs: dict[tuple, dict] = {}
    money = entries.filter(kind__in=[EntryKind.COMMITTED, EntryKind.RELEASED, EntryKind.PAID, EntryKind.RETURNED])
    for pk, ref_type, ref_id, kind, total in sums_by_kind(money, "indicator_id", "ref_type", "ref_id"):
        refs.setdefault((pk, ref_type, ref_id), {})[kind] = total
    docs = dict(indicators.filter(pk__in={k[0] for k in refs}).values_list("pk", "doc_no"))
    for (pk, ref_type, ref_id), kinds in sorted(refs.items()):
        for detail in rules.ref_problems(rules.RefTotals.from_sums(kinds)):
            problems.append({"indicator_id": pk, "doc_no": docs.get(pk, ""), "check": "ref",
                             "ref": f"{ref_type}:{ref_id}", "detail": f"单据 {ref_type}:{ref_id}：{detail}"})
    return problems
