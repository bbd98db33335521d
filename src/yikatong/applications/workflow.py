"""The state machines of collection and approval, declared in one place [003 §16-18].

Application:

    (new) ─create─> collected ─verify─> verified ─publish─> in_notice ─submit─> submitted ─approve─> approved
               (3 wd 入户核实)                          (≥ 3 wd 公示)       (10 wd 审核)   └reject─> rejected
    collected/verified/in_notice ─return (collector)─> returned ─correct─> collected
    submitted ─return (department)─> returned
    in_notice ─objection upheld─> returned (correct and re-notice) | rejected (ineligible)
    collected/verified/returned/in_notice/submitted ─withdraw─> withdrawn

Each transition names the permission that performs it and the time-limit step (core.time_limits) that starts
when the application arrives in the target state; `step_deadline` is computed from that step with the
working-day calendar. Region and business line are checked by the services (Scope.require_object).

Notice: open ─close─> closed; open|closed ─republish─> superseded (a corrected round replaces it).
Objection: open ─resolve─> upheld | dismissed.
"""

from dataclasses import dataclass

from yikatong.core.errors import ScopeError, TransitionError

from .models import Status
from .models.notices import Objection, PublicNotice

# Time-limit steps (keys of yikatong.core.time_limits) running while an application is in a state.
INITIAL_VERIFICATION = "initial_verification"
PUBLIC_NOTICE = "public_notice"
DEPARTMENT_APPROVAL = "department_approval"

STATE_STEPS: dict[str, str] = {
    Status.COLLECTED: INITIAL_VERIFICATION,
    Status.IN_NOTICE: PUBLIC_NOTICE,
    Status.SUBMITTED: DEPARTMENT_APPROVAL,
}
# Steps whose limit is a minimum duration, not a deadline (the notice must stay up at least N days).
MINIMUM_STEPS = {PUBLIC_NOTICE}
# States whose step has a real deadline: these can be overdue.
DEADLINE_STATES = tuple(state for state, step in STATE_STEPS.items() if step not in MINIMUM_STEPS)
FINAL_STATES = (Status.APPROVED, Status.REJECTED, Status.WITHDRAWN)


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str
    permission: str
    # The step that starts on arrival ("" = no time limit; "keep" = the running step continues).
    step: str = ""


KEEP = "keep"

TRANSITIONS: tuple[Transition, ...] = (
    Transition("create", "新建申报", ("",), Status.COLLECTED, "application.collect", INITIAL_VERIFICATION),
    Transition("verify", "入户核实通过", (Status.COLLECTED,), Status.VERIFIED, "application.collect"),
    Transition("return", "退回修改", (Status.COLLECTED, Status.VERIFIED, Status.IN_NOTICE), Status.RETURNED,
               "application.collect"),
    Transition("return", "退回修改", (Status.SUBMITTED,), Status.RETURNED, "application.approve"),
    Transition("correct", "更正", (Status.RETURNED,), Status.COLLECTED, "application.collect", INITIAL_VERIFICATION),
    Transition("correct", "更正", (Status.COLLECTED,), Status.COLLECTED, "application.collect", KEEP),
    Transition("withdraw", "撤回",
               (Status.COLLECTED, Status.VERIFIED, Status.RETURNED, Status.IN_NOTICE, Status.SUBMITTED),
               Status.WITHDRAWN, "application.collect"),
    Transition("publish", "公示", (Status.VERIFIED,), Status.IN_NOTICE, "notice.manage", PUBLIC_NOTICE),
    Transition("republish", "更正后重新公示", (Status.VERIFIED, Status.IN_NOTICE), Status.IN_NOTICE,
               "notice.manage", PUBLIC_NOTICE),
    Transition("objection_return", "异议成立退回更正", (Status.IN_NOTICE,), Status.RETURNED, "objection.record"),
    Transition("objection_reject", "异议成立不予补贴", (Status.IN_NOTICE,), Status.REJECTED, "objection.record"),
    Transition("submit", "报送主管部门", (Status.IN_NOTICE,), Status.SUBMITTED, "application.collect",
               DEPARTMENT_APPROVAL),
    Transition("approve", "审核通过", (Status.SUBMITTED,), Status.APPROVED, "application.approve"),
    Transition("reject", "审核不通过", (Status.SUBMITTED,), Status.REJECTED, "application.approve"),
)

