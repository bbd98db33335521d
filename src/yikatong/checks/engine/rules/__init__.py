"""One module per rule group; importing this package registers every rule function in base.REGISTRY."""

from . import identity, platform, sources  # noqa: F401  (registration)
from .base import REGISTRY, Registered
from .platform import PAID_RECORD_COLUMNS, register_paid_records, unregister_paid_records

__all__ = ["PAID_RECORD_COLUMNS", "REGISTRY", "Registered", "register_paid_records", "unregister_paid_records"]
