"""Models of the one list, one module per concern (policy, lists, library, changes, indicators, targets)."""

from .changes import ChangeRequest, ChangeRequestStep, ChangeStatus, ChangeType
from .indicators import HUIMIN_TAG, BudgetIndicator, EntryKind, IndicatorEntry, IndicatorStatus
from .library import EntryStatus, LibraryEntry, LibraryLock
from .lists import AnnualListItem, AnnualListVersion, AnnualPolicyList, ItemStatus, ListPart, ListStatus
from .policy import Cycle, GovLevel, Policy, PolicyDocument, PolicyStatus, PolicyVersion, StandardType
from .targets import PerformanceTarget, TargetCategory, TargetDirection

__all__ = [
    "BudgetIndicator",
    "EntryKind",
    "HUIMIN_TAG",
    "IndicatorEntry",
    "IndicatorStatus",
    "PerformanceTarget",
    "TargetCategory",
    "TargetDirection",
    "AnnualListItem",
    "AnnualListVersion",
    "AnnualPolicyList",
    "ChangeRequest",
    "ChangeRequestStep",
    "ChangeStatus",
    "ChangeType",
    "Cycle",
    "EntryStatus",
    "GovLevel",
    "ItemStatus",
    "LibraryEntry",
    "LibraryLock",
    "ListPart",
    "ListStatus",
    "Policy",
    "PolicyDocument",
    "PolicyStatus",
    "PolicyVersion",
    "StandardType",
]