ACTION_LABELS = {t.action: t.label for t in TRANSITIONS}
ACTION_LABELS["return"] = "退回修改"
STATUS_LABELS = dict(Status.choices)

NOTICE_TRANSITIONS = {
    PublicNotice.Status.OPEN: {"close": PublicNotice.Status.CLOSED, "republish": PublicNotice.Status.SUPERSEDED},
    PublicNotice.Status.CLOSED: {"republish": PublicNotice.Status.SUPERSEDED},
    PublicNotice.Status.SUPERSEDED: {},
}
NOTICE_ACTION_LABELS = {"close": "结束公示", "republish": "更正后重新公示"}

OBJECTION_TRANSITIONS = {
    Objection.Status.OPEN: {"uphold": Objection.Status.UPHELD, "dismiss": Objection.Status.DISMISSED},
    Objection.Status.UPHELD: {},
    Objection.Status.DISMISSED: {},
}


def transitions_for(action: str) -> list[Transition]:
    found = [t for t in TRANSITIONS if t.action == action]
    if not found:
        raise KeyError(f"unknown application action {action!r}")
    return found


def allowed_actions(state: str) -> list[str]:
    """Actions possible from a state, in declaration order, each once."""
    return list(dict.fromkeys(t.action for t in TRANSITIONS if state in t.sources))


def find_transition(action: str, state: str) -> Transition | None:
    for transition in transitions_for(action):
        if state in transition.sources:
            return transition
    return None


def require_transition(actor, action: str, state: str, *, what: str = "该申报") -> Transition:
    """The transition for `action` from `state` that `actor` may perform.

    ScopeError when the actor's role can perform `action` from no state at all (wrong role);
    TransitionError naming the current state and the possible actions when the state does not allow it;
    ScopeError when the state allows it only for another role (e.g. a collector returning a submitted one).
    """
    candidates = transitions_for(action)
    if not any(actor.can(t.permission) for t in candidates):
        actor.require_write(candidates[0].permission)  # raises with the standard message
    transition = find_transition(action, state)
    if transition is None:
        possible = "、".join(ACTION_LABELS[a] for a in allowed_actions(state) if a != "create") or "无（已办结）"
        raise TransitionError(
            f"{what}当前状态为“{STATUS_LABELS.get(state, state)}”，不能{ACTION_LABELS[action]}。"
            f"当前可执行的操作：{possible}。",
            code="illegal_transition",
        )
    if not actor.can(transition.permission):
        raise ScopeError(
            f"{what}当前状态为“{STATUS_LABELS.get(state, state)}”，{ACTION_LABELS[action]}须由其他角色办理。",
            code="forbidden",
        )
    actor.require_write(transition.permission)
    return transition


def notice_next(state: str, action: str, *, what: str) -> str:
    allowed = NOTICE_TRANSITIONS.get(state, {})
    if action in allowed:
        return str(allowed[action])
    label = dict(PublicNotice.Status.choices).get(state, state)
    possible = "、".join(NOTICE_ACTION_LABELS[a] for a in allowed) or "无"
    raise TransitionError(
        f"{what}当前状态为“{label}”，不能{NOTICE_ACTION_LABELS.get(action, action)}。当前可执行的操作：{possible}。",
        code="illegal_transition",
    )


def objection_next(state: str, action: str) -> str:
    allowed = OBJECTION_TRANSITIONS.get(state, {})
    if action in allowed:
        return str(allowed[action])
    label = dict(Objection.Status.choices).get(state, state)
    raise TransitionError(f"该异议已处理（{label}），不能重复处理。", code="illegal_transition")
