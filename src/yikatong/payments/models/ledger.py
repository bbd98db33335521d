"""The disbursement ledger (发放明细账/总账): append-only entries; balances are sums of entries.

Per plan, at any time:  committed − released = unsent + in_flight + paid + returned
where unsent = committed money not yet in a released batch. Per attempt (detail ledger): SENT when its batch is
released, then PAID or FAILED from the bank's result, and RETURNED when failed money is back in the treasury.
The indicator ledger (policies.IndicatorEntry) moves in step: committed on mount / resend, paid when a batch is
released, returned for failed money, released for money removed from the plan.
"""

from django.db import models

from yikatong.core.money import MoneyField


class EntryKind(models.TextChoices):
    COMMITTED = "committed", "挂接指标"
    SENT = "sent", "拨付银行"
    PAID = "paid", "发放成功"
    FAILED = "failed", "发放失败"
    RETURNED = "returned", "退回国库"
    RELEASED = "released", "释放挂接"


# (column, modulus) of the hash totals of an entry: Σ fen × (attempt id mod modulus + 1) over its attempts.
ENTRY_CONTROLS = (("control_a", 1009), ("control_b", 997))


class DisbursementEntry(models.Model):
    """One entry of the disbursement ledger (发放台账).

    Commitments, releases and the SENT entries of a released batch are booked one entry per plan or per attempt.
    The results of a bank result import are booked as general-ledger entries: one PAID/FAILED entry per batch,
    kind and booking day of the import, and one RETURNED entry per batch and return day — `lines` attempts each,
    their detail being the attempts themselves (status, result_on, returned_on, result_import: the detail
    ledger). `control_a`/`control_b` are hash totals of those attempts (Σ fen × (attempt id mod 1009 + 1), resp.
    mod 997) so that the reconciliation still notices errors that cancel out between attempts."""

    # The ledger is written only set-based from existing plans, batches, attempts and indicators (a million
    # entries per released batch); per-row foreign-key checks at commit cost more than the whole matching, so
    # the references are not database constraints. Reconciliation checks every entry against its attempts/batch.
    plan = models.ForeignKey("payments.DisbursementPlan", on_delete=models.PROTECT, related_name="+",
                             db_index=False, db_constraint=False)
    batch = models.ForeignKey("payments.PaymentBatch", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_index=False, db_constraint=False)
    attempt = models.ForeignKey("payments.PaymentAttempt", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", db_constraint=False, db_index=False)
    item = models.ForeignKey("payments.PaymentItem", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+", db_constraint=False, db_index=False)
    # The import that booked a result entry (PAID, FAILED, RETURNED).
    result_import = models.ForeignKey("payments.ResultImport", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", db_constraint=False, db_index=False)
    indicator = models.ForeignKey("policies.BudgetIndicator", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", db_index=False, db_constraint=False)
    kind = models.CharField("类型", max_length=10, choices=EntryKind.choices)
    amount = MoneyField("金额")
    lines = models.PositiveIntegerField("笔数", default=1, db_default=1)
    control_a = models.BigIntegerField("校验和A", default=0, db_default=0)
    control_b = models.BigIntegerField("校验和B", default=0, db_default=0)
    booked_on = models.DateField("记账日期")
    created_at = models.DateTimeField("记录时间")
    actor = models.CharField("操作人", max_length=150)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "发放台账分录"
        indexes = [
            models.Index(fields=["plan", "kind"], name="dentry_plan_kind_idx"),
            models.Index(fields=["batch", "kind"], name="dentry_batch_kind_idx"),
            models.Index(fields=["booked_on"], name="dentry_booked_idx"),
        ]
        constraints = [
            models.CheckConstraint(name="dentry_amount_positive", condition=models.Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class DailyClose(models.Model):
    """日清: the day's totals per county, frozen when closed; a later entry dated that day is refused."""

    region = models.ForeignKey("core.Region", on_delete=models.PROTECT, related_name="+")
    day = models.DateField("日期")
    totals = models.JSONField("当日发生额", default=dict)
    balanced = models.BooleanField("平衡", default=True)
    differences = models.JSONField("差异", default=list, blank=True)
    closed_by = models.CharField(max_length=150)
    closed_at = models.DateTimeField()

    class Meta:
        verbose_name = "日终结账"
        constraints = [models.UniqueConstraint(fields=["region", "day"], name="daily_close_once")]
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.region_id} {self.day}"
