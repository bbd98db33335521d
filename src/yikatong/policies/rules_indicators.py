"""Pure rules of budget indicators and performance targets: ledger arithmetic, the allocation clocks of
[003 §15], target achievement and progress ratios.

No ORM and no database here: these functions take plain values so they are tested without a database and
reused by the services (under a row lock), the reconciliation and the oversight module.
"""

import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.money import ZERO, format_yuan

RATIO_PLACES = Decimal("0.0001")

# -- ledger arithmetic ---------------------------------------------------------------------------------
RECEIVED, ALLOCATED_OUT, ALLOCATED_IN = "received", "allocated_out", "allocated_in"
COMMITTED, RELEASED, PAID, RETURNED = "committed", "released", "paid", "returned"
KINDS = (RECEIVED, ALLOCATED_OUT, ALLOCATED_IN, COMMITTED, RELEASED, PAID, RETURNED)

# How one entry of each kind moves the balance columns (+1 adds the amount, −1 subtracts it).
ENTRY_EFFECTS: dict[str, dict[str, int]] = {
    RECEIVED: {"received_total": +1, "available": +1},
    ALLOCATED_IN: {"received_total": +1, "available": +1},
    ALLOCATED_OUT: {"allocated_out_total": +1, "available": -1},
    COMMITTED: {"committed_total": +1, "available": -1},
    RELEASED: {"committed_total": -1, "available": +1},
    PAID: {"committed_total": -1, "paid_total": +1},  # reserved money leaves: the balance does not change
    RETURNED: {"returned_total": +1, "available": +1},
}

COLUMNS = ("received_total", "allocated_out_total", "committed_total", "paid_total", "returned_total", "available")
COLUMN_LABELS = {
    "received_total": "收到/下达金额", "allocated_out_total": "已分配下级", "committed_total": "已挂接未支付",
    "paid_total": "已支付", "returned_total": "已退回", "available": "可用余额",
}


@dataclass(frozen=True)
class Balances:
    """The balance columns of one indicator (yuan, Decimal)."""

    received_total: Decimal = ZERO
    allocated_out_total: Decimal = ZERO
    committed_total: Decimal = ZERO  # reserved for reviewed plans, not yet paid or released
    paid_total: Decimal = ZERO
    returned_total: Decimal = ZERO
    available: Decimal = ZERO

    def as_dict(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in COLUMNS}

    @classmethod
    def of(cls, obj) -> "Balances":
        """The balances stored on an indicator (or any object with the column attributes)."""
        return cls(**{name: Decimal(getattr(obj, name)) for name in COLUMNS})


def available_of(b: Balances) -> Decimal:
    """SPEC §3.2: balance = allocated − committed − paid + returned, where "allocated" is the money that came
    in (received or allocated in) less what was passed down to lower levels."""
    return b.received_total - b.allocated_out_total - b.committed_total - b.paid_total + b.returned_total


def apply_entry(b: Balances, kind: str, amount: Decimal) -> Balances:
    """The balances after one entry. Raises DomainError when the result would break an invariant (a
    negative column, more returned than paid); the services check the business reason first and word it."""
    if kind not in ENTRY_EFFECTS:
        raise DomainError(f"未知的指标台账分录类型“{kind}”。")
    amount = Decimal(amount)
    if amount <= 0:
        raise DomainError("指标台账分录金额应大于0。")
    changes = {col: getattr(b, col) + sign * amount for col, sign in ENTRY_EFFECTS[kind].items()}
    after = replace(b, **changes)
    for col in COLUMNS:
        if getattr(after, col) < 0:
            raise DomainError(f"指标{COLUMN_LABELS[col]}不能为负数（{format_yuan(getattr(after, col))} 元）。")
    if after.returned_total > after.paid_total:
        raise DomainError("退回金额不能超过已支付金额。")
    return after


def balances_from_sums(sums: dict[str, Decimal]) -> Balances:
    """Recompute the balance columns from the sum of entries of each kind (missing kinds count as zero)."""
    s = {kind: Decimal(sums.get(kind) or 0) for kind in KINDS}
    b = Balances(
        received_total=s[RECEIVED] + s[ALLOCATED_IN],
        allocated_out_total=s[ALLOCATED_OUT],
        committed_total=s[COMMITTED] - s[RELEASED] - s[PAID],
        paid_total=s[PAID],
        returned_total=s[RETURNED],
    )
    return replace(b, available=available_of(b))


def require_sufficient(available: Decimal, needed: Decimal) -> None:
    if needed > available:
        raise DomainError(f"指标余额不足：可用 {format_yuan(available)} 元，需要 {format_yuan(needed)} 元。",
                          code="insufficient_balance")


def require_allocatable(available: Decimal, total: Decimal) -> None:
    if total > available:
        raise DomainError(f"分配金额 {format_yuan(total)} 超过上级指标可用余额 {format_yuan(available)}。",
                          code="over_allocation")


# -- per-reference conservation ------------------------------------------------------------------------
@dataclass(frozen=True)
class RefTotals:
    """What one payment reference (a plan, a request, a batch …) did on one indicator."""

    committed: Decimal = ZERO
    released: Decimal = ZERO
    paid: Decimal = ZERO
    returned: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        """Committed and neither paid nor released yet."""
        return self.committed - self.released - self.paid

    @property
    def net_paid(self) -> Decimal:
        return self.paid - self.returned

    @classmethod
    def from_sums(cls, sums: dict[str, Decimal]) -> "RefTotals":
        return cls(**{k: Decimal(sums.get(k) or 0) for k in (COMMITTED, RELEASED, PAID, RETURNED)})


