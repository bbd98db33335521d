from .accounts import AccountKind, CardStatus, PayeeAccount
from .beneficiaries import Beneficiary, BeneficiaryKind, BeneficiaryVersion, Household

__all__ = [
    "AccountKind",
    "Beneficiary",
    "BeneficiaryKind",
    "BeneficiaryVersion",
    "CardStatus",
    "Household",
    "PayeeAccount",
]
