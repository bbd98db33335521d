"""Time limits of workflow steps (SPEC §4).

The defaults below are data taken from the policy documents. An administrator may change the number of days
of any step on the "办理时限" page (service `time_limit_set`), which stores a `TimeLimit` row; that row then
wins over the default. Code asks `limit_for(step)` and never hard-codes a number of days.

Units: "wd" = working days (see yikatong.core.workdays), "cd" = calendar days (自然日).
A step marked `is_minimum` is a minimum duration (the public notice must stay up at least 3 working days),
not a deadline; `deadline_for` then gives the earliest day the step may end.
"""

from dataclasses import dataclass

WORKING_DAYS = "wd"
CALENDAR_DAYS = "cd"
UNIT_LABELS = {WORKING_DAYS: "工作日", CALENDAR_DAYS: "自然日"}


@dataclass(frozen=True)
class StepLimit:
    step: str
    label: str
    days: int
    unit: str
    source: str
    is_minimum: bool = False

    @property
    def unit_label(self) -> str:
        return UNIT_LABELS[self.unit]


DEFAULTS: dict[str, StepLimit] = {
    item.step: item
    for item in [
        StepLimit("initial_verification", "采集主体入户核实", 3, WORKING_DAYS, "003 §16"),
        StepLimit("public_notice", "公示（不少于）", 3, WORKING_DAYS, "003 §17", is_minimum=True),
        StepLimit("department_approval", "主管部门审核审批", 10, WORKING_DAYS, "003 §18"),
        StepLimit("finance_review", "财政部门审核资金申请", 5, WORKING_DAYS, "003 §20"),
        StepLimit("bank_payment", "代发银行支付到账", 2, WORKING_DAYS, "003 §21"),
        StepLimit("unpaid_return", "未成功发放资金退回国库", 1, WORKING_DAYS, "003 §9"),
        StepLimit("failure_correction", "主管部门更正发放失败信息", 3, WORKING_DAYS, "003 §6"),
        StepLimit("result_publication", "发放结果公开", 5, WORKING_DAYS, "003 §23"),
        StepLimit("central_funds_proposal", "中央资金：主管部门提出分配意见", 15, CALENDAR_DAYS, "003 §15"),
        StepLimit("central_funds_allocation", "中央资金：财政部门下达", 30, CALENDAR_DAYS, "003 §15"),
        StepLimit("prefecture_direct_allocation", "市州资金：直接分配到县的下达", 15, CALENDAR_DAYS, "003 §15"),
        StepLimit("prefecture_allocation", "市州资金：其他下达", 30, CALENDAR_DAYS, "003 §15"),
    ]
}


def register(*limits: StepLimit) -> None:
    """Apps add the default limits of their own steps (e.g. complaint handling) from AppConfig.ready()."""
    for limit in limits:
        if limit.unit not in UNIT_LABELS:
            raise ValueError(f"unknown unit {limit.unit!r} for step {limit.step!r}")
        if limit.days < 1:
            raise ValueError(f"time limit of {limit.step!r} must be at least 1 day")
        DEFAULTS[limit.step] = limit


def default_for(step: str) -> StepLimit:
    try:
        return DEFAULTS[step]
    except KeyError:
        raise KeyError(f"unknown time-limit step {step!r}") from None


def _configured_row(step: str):
    from yikatong.core.models import TimeLimit

    return TimeLimit.objects.filter(step=step).first()


def limit_for(step: str) -> tuple[int, str]:
    """(days, unit) of a step: the administrator's TimeLimit row if there is one, else the default.

    Raises KeyError naming the step when the step is neither configured nor a known default.
    """
    row = _configured_row(step)
    if row is not None:
        return row.days, row.unit
    default = default_for(step)
    return default.days, default.unit


@dataclass(frozen=True)
class EffectiveLimit:
    step: str
    label: str
    days: int
    unit: str
    source: str
    is_minimum: bool
    default_days: int | None
    configured: bool

    @property
    def unit_label(self) -> str:
        return UNIT_LABELS.get(self.unit, self.unit)


def effective_limits() -> list[EffectiveLimit]:
    """Every known step with its effective limit, defaults first in their documented order (one query)."""
    from yikatong.core.models import TimeLimit

    rows = {row.step: row for row in TimeLimit.objects.all()}
    result = []
    for step, default in DEFAULTS.items():
        row = rows.pop(step, None)
        result.append(EffectiveLimit(
            step=step, label=default.label, days=row.days if row else default.days,
            unit=row.unit if row else default.unit, source=default.source, is_minimum=default.is_minimum,
            default_days=default.days, configured=row is not None,
        ))
    for step, row in sorted(rows.items()):  # configured steps without a default (an app's own step)
        result.append(EffectiveLimit(
            step=step, label=row.label, days=row.days, unit=row.unit, source=row.source, is_minimum=False,
            default_days=None, configured=True,
        ))
    return result
