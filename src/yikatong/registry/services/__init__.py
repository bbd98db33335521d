"""Every write of the registry (beneficiaries, payee accounts, card statuses). Import from here:

    from yikatong.registry.services import beneficiary_register_person, payee_account_set, …
"""

from .accounts import payee_account_set
from .beneficiaries import (
    beneficiary_lookup,
    beneficiary_register_organization,
    beneficiary_register_person,
    beneficiary_update,
)
from .cards import card_status_refresh_bulk, card_status_update

__all__ = [
    "beneficiary_lookup",
    "beneficiary_register_organization",
    "beneficiary_register_person",
    "beneficiary_update",
    "card_status_refresh_bulk",
    "card_status_update",
    "payee_account_set",
]
