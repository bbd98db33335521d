"""Payee accounts (one person, one card): the social security card's bank account is the default;
another bank account only as a recorded, transitional exception. Changes create a new row; the old
one is kept, inactive, with who/when/why."""

from django.db import models
from django.db.models import Q

from yikatong.core.indexes import DigestIndex


class AccountKind(models.TextChoices):
    SSC_CARD = "ssc_card", "社会保障卡银行账户"
    OTHER_BANK = "other_bank", "其他银行账户（过渡期例外）"
    CORPORATE = "corporate", "对公账户"


class CardStatus(models.TextChoices):
    ACTIVATED = "activated", "已激活"
    NOT_ACTIVATED = "not_activated", "未激活"
    LOST = "lost", "挂失"
    CANCELLED = "cancelled", "注销"
    UNKNOWN = "unknown", "未核验"


# Statuses with which money must not be sent to the bank [003 §6(二)5].
UNPAYABLE_CARD_STATUSES = (CardStatus.NOT_ACTIVATED, CardStatus.LOST, CardStatus.CANCELLED)


class PayeeAccount(models.Model):
    beneficiary = models.ForeignKey("registry.Beneficiary", on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField("账户类型", max_length=12, choices=AccountKind.choices, default=AccountKind.SSC_CARD)
    bank_name = models.CharField("开户银行", max_length=100)
    account_enc = models.BinaryField("账号（密文）")
    account_digest = models.CharField("账号摘要", max_length=64)  # DigestIndex in Meta.indexes
    account_masked = models.CharField("账号（脱敏）", max_length=40)
    card_status = models.CharField("金融功能状态", max_length=14, choices=CardStatus.choices, default=CardStatus.UNKNOWN)
    card_status_checked_at = models.DateTimeField("状态核验时间", null=True, blank=True)
    exception_reason = models.CharField("例外原因", max_length=200, blank=True)
    is_active = models.BooleanField("当前有效", default=True)
    version = models.PositiveIntegerField("版本", default=1)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "收款账户"
        verbose_name_plural = "收款账户"
        constraints = [
            models.UniqueConstraint(
                fields=["beneficiary"], condition=Q(is_active=True), name="one_active_payee_account"
            ),
            models.CheckConstraint(
                name="other_bank_needs_reason",
                condition=~Q(kind="other_bank") | ~Q(exception_reason=""),
            ),
        ]
        indexes = [DigestIndex(fields=["account_digest"], name="payeeaccount_account_digest")]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.account_masked}"

    @property
    def payable(self) -> bool:
        return self.is_active and self.card_status not in UNPAYABLE_CARD_STATUSES
