"""Payment items and their attempts.

A **payment item** is unique per (beneficiary, policy, period) across all plans, batches and regions: a database
constraint. Sending it again after a failure creates a new **attempt** under the same item; at most one attempt
is open (sent, no result yet) and at most one attempt is paid — both partial unique indexes, so a second payment
is impossible even if Python got it wrong.

Item:    pending ─batch─> sending ─result ok─> paid (terminal)
                                 └result failed─> failed ─correct (3 wd)─> corrected ─resend batch─> sending …
         pending/failed/corrected ─hold (card not payable / block finding)─> held ─release─> pending|corrected
         pending/held/failed/corrected ─remove (with reason)─> removed
Attempt: sent ─> paid | failed;  sent ─batch cancelled before the bank took it─> withdrawn
"""

from django.db import models
from django.db.models import Q

from yikatong.core.money import MoneyField


class ItemStatus(models.TextChoices):
    PENDING = "pending", "待发放"
    HELD = "held", "暂缓发放"
    SENDING = "sending", "发放中"
    PAID = "paid", "已发放"
    FAILED = "failed", "发放失败待更正"
    CORRECTED = "corrected", "已更正待补发"
    REMOVED = "removed", "已剔除"


# Items that may go into a (first or follow-up) batch.
SENDABLE_STATUSES = (ItemStatus.PENDING, ItemStatus.CORRECTED)


class AttemptStatus(models.TextChoices):
    SENT = "sent", "已发送待回盘"
    PAID = "paid", "成功"
    FAILED = "failed", "失败"
    WITHDRAWN = "withdrawn", "已撤回"


class PaymentItem(models.Model):
    # No index holds `status` or another column a bank result changes: on PostgreSQL applying a million results
    # is then a HOT update (the row is rewritten in its page, no index entry), with fillfactor 50 (migration
    # 0002) leaving the room for it. "Paid once" is the ledger's constraint dentry_paid_once.
    plan = models.ForeignKey("payments.DisbursementPlan", on_delete=models.PROTECT, related_name="items",
                             db_index=False)
    application = models.ForeignKey("applications.Application", on_delete=models.PROTECT, related_name="+",
                                    db_constraint=False)
    beneficiary = models.ForeignKey("registry.Beneficiary", on_delete=models.PROTECT, related_name="+",
                                    db_index=False)
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="+", db_index=False)
    period = models.CharField("补贴期间", max_length=7)
    region = models.ForeignKey("core.Region", verbose_name="所在区划", on_delete=models.PROTECT, related_name="+",
                               db_index=False)
    amount = MoneyField("金额")
    # The payee as it will be sent in the next attempt (kept in step with the one active PayeeAccount).
    payee_account = models.ForeignKey("registry.PayeeAccount", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", db_constraint=False)
    payee_name = models.CharField("收款人姓名", max_length=100)
    account_enc = models.BinaryField("收款账号（密文）")
    account_digest = models.CharField("收款账号摘要", max_length=64)
    account_masked = models.CharField("收款账号（脱敏）", max_length=40)
    bank_name = models.CharField("开户银行", max_length=100)
    status = models.CharField("状态", max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    hold_reason = models.CharField("暂缓/剔除原因", max_length=300, blank=True)
    attempt_count = models.PositiveSmallIntegerField("发放次数", default=0)
    last_failure_reason = models.CharField("最近失败原因", max_length=100, blank=True)
    correction_deadline = models.DateField("更正期限", null=True, blank=True)
    paid_on = models.DateField("到账日期", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "发放明细"
        verbose_name_plural = "发放明细"
        constraints = [
            models.UniqueConstraint(fields=["beneficiary", "policy", "period"], name="payment_item_once"),
            models.CheckConstraint(name="payment_item_amount_positive", condition=Q(amount__gt=0)),
        ]
        indexes = [
            models.Index(fields=["plan"], name="item_plan_idx"),
            models.Index(fields=["region"], name="item_region_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.payee_name} {self.period} {self.amount}"


class PaymentAttempt(models.Model):
    # As for items, no index holds a column a bank result changes (status, result_on, failure_reason,
    # result_import, returned_on): results are HOT updates on PostgreSQL. One open attempt per item is kept by
    # batch creation (items move pending/corrected → sending in the statement that creates their attempts, under
    # the plan lock); one paid attempt per item by the ledger's dentry_paid_once.
    item = models.ForeignKey(PaymentItem, on_delete=models.PROTECT, related_name="attempts", db_index=False)
    attempt_no = models.PositiveSmallIntegerField("第几次发放")
    batch = models.ForeignKey("payments.PaymentBatch", on_delete=models.PROTECT, related_name="attempts",
                              db_index=False)
    seq = models.PositiveIntegerField("批次内序号")
    amount = MoneyField("金额")
    payee_name = models.CharField("收款人姓名", max_length=100)
    account_enc = models.BinaryField("收款账号（密文）")
    account_digest = models.CharField("收款账号摘要", max_length=64)
    account_masked = models.CharField("收款账号（脱敏）", max_length=40)
    bank_name = models.CharField("开户银行", max_length=100)
    status = models.CharField("结果", max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.SENT)
    result_on = models.DateField("处理日期", null=True, blank=True)
    failure_reason = models.CharField("失败原因", max_length=100, blank=True)
    result_import = models.ForeignKey("payments.ResultImport", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", db_constraint=False, db_index=False)
    returned_on = models.DateField("退回国库日期", null=True, blank=True)

    class Meta:
        verbose_name = "发放记录"
        verbose_name_plural = "发放记录"
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="attempt_batch_seq"),
            models.UniqueConstraint(fields=["item", "attempt_no"], name="attempt_item_no"),
            models.CheckConstraint(name="attempt_amount_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}-{self.seq} 第{self.attempt_no}次"


class ItemEvent(models.Model):
    """The human history of an item (hold, release, correction, removal); results live on the attempts."""

    item = models.ForeignKey(PaymentItem, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.CharField(max_length=150)
    at = models.DateTimeField()
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.item_id} {self.action}"