def check_ref_movement(kind: str, amount: Decimal, ref: RefTotals, *, ref_label: str) -> None:
    """Refuse a release or payment beyond what the reference has committed and not yet paid or released,
    and a return beyond what it has paid and not yet had back."""
    if kind == RELEASED and amount > ref.outstanding:
        raise DomainError(
            f"解除挂接金额 {format_yuan(amount)} 元超过{ref_label}在本指标上已挂接未支付的 "
            f"{format_yuan(ref.outstanding)} 元。", code="over_release")
    if kind == PAID and amount > ref.outstanding:
        raise DomainError(
            f"支付金额 {format_yuan(amount)} 元超过{ref_label}在本指标上已挂接未支付的 "
            f"{format_yuan(ref.outstanding)} 元，请先挂接指标。", code="over_payment")
    if kind == RETURNED and amount > ref.net_paid:
        raise DomainError(
            f"退回金额 {format_yuan(amount)} 元超过{ref_label}在本指标上已支付未退回的 "
            f"{format_yuan(ref.net_paid)} 元。", code="over_return")


def ref_problems(ref: RefTotals) -> list[str]:
    """Conservation problems of one reference (used by reconciliation; empty when sound)."""
    problems = []
    if ref.outstanding < 0:
        problems.append(f"支付与解除挂接合计超过挂接金额 {format_yuan(-ref.outstanding)} 元")
    if ref.net_paid < 0:
        problems.append(f"退回金额超过支付金额 {format_yuan(-ref.net_paid)} 元")
    return problems


# -- allocation clocks [003 §15] ------------------------------------------------------------------------
DEPARTMENT, FINANCE = "department", "finance"
WHO_LABELS = {DEPARTMENT: "主管部门", FINANCE: "财政部门"}
PROPOSAL, ALLOCATION = "proposal", "allocation"
STEP_KINDS = {
    "central_funds_proposal": PROPOSAL,
    "central_funds_allocation": ALLOCATION,
    "prefecture_direct_allocation": ALLOCATION,
    "prefecture_allocation": ALLOCATION,
}
STEP_LABELS = {
    "central_funds_proposal": "中央资金：省级主管部门报送资金分配建议方案",
    "central_funds_allocation": "中央资金：省级财政部门分配下达",
    "prefecture_direct_allocation": "市（州）：省级直接分配到县的资金下达",
    "prefecture_allocation": "市（州）：资金分配到县",
}
UPPER_SOURCES = ("central", "provincial")
DONE = "done"


@dataclass(frozen=True)
class ClockStart:
    """A running time limit of an indicator: which step, since when, and who has to act."""

    step: str  # a yikatong.core.time_limits step
    start: dt.date
    who: str  # DEPARTMENT | FINANCE

    @property
    def kind(self) -> str:
        return STEP_KINDS[self.step]

    @property
    def label(self) -> str:
        return STEP_LABELS[self.step]


def deadline_clocks(*, region_code: str, source_level: str, received_on: dt.date,
                    central_document_date: dt.date | None = None,
                    direct_to_county: bool = False) -> list[ClockStart]:
    """The clocks of [003 §15] that run for an indicator held at `region_code`.

    Province, central funds: the department's allocation proposal within 15 days and finance's allocation
    within 30 days of the central document. Prefecture, funds from above (central or provincial):
    allocated to the counties within 15 days of receiving the document when the province allocated them
    directly to counties, 30 days otherwise. County level and a region's own funds: no fixed limit.
    (Provincial funds' 30/60 days from the provincial budget approval are not a configured step yet.)
    """
    level = region_rules.level_of(region_code)
    if level == region_rules.PROVINCE:
        if source_level == "central" and central_document_date:
            return [ClockStart("central_funds_proposal", central_document_date, DEPARTMENT),
                    ClockStart("central_funds_allocation", central_document_date, FINANCE)]
        return []
    if level == region_rules.PREFECTURE and source_level in UPPER_SOURCES:
        step = "prefecture_direct_allocation" if direct_to_county else "prefecture_allocation"
        return [ClockStart(step, received_on, FINANCE)]
    return []


def step_done_on(kind: str, *, proposal_submitted_on: dt.date | None,
                 allocation_done_on: dt.date | None) -> dt.date | None:
    """When a step was done. A proposal counts as done once finance has completed the allocation."""
    if kind == PROPOSAL:
        return proposal_submitted_on or allocation_done_on
    return allocation_done_on


# -- performance targets -------------------------------------------------------------------------------
def target_met(direction: str, target: Decimal, actual: Decimal | None) -> bool | None:
    """Whether an evaluated target was reached (None while no actual value is recorded)."""
    if actual is None:
        return None
    if direction == "gte":
        return actual >= target
    if direction == "lte":
        return actual <= target
    raise DomainError(f"绩效目标方向“{direction}”无效，应为 ≥ 或 ≤。")


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    """part ÷ whole to four places (half up), None when whole is zero."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def time_progress(fiscal_year: int, on: dt.date) -> Decimal:
    """Share of the fiscal year elapsed at the end of `on` (0 before Jan 1, 1 after Dec 31)."""
    first, last = dt.date(fiscal_year, 1, 1), dt.date(fiscal_year, 12, 31)
    if on < first:
        return Decimal("0.0000")
    if on >= last:
        return Decimal("1.0000")
    return ratio(Decimal((on - first).days + 1), Decimal((last - first).days + 1))
