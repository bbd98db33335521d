"""The state machines of the money path, declared in one place (see the model modules for the diagrams).

Each transition names the permission that performs it and the time-limit step (core.time_limits) that starts
when the object arrives in the target state ("" = none). Services call `plan_transition`/`batch_transition`/
`item_transition` to learn whether a move is allowed; they refuse with a Chinese message otherwise.
"""

from dataclasses import dataclass

from yikatong.core.errors import TransitionError

from .models import BatchStatus, ItemStatus, PlanStatus

FINANCE_REVIEW = "finance_review"
BANK_PAYMENT = "bank_payment"
UNPAID_RETURN = "unpaid_return"
FAILURE_CORRECTION = "failure_correction"
RESULT_PUBLICATION = "result_publication"


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str
    permission: str
    step: str = ""


PLAN_TRANSITIONS: tuple[Transition, ...] = (
    Transition("approve", "审批发放方案", (PlanStatus.DRAFT,), PlanStatus.APPROVED, "payment.plan"),
    Transition("submit", "报送财政审核", (PlanStatus.APPROVED, PlanStatus.RETURNED), PlanStatus.SUBMITTED,
               "payment.plan", FINANCE_REVIEW),
    Transition("review_ok", "财政审核通过", (PlanStatus.SUBMITTED,), PlanStatus.REVIEWED, "payment.review"),
    Transition("return", "财政审核退回", (PlanStatus.SUBMITTED,), PlanStatus.RETURNED, "payment.review"),
    Transition("mount", "挂接预算指标", (PlanStatus.REVIEWED,), PlanStatus.MOUNTED, "payment.plan"),
    Transition("issue", "生成支付凭证", (PlanStatus.MOUNTED,), PlanStatus.VOUCHERED, "payment.plan"),
    Transition("pay", "发送银行", (PlanStatus.VOUCHERED,), PlanStatus.PAYING, "payment.plan"),
    Transition("complete", "发放完成", (PlanStatus.PAYING,), PlanStatus.COMPLETED, "payment.plan"),
    Transition("cancel", "作废方案", (PlanStatus.DRAFT, PlanStatus.APPROVED, PlanStatus.RETURNED),
               PlanStatus.CANCELLED, "payment.plan"),
)

BATCH_TRANSITIONS: tuple[Transition, ...] = (
    Transition("release", "发送银行", (BatchStatus.PREPARED,), BatchStatus.RELEASED, "payment.plan", BANK_PAYMENT),
    Transition("fetch", "银行接收", (BatchStatus.RELEASED,), BatchStatus.FETCHED, "bank.exchange"),
    Transition("partial", "部分回盘", (BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL),
               BatchStatus.PARTIAL, "payment.result"),
    Transition("complete", "回盘完成", (BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL),
               BatchStatus.COMPLETED, "payment.result"),
    Transition("cancel", "撤销批次", (BatchStatus.PREPARED,), BatchStatus.CANCELLED, "payment.plan"),
)

ITEM_TRANSITIONS: tuple[Transition, ...] = (
    Transition("send", "发送", (ItemStatus.PENDING, ItemStatus.CORRECTED), ItemStatus.SENDING, "payment.plan"),
    Transition("paid", "发放成功", (ItemStatus.SENDING,), ItemStatus.PAID, "payment.result"),
    Transition("failed", "发放失败", (ItemStatus.SENDING,), ItemStatus.FAILED, "payment.result",
               FAILURE_CORRECTION),
    Transition("withdraw", "撤回", (ItemStatus.SENDING,), ItemStatus.PENDING, "payment.plan"),
    Transition("correct", "更正信息", (ItemStatus.FAILED, ItemStatus.CORRECTED), ItemStatus.CORRECTED,
               "payment.correct"),
    Transition("hold", "暂缓发放", (ItemStatus.PENDING, ItemStatus.FAILED, ItemStatus.CORRECTED), ItemStatus.HELD,
               "payment.plan"),
    # Released from hold, an item goes back to where it was held: pending (its money still committed or committed
    # on release), failed (still to be corrected) or corrected (committed again by its follow-up batch).
    Transition("unhold", "恢复发放", (ItemStatus.HELD,), ItemStatus.PENDING, "payment.plan"),
    Transition("unhold_failed", "恢复发放", (ItemStatus.HELD,), ItemStatus.FAILED, "payment.plan"),
    Transition("unhold_corrected", "恢复发放", (ItemStatus.HELD,), ItemStatus.CORRECTED, "payment.plan"),
    Transition("remove", "剔除", (ItemStatus.PENDING, ItemStatus.HELD, ItemStatus.FAILED, ItemStatus.CORRECTED),
               ItemStatus.REMOVED, "payment.plan"),
)

_TABLES = {"plan": PLAN_TRANSITIONS, "batch": BATCH_TRANSITIONS, "item": ITEM_TRANSITIONS}
_LABELS = {"plan": PlanStatus, "batch": BatchStatus, "item": ItemStatus}
_NOUNS = {"plan": "发放方案", "batch": "代发批次", "item": "发放明细"}


def transition(kind: str, action: str, current: str) -> Transition:
    """The transition `action` of a `kind` object in state `current`, or a TransitionError in Chinese."""
    for tr in _TABLES[kind]:
        if tr.action == action:
            if current in tr.sources:
                return tr
            label = dict(_LABELS[kind].choices).get(current, current)
            raise TransitionError(f"{_NOUNS[kind]}当前状态为“{label}”，不能{tr.label}。")
    raise KeyError(f"unknown {kind} action {action!r}")


def plan_transition(action: str, current: str) -> Transition:
    return transition("plan", action, current)


def batch_transition(action: str, current: str) -> Transition:
    return transition("batch", action, current)


def item_transition(action: str, current: str) -> Transition:
    return transition("item", action, current)


def actions_for(kind: str, current: str) -> list[Transition]:
    """Transitions available from a state (for buttons)."""
    return [tr for tr in _TABLES[kind] if current in tr.sources]
