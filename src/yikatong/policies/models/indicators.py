"""Budget indicators (预算指标) and their append-only ledger [003 §15, §20; SPEC §3.2].

An indicator is an amount of money for one policy and fiscal year held by one finance bureau. Money enters
it once (`received` for an indicator that came from above the platform, `allocated_in` for one allocated from
a parent indicator) and leaves or is reserved only through IndicatorEntry rows, which are never edited or
deleted. The balance columns are maintained by the services in the same transaction as the entry, under a
row lock, and the database refuses a negative balance (CheckConstraint), whatever the Python code does.

    available = received_total − allocated_out_total − committed_total − paid_total + returned_total

where `received_total` is the money in (received or allocated in) and `committed_total` is what is reserved
for reviewed payment plans and not yet paid or released (see docs/indicators.md).
"""

from django.db import models

from yikatong.core.money import MoneyField

from .policy import GovLevel

HUIMIN_TAG = "惠民惠农财政补贴资金"


class IndicatorStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    CLOSED = "closed", "已关闭"


class BudgetIndicator(models.Model):
    doc_no = models.CharField("指标文号", max_length=100)
    received_on = models.DateField("收到日期")
    amount = MoneyField("指标金额（元）")
    source_level = models.CharField("资金来源层级", max_length=12, choices=GovLevel.choices)
    policy = models.ForeignKey("policies.Policy", verbose_name="补贴项目", on_delete=models.PROTECT,
                               related_name="indicators")
    fiscal_year = models.PositiveSmallIntegerField("预算年度")
    region = models.ForeignKey("core.Region", verbose_name="区划", on_delete=models.PROTECT, related_name="+")
    holder = models.ForeignKey("core.Organization", verbose_name="指标持有财政部门", on_delete=models.PROTECT,
                               related_name="budget_indicators")
    tag = models.CharField("资金标识", max_length=50, default=HUIMIN_TAG)
    parent = models.ForeignKey("self", verbose_name="上级指标", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    central_document_date = models.DateField("中央资金文件日期", null=True, blank=True)
    direct_to_county = models.BooleanField("直接分配到县", default=False)
    status = models.CharField("状态", max_length=10, choices=IndicatorStatus.choices,
                              default=IndicatorStatus.ACTIVE)
    # Deadline bookkeeping [003 §15]
    proposal_submitted_on = models.DateField("分配建议方案报送日期", null=True, blank=True)
    proposal_note = models.TextField("分配建议方案说明", blank=True)
    allocation_done_on = models.DateField("分配下达完成日期", null=True, blank=True)
    # Balances, maintained with the ledger in the same transaction.
    received_total = MoneyField("收到/下达金额", default=0)
    allocated_out_total = MoneyField("已分配下级", default=0)
    committed_total = MoneyField("已挂接未支付", default=0)
    paid_total = MoneyField("已支付", default=0)
    returned_total = MoneyField("已退回", default=0)
    available = MoneyField("可用余额", default=0)
    created_by = models.CharField("登记人", max_length=150)
    created_at = models.DateTimeField("登记时间")
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    closed_reason = models.TextField("关闭原因", blank=True)

    class Meta:
        verbose_name = "预算指标"
        verbose_name_plural = "预算指标"
        ordering = ["fiscal_year", "region_id", "id"]
        indexes = [
            models.Index(fields=["fiscal_year", "region", "policy"], name="indicator_year_region_idx"),
            models.Index(fields=["policy", "fiscal_year", "status"], name="indicator_policy_year_idx"),
        ]
        constraints = [
            # A document registers an amount for a policy once per holder: a repeated submission is refused.
            models.UniqueConstraint(fields=["holder", "doc_no", "policy", "fiscal_year"],
                                    name="indicator_doc_once_per_holder"),
            # The last line of defence: money never goes negative, even if Python skipped a check.
            models.CheckConstraint(name="indicator_available_not_negative", condition=models.Q(available__gte=0)),
            models.CheckConstraint(name="indicator_committed_not_negative",
                                   condition=models.Q(committed_total__gte=0)),
            models.CheckConstraint(name="indicator_returned_within_paid",
                                   condition=models.Q(returned_total__lte=models.F("paid_total"))),
            models.CheckConstraint(name="indicator_amount_positive", condition=models.Q(amount__gt=0)),
            models.CheckConstraint(
                name="indicator_totals_not_negative",
                condition=models.Q(received_total__gte=0, allocated_out_total__gte=0, paid_total__gte=0,
                                   returned_total__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.doc_no}（{self.fiscal_year}，{self.amount}元）"

    @property
    def net_paid(self):
        return self.paid_total - self.returned_total


class EntryKind(models.TextChoices):
    RECEIVED = "received", "收到指标"
    ALLOCATED_OUT = "allocated_out", "分配下级"
    ALLOCATED_IN = "allocated_in", "上级下达"
    COMMITTED = "committed", "挂接支付"
    RELEASED = "released", "解除挂接"
    PAID = "paid", "支付"
    RETURNED = "returned", "资金退回"


class IndicatorEntryQuerySet(models.QuerySet):
    """Entries are append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise TypeError("指标台账分录只能追加，不能修改；更正请追加一笔新的分录。")

    def delete(self):
        raise TypeError("指标台账分录只能追加，不能删除；更正请追加一笔新的分录。")


class IndicatorEntry(models.Model):
    """One movement of money on an indicator. Never edited, never deleted: a correction is a new entry."""

    indicator = models.ForeignKey(BudgetIndicator, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField("类型", max_length=16, choices=EntryKind.choices)
    amount = MoneyField("金额（元）")
    ref_type = models.CharField("关联单据类型", max_length=40)
    ref_id = models.CharField("关联单据编号", max_length=64)
    booked_on = models.DateField("记账日期")
    created_at = models.DateTimeField("记录时间")
    actor = models.CharField("操作人", max_length=150)
    note = models.TextField("说明", blank=True)

    objects = IndicatorEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "指标台账分录"
        verbose_name_plural = "指标台账"
        ordering = ["indicator_id", "id"]
        indexes = [
            models.Index(fields=["indicator", "ref_type", "ref_id"], name="indicator_entry_ref_idx"),
            models.Index(fields=["booked_on", "kind"], name="indicator_entry_booked_idx"),
        ]
        constraints = [
            models.CheckConstraint(name="indicator_entry_amount_positive", condition=models.Q(amount__gt=0)),
            models.CheckConstraint(name="indicator_entry_kind_valid",
                                   condition=models.Q(kind__in=EntryKind.values)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("指标台账分录只能追加，不能修改；更正请追加一笔新的分录。")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("指标台账分录只能追加，不能删除；更正请追加一笔新的分录。")
