"""Performance targets (绩效目标): set with the budget, evaluated with the actual value [000 §15; 003 §5-6].

The competent department of the policy's business line (or the finance bureau) of a region sets the
targets of a policy for a fiscal year in that region and later records what was achieved. A target's
value cannot change once an actual value is recorded (the evaluation would no longer match it).
"""

from decimal import Decimal

from django.db import transaction

from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Region
from yikatong.core.scope import Scope

from .. import rules, rules_indicators
from ..models import PerformanceTarget, Policy, PolicyStatus, TargetCategory, TargetDirection

VALUE_PLACES = Decimal("0.0001")


def _value(value, what: str) -> Decimal:
    amount = rules.to_decimal(value, what=what)
    if amount != amount.quantize(VALUE_PLACES):
        raise DomainError(f"{what}“{value}”最多保留四位小数。")
    if amount < 0:
        raise DomainError(f"{what}不能为负数。")
    if amount >= Decimal(10) ** 14:
        raise DomainError(f"{what}“{value}”超出范围。")
    return amount.quantize(VALUE_PLACES)


def _require_target_manager(actor: Scope, *, region_code: str, policy: Policy) -> None:
    actor.require_write("target.manage")
    actor.require_region(region_code)
    if not actor.is_system:
        if actor.region_code != region_code:
            raise ScopeError("绩效目标由本区划的主管部门或财政部门设定和评价。")
        actor.require_business_line(policy.business_line)


def _as_dict(target: PerformanceTarget) -> dict:
    return {
        "policy": target.policy.code, "fiscal_year": target.fiscal_year, "region": target.region_id,
        "category": target.category, "name": target.name, "target_value": str(target.target_value),
        "unit": target.unit, "direction": target.direction,
        "actual_value": None if target.actual_value is None else str(target.actual_value),
        "evaluation_note": target.evaluation_note,
    }


@transaction.atomic
def target_set(*, actor: Scope, policy_code: str, fiscal_year: int, region_code: str, category: str, name: str,
               target_value, unit: str = "", direction: str = TargetDirection.AT_LEAST) -> PerformanceTarget:
    """Create the target (policy, year, region, name) or change its value, unit, category or direction.
    Changing is refused once an actual value was recorded."""
    try:
        region_code = region_rules.normalize_code(str(region_code or ""))
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region") from None
    if not Region.objects.filter(pk=region_code).exists():
        raise DomainError(f"行政区划 {region_code} 不存在。", field="region")
    policy = Policy.objects.filter(code=str(policy_code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {policy_code} 不存在。", field="policy")
    _require_target_manager(actor, region_code=region_code, policy=policy)
    if policy.status == PolicyStatus.RETIRED:
        raise DomainError(f"补贴项目 {policy.code} 已停止执行，不能设定绩效目标。", field="policy")
    if not region_rules.is_within(region_code, policy.region_id):
        raise DomainError(f"补贴项目 {policy.code} 不适用于区划 {region_code}。", field="policy")
    try:
        fiscal_year = int(fiscal_year)
    except (TypeError, ValueError):
        raise DomainError(f"预算年度“{fiscal_year}”无效。", field="fiscal_year") from None
    if category not in TargetCategory.values:
        choices = "、".join(f"{v}（{label}）" for v, label in TargetCategory.choices)
        raise DomainError(f"绩效指标类别“{category}”无效，可选：{choices}。", field="category")
    if direction not in TargetDirection.values:
        raise DomainError(f"绩效目标方向“{direction}”无效，应为 gte（≥）或 lte（≤）。", field="direction")
    name = str(name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("请填写绩效指标名称（最多 100 个字）。", field="name")
    unit = str(unit or "").strip()
    if len(unit) > 20:
        raise DomainError("计量单位过长（最多 20 个字）。", field="unit")
    value = _value(target_value, "目标值")
    now = clock.now()
    target = (PerformanceTarget.objects.select_for_update().select_related("policy")
              .filter(policy=policy, fiscal_year=fiscal_year, region_id=region_code, name=name).first())
    if target is None:
        target = PerformanceTarget.objects.create(
            policy=policy, fiscal_year=fiscal_year, region_id=region_code, category=category, name=name,
            target_value=value, unit=unit, direction=direction, set_by=actor.username, created_at=now,
            updated_at=now)
        audit.record(actor=actor, action="target.set", obj=target, after=_as_dict(target))
        return target
    if target.actual_value is not None:
        raise DomainError(f"绩效目标“{name}”已于 {target.evaluated_at:%Y-%m-%d} 评价，不能再修改目标值。")
    before = _as_dict(target)
    target.category, target.target_value, target.unit, target.direction = category, value, unit, direction
    after = _as_dict(target)
    if after == before:
        raise DomainError(f"绩效目标“{name}”没有变化。")
    target.set_by, target.updated_at = actor.username, now
    target.save()
    audit.record(actor=actor, action="target.set", obj=target, before=before, after=after)
    return target


@transaction.atomic
def target_record_actual(*, actor: Scope, target_id: int, actual_value, note: str = "") -> PerformanceTarget:
    """Record (or correct, with a note saying why) the achieved value of a target."""
    target = PerformanceTarget.objects.select_for_update().select_related("policy").filter(pk=target_id).first()
    if target is None:
        raise DomainError(f"绩效目标 {target_id} 不存在。", code="not_found")
    _require_target_manager(actor, region_code=target.region_id, policy=target.policy)
    value = _value(actual_value, "实际完成值")
    note = str(note or "").strip()
    if target.actual_value is not None and not note:
        raise DomainError("该绩效目标已评价，更正实际完成值请填写说明。", field="note")
    before = _as_dict(target)
    target.actual_value, target.evaluation_note = value, note
    target.evaluated_at, target.evaluated_by = clock.now(), actor.username
    target.save(update_fields=["actual_value", "evaluation_note", "evaluated_at", "evaluated_by"])
    met = rules_indicators.target_met(target.direction, target.target_value, value)
    audit.record(actor=actor, action="target.record_actual", obj=target, before=before,
                 after={**_as_dict(target), "met": met}, reason=note)
    return target
