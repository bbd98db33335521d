"""The state machines of the one list, each declared once, and the helper that enforces them.

A table maps state → {action: next state}. Services call `next_state(...)` before they change anything;
an action not allowed from the current state raises TransitionError with a message a person can act on.
"""

from yikatong.core.errors import TransitionError

from .models import ChangeStatus, ItemStatus, ListStatus, PolicyStatus

ACTION_LABELS = {
    "activate": "启用",
    "retire": "停止执行",
    "submit": "提交",
    "remove": "删除",
    "file": "报备",
    "publish": "公布",
    "return": "退回",
    "approve_step": "审核同意",
    "approve_final": "审批同意",
    "withdraw": "撤回",
    "cancel": "取消",
}

POLICY_TRANSITIONS = {
    PolicyStatus.DRAFT: {"activate": PolicyStatus.ACTIVE, "retire": PolicyStatus.RETIRED},
    PolicyStatus.ACTIVE: {"retire": PolicyStatus.RETIRED},
    PolicyStatus.RETIRED: {},
}

# A list is edited while draft. Prefecture and county lists are filed (by the prefecture finance); the
# province list is published directly with the filed lists below it. A filed list may be returned.
LIST_TRANSITIONS = {
    ListStatus.DRAFT: {"file": ListStatus.FILED, "publish": ListStatus.PUBLISHED},
    ListStatus.FILED: {"publish": ListStatus.PUBLISHED, "return": ListStatus.DRAFT},
    ListStatus.PUBLISHED: {},
}

ITEM_TRANSITIONS = {
    ItemStatus.DRAFT: {"submit": ItemStatus.SUBMITTED},
    ItemStatus.SUBMITTED: {"cancel": ItemStatus.REMOVED},
    ItemStatus.REMOVED: {},
}

CHANGE_TRANSITIONS = {
    ChangeStatus.DRAFT: {"submit": ChangeStatus.IN_REVIEW, "withdraw": ChangeStatus.WITHDRAWN},
    ChangeStatus.IN_REVIEW: {
        "approve_step": ChangeStatus.IN_REVIEW,
        "approve_final": ChangeStatus.APPROVED,
        "return": ChangeStatus.RETURNED,
    },
    ChangeStatus.RETURNED: {"submit": ChangeStatus.IN_REVIEW, "withdraw": ChangeStatus.WITHDRAWN},
    ChangeStatus.APPROVED: {},
    ChangeStatus.WITHDRAWN: {},
}

_STATE_LABELS = {
    id(POLICY_TRANSITIONS): dict(PolicyStatus.choices),
    id(LIST_TRANSITIONS): dict(ListStatus.choices),
    id(ITEM_TRANSITIONS): dict(ItemStatus.choices),
    id(CHANGE_TRANSITIONS): dict(ChangeStatus.choices),
}


def next_state(table: dict, current: str, action: str, *, what: str) -> str:
    """The state after `action`, or TransitionError naming the current state and what is allowed."""
    allowed = table.get(current, {})
    if action in allowed:
        return str(allowed[action])
    labels = _STATE_LABELS.get(id(table), {})
    state = labels.get(current, current)
    possible = "、".join(ACTION_LABELS.get(a, a) for a in allowed) or "无（已办结）"
    raise TransitionError(
        f"{what}当前状态为“{state}”，不能{ACTION_LABELS.get(action, action)}。当前可执行的操作：{possible}。",
        code="illegal_transition",
    )
