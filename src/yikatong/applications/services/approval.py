"""Department approval [003 §18]: approve or reject (with a reason the applicant sees), sampling for on-site
checks, and the gate through which the cross-check engine blocks approval while a blocking finding is open."""

from collections.abc import Callable, Iterable

from django.db import transaction

from yikatong.core import audit
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.policies.models import Policy

from .. import rules
from ..models import Application, Status
from ._common import ItemResult, as_key, move, need_text, require_in_scope, run_batch
from .applications import _start

# -- the findings gate -------------------------------------------------------------------------------------
# The checks app registers a function ids -> {id: message} for applications with open "block" findings.
_GATES: list[Callable[[list[int]], dict[int, str]]] = []


def register_findings_gate(gate: Callable[[list[int]], dict[int, str]]) -> None:
    """Called by the cross-check engine (checks app) from its AppConfig.ready()."""
    if gate not in _GATES:
        _GATES.append(gate)


def unregister_findings_gate(gate) -> None:
    if gate in _GATES:
        _GATES.remove(gate)


def findings_gate(application_ids: Iterable) -> dict[int, str]:
    """{application id: why it cannot be approved} for applications with open blocking findings.

    Today no engine is registered and the answer is {}; the checks issue plugs into it with
    register_findings_gate(). Approval refuses every item that has a message."""
    ids = [int(i) for i in application_ids]
    blocked: dict[int, str] = {}
    for gate in list(_GATES):
        for app_id, message in (gate(ids) or {}).items():
            if message:
                blocked.setdefault(int(app_id), str(message))
    return blocked


def _gate_message(message: str) -> str:
    return f"存在未处理的阻断性比对疑点，不能审核通过：{message}"


# -- single items ------------------------------------------------------------------------------------------
def _approve(*, actor: Scope, application_id, note: str = "", gate_checked: bool = False) -> Application:
    app, transition = _start(actor, application_id, "approve")
    if not gate_checked:
        message = findings_gate([app.pk]).get(app.pk)
        if message:
            raise DomainError(_gate_message(message), code="blocked_by_findings")
    note = str(note or "").strip()
    if app.sampled and not note:
        raise DomainError(f"申报 {app.number} 为抽查对象，请填写实地抽查核实情况后再审核。", field="note")
    app.rejection_reason = ""
    return move(actor, app, transition, reason=f"审核通过：{note}" if note else "审核通过",
                extra_fields=["rejection_reason"])


@transaction.atomic
def application_approve(*, actor: Scope, application_id, note: str = "") -> Application:
    """Approve a submitted application (the department of the policy's business line, in its region).
    Refused while the cross-check engine reports an open blocking finding (findings_gate); a sampled
    application needs the note of its on-site check."""
    return _approve(actor=actor, application_id=application_id, note=note)


@transaction.atomic
def application_reject(*, actor: Scope, application_id, reason: str) -> Application:
    """Reject a submitted application; the reason is kept on the application and shown to the applicant."""
    reason = need_text(reason, "请填写不通过原因（将告知申请人）。")
    app, transition = _start(actor, application_id, "reject")
    app.rejection_reason = reason
    return move(actor, app, transition, reason=reason, extra_fields=["rejection_reason"])


# -- batches -----------------------------------------------------------------------------------------------
def application_approve_batch(*, actor: Scope, application_ids, note: str = "") -> list[ItemResult]:
    """Approve many; each item is applied whole or refused with its own message. Items with open blocking
    findings are refused without being touched."""
    ids = list(dict.fromkeys(as_key(raw) for raw in application_ids or []))
    gated = findings_gate([i for i in ids if isinstance(i, int)])
    refused = {i: _gate_message(m) for i, m in gated.items()}

    def approve_one(*, application_id, **kwargs):
        return _approve(application_id=application_id, gate_checked=True, **kwargs)

    return run_batch(ids, approve_one, refused=refused, actor=actor, note=note)


def application_reject_batch(*, actor: Scope, application_ids, reason: str) -> list[ItemResult]:
    need_text(reason, "请填写不通过原因（将告知申请人）。")
    return run_batch(application_ids, application_reject, actor=actor, reason=reason)


# -- sampling ----------------------------------------------------------------------------------------------
@transaction.atomic
def approval_sample(*, actor: Scope, policy_code: str, period: str, region_code: str, ratio,
                    seed: str = "") -> list[Application]:
    """Mark a deterministic random sample of the submitted applications of a policy and period in a region
    (and below) for on-site checks (抽查). The same population, ratio and seed give the same sample; the
    default seed is "<policy>|<period>|<region>". Already sampled applications stay sampled. Returns the
    applications selected this time."""
    actor.require_write("application.approve")
    ratio = rules.clean_ratio(ratio)
    policy = Policy.objects.filter(code=str(policy_code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {policy_code} 不存在。", field="policy_code")
    period = rules.normalize_period(period)
    rules.parse_period(period)
    try:
        region_code = region_rules.normalize_code(region_code)
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code") from exc
    actor.require_object(region_code=region_code, business_line=policy.business_line)
    lo, hi = region_rules.subtree_range(region_code)
    population = actor.filter(
        Application.objects.filter(policy=policy, period=period, status=Status.SUBMITTED,
                                   region_id__gte=lo, region_id__lte=hi),
        business_line_field="business_line",
    )
    ids = list(population.order_by("pk").values_list("pk", flat=True))
    if not ids:
        raise DomainError(f"{period} 期间补贴项目 {policy.code} 在该区划没有待审核的申报，无需抽查。")
    seed = seed or f"{policy.code}|{period}|{region_code}"
    chosen = rules.select_sample(ids, ratio, seed)
    apps = list(Application.objects.select_for_update().filter(pk__in=chosen).order_by("pk"))
    for app in apps:
        require_in_scope(actor, app)
    Application.objects.filter(pk__in=chosen).update(sampled=True)
    audit.record(
        actor=actor, action="application.sample", object_type="applications.sample",
        object_id=f"{policy.code}|{period}|{region_code}",
        region_code=region_code,
        after={"policy": policy.code, "period": period, "ratio": str(ratio), "seed": seed,
               "population": len(ids), "sampled": [app.number for app in apps]},
    )
    for app in apps:
        app.sampled = True
    return apps
