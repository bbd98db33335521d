"""Every write of the one list. Import the functions from here:

    from yikatong.policies.services import policy_create, library_require, change_request_approve, …
"""

from .changes import (
    change_request_approve,
    change_request_create,
    change_request_return,
    change_request_revise,
    change_request_submit,
    change_request_withdraw,
)
from .indicators import (
    indicator_allocate,
    indicator_allocation_complete,
    indicator_close,
    indicator_commit,
    indicator_pay,
    indicator_proposal_submit,
    indicator_receive,
    indicator_recompute,
    indicator_release,
    indicator_return,
    indicator_verify,
)
from .library import (
    library_allows,
    library_build_from_list,
    library_entry_remove,
    library_expire,
    library_is_locked,
    library_lock,
    library_require,
)
from .lists import list_file, list_item_add, list_item_remove, list_items_submit, list_publish, list_return
from .policies import policy_activate, policy_create, policy_retire, policy_update
from .targets import target_record_actual, target_set

__all__ = [
    "indicator_allocate",
    "indicator_allocation_complete",
    "indicator_close",
    "indicator_commit",
    "indicator_pay",
    "indicator_proposal_submit",
    "indicator_receive",
    "indicator_recompute",
    "indicator_release",
    "indicator_return",
    "indicator_verify",
    "target_record_actual",
    "target_set",
    "change_request_approve",
    "change_request_create",
    "change_request_return",
    "change_request_revise",
    "change_request_submit",
    "change_request_withdraw",
    "library_allows",
    "library_build_from_list",
    "library_entry_remove",
    "library_expire",
    "library_is_locked",
    "library_lock",
    "library_require",
    "list_file",
    "list_item_add",
    "list_item_remove",
    "list_items_submit",
    "list_publish",
    "list_return",
    "policy_activate",
    "policy_create",
    "policy_retire",
    "policy_update",
]
