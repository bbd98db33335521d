"""Payment batches (代发批次): one file/API batch for one paying bank.

    prepared ─release (money to the bank, pay within 2 wd)─> released ─bank fetched─> fetched
    released|fetched ─some results─> partial ─all results─> completed
    prepared ─cancel─> cancelled (its attempts are withdrawn, the items become sendable again)

A plan's first batch carries its pending items; a follow-up batch (补发) carries corrected items.
"""

from django.db import models
from django.db.models import Q

from yikatong.core.money import MoneyField


class BatchKind(models.TextChoices):
    FIRST = "first", "首次发放"
    RESEND = "resend", "补发"


class BatchStatus(models.TextChoices):
    PREPARED = "prepared", "已生成待发送"
    RELEASED = "released", "已发送银行"
    FETCHED = "fetched", "银行已接收"
    PARTIAL = "partial", "部分回盘"
    COMPLETED = "completed", "回盘完成"
    CANCELLED = "cancelled", "已撤销"


class PaymentBatch(models.Model):
    number = models.CharField("批次号", max_length=40, unique=True)
    plan = models.ForeignKey("payments.DisbursementPlan", on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField("类型", max_length=8, choices=BatchKind.choices, default=BatchKind.FIRST)
    bank = models.ForeignKey("core.Organization", verbose_name="代发银行", on_delete=models.PROTECT,
                             related_name="+")
    # Copied from the plan so lists and scope need no join.
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="+")
    period = models.CharField("补贴期间", max_length=7)
    region = models.ForeignKey("core.Region", on_delete=models.PROTECT, related_name="+")
    business_line = models.CharField(max_length=20)
    indicator = models.ForeignKey("policies.BudgetIndicator", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    status = models.CharField("状态", max_length=10, choices=BatchStatus.choices, default=BatchStatus.PREPARED)
    voucher_number = models.CharField("国库集中支付凭证号", max_length=40, blank=True)
    # Totals computed by the database from the attempts and checked against them.
    item_count = models.PositiveIntegerField("笔数", default=0)
    total_amount = MoneyField("总金额", default=0)
    paid_count = models.PositiveIntegerField("成功笔数", default=0)
    paid_amount = MoneyField("成功金额", default=0)
    failed_count = models.PositiveIntegerField("失败笔数", default=0)
    failed_amount = MoneyField("失败金额", default=0)
    released_at = models.DateTimeField("发送银行时间", null=True, blank=True)
    pay_deadline = models.DateField("银行支付期限", null=True, blank=True)
    fetched_at = models.DateTimeField("银行接收时间", null=True, blank=True)
    completed_on = models.DateField("回盘完成日期", null=True, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "代发批次"
        verbose_name_plural = "代发批次"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["bank", "status"], name="batch_bank_status_idx"),
            models.Index(fields=["region", "status"], name="batch_region_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                name="batch_results_within_total",
                condition=Q(paid_count__gte=0, failed_count__gte=0, paid_amount__gte=0, failed_amount__gte=0)),
        ]

    def __str__(self) -> str:
        return self.number


class DocumentKind(models.TextChoices):
    PAYMENT_APPLICATION = "application", "资金支付申请"
    TREASURY_VOUCHER = "voucher", "国库集中支付凭证"
    BATCH_DETAILS = "details", "国库集中支付批量业务支付明细"
    BANK_FILE_CSV = "bank_csv", "代发明细（CSV）"
    BANK_FILE_XLSX = "bank_xlsx", "代发明细（XLSX）"
    BANK_FILE_PAIN001 = "pain001", "代发明细（ISO 20022 pain.001）"
    CLEARING_VOUCHER = "clearing", "清算凭证"
    RECONCILIATION = "reconcile", "对账报告"


class PaymentDocument(models.Model):
    """A generated document kept as a file (PDF/XLSX/CSV/XML), with its number and content digest."""

    plan = models.ForeignKey("payments.DisbursementPlan", on_delete=models.PROTECT, related_name="documents")
    batch = models.ForeignKey(PaymentBatch, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="documents")
    kind = models.CharField("单据类型", max_length=12, choices=DocumentKind.choices)
    number = models.CharField("单据编号", max_length=60)
    file = models.ForeignKey("core.StoredFile", on_delete=models.PROTECT, related_name="+")
    digest = models.CharField("内容摘要", max_length=64, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    total_amount = MoneyField(default=0)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["plan", "kind"], name="document_plan_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"
