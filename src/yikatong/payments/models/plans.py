"""Disbursement plan (发放方案) and its payment request to finance (资金支付申请) — one workflow object.

    draft ─approve (department)─> approved ─submit─> submitted (finance review, 5 wd)
    submitted ─review_ok (finance)─> reviewed ─mount (commit the indicator)─> mounted
    submitted ─return (finance, with reason)─> returned ─resubmit─> submitted
    mounted ─issue vouchers (payment application, treasury voucher, batch details)─> vouchered
    vouchered ─first batch released to the bank─> paying ─every item paid or removed─> completed
    draft/approved/returned ─cancel─> cancelled

States and transitions are declared in payments/workflow.py.
"""

from django.db import models

from yikatong.core.money import MoneyField


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    APPROVED = "approved", "方案已审批"
    SUBMITTED = "submitted", "已报财政审核"
    RETURNED = "returned", "财政退回"
    REVIEWED = "reviewed", "财政审核通过"
    MOUNTED = "mounted", "已挂接指标"
    VOUCHERED = "vouchered", "已生成支付凭证"
    PAYING = "paying", "发放中"
    COMPLETED = "completed", "发放完成"
    CANCELLED = "cancelled", "已作废"


class DisbursementPlan(models.Model):
    number = models.CharField("方案编号", max_length=40, unique=True)
    title = models.CharField("方案名称", max_length=200)
    policy = models.ForeignKey("policies.Policy", verbose_name="补贴项目", on_delete=models.PROTECT,
                               related_name="+")
    period = models.CharField("补贴期间", max_length=7)
    fiscal_year = models.PositiveSmallIntegerField("预算年度")
    region = models.ForeignKey("core.Region", verbose_name="发放区划（县）", on_delete=models.PROTECT,
                               related_name="+")
    business_line = models.CharField("业务条线", max_length=20)
    organization = models.ForeignKey("core.Organization", verbose_name="主管部门", on_delete=models.PROTECT,
                                     related_name="+")
    bank = models.ForeignKey("core.Organization", verbose_name="代发银行", on_delete=models.PROTECT,
                             related_name="+")
    status = models.CharField("状态", max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    step_started_on = models.DateField("本环节开始日期")
    step_deadline = models.DateField("本环节办理期限", null=True, blank=True)
    # Totals of the plan's items, computed by the database when the plan is built.
    item_count = models.PositiveIntegerField("发放人数", default=0)
    total_amount = MoneyField("发放总额", default=0)
    held_count = models.PositiveIntegerField("暂缓人数", default=0)
    indicator = models.ForeignKey("policies.BudgetIndicator", verbose_name="挂接指标", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    committed_amount = MoneyField("已挂接金额", default=0)
    review_note = models.TextField("财政审核意见", blank=True)
    returned_reason = models.TextField("退回原因", blank=True)
    created_by = models.CharField("编制人", max_length=150)
    created_at = models.DateTimeField("编制时间", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "发放方案"
        verbose_name_plural = "发放方案"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["region", "status"], name="plan_region_status_idx"),
            models.Index(fields=["policy", "period"], name="plan_policy_period_idx"),
        ]
        constraints = [
            models.CheckConstraint(name="plan_committed_not_negative",
                                   condition=models.Q(committed_amount__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class PlanEvent(models.Model):
    """Who moved the plan from which state to which, when and why."""

    plan = models.ForeignKey(DisbursementPlan, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.CharField(max_length=150)
    at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.action}"
