from .beneficiaries import Beneficiary, BeneficiaryKind, BeneficiaryVersion, Household
from .accounts import AccountKind, CardStatus, PayeeAccount

__all__ = [
    "AccountKind",
    "Beneficiary",
    "BeneficiaryKind",
    "BeneficiaryVersion",
    "CardStatus",
    "Household",
    "PayeeAccount",
]
