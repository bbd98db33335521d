"""Applications (补贴申报): one beneficiary, one policy, one period.

Workflow (states and transitions are declared in applications/workflow.py):
collected → verified (入户核实, 3 wd) → in_notice (公示, ≥ 3 wd) → submitted (报送主管部门)
→ approved | rejected (审核, 10 wd); returned sends it back to the collector for correction;
withdrawn ends it at the applicant's request.
"""

from django.db import models
from django.db.models import Q

from yikatong.core.money import MoneyField


class Channel(models.TextChoices):
    TYPED = "typed", "经办录入"
    ROSTER = "roster", "花名册导入"
    ONLINE = "online", "网上申请"


class Status(models.TextChoices):
    COLLECTED = "collected", "已采集待核实"
    VERIFIED = "verified", "已核实待公示"
    IN_NOTICE = "in_notice", "公示中"
    SUBMITTED = "submitted", "已报送待审核"
    APPROVED = "approved", "审核通过"
    REJECTED = "rejected", "审核不通过"
    RETURNED = "returned", "退回修改"
    WITHDRAWN = "withdrawn", "已撤回"


# An application in one of these states no longer blocks a new one for the same person/policy/period.
CLOSED_STATUSES = (Status.REJECTED, Status.WITHDRAWN)


class Application(models.Model):
    # Unique through Meta.constraints: unique=True would add a varchar_pattern_ops twin on PostgreSQL.
    number = models.CharField("申报编号", max_length=32)
    beneficiary = models.ForeignKey("registry.Beneficiary", on_delete=models.PROTECT, related_name="applications")
    # policy and region: indexed by the composite indexes that start with them (Meta.indexes).
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="applications",
                               db_index=False)
    period = models.CharField("补贴期间", max_length=7, help_text="2026 / 2026Q1 / 2026-03")
    region = models.ForeignKey("core.Region", verbose_name="所在区划", on_delete=models.PROTECT, db_index=False)
    business_line = models.CharField("业务条线", max_length=20, help_text="copied from the policy for scope")
    collector = models.ForeignKey(
        "core.Organization", verbose_name="采集主体", null=True, blank=True, on_delete=models.PROTECT,
        related_name="collected_applications",
    )
    channel = models.CharField("来源", max_length=8, choices=Channel.choices)
    quantity = models.DecimalField("补贴数量", max_digits=14, decimal_places=2, null=True, blank=True)
    tier = models.CharField("档次", max_length=30, blank=True)
    amount = MoneyField("补贴金额")
    payee_account = models.ForeignKey(
        "registry.PayeeAccount", verbose_name="收款账户", null=True, blank=True, on_delete=models.PROTECT
    )
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.COLLECTED)
    step_started_on = models.DateField("本环节开始日期")
    step_deadline = models.DateField("本环节办理期限", null=True, blank=True)
    sampled = models.BooleanField("抽查", default=False)
    rejection_reason = models.TextField("不通过原因", blank=True)
    remarks = models.CharField("备注", max_length=200, blank=True)
    roster_import = models.ForeignKey(
        "applications.RosterImport", null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    roster_row = models.PositiveIntegerField("花名册行号", null=True, blank=True)
    # Supporting documents uploaded with an online application (core.StoredFile, purpose "application_doc").
    documents = models.ManyToManyField("core.StoredFile", verbose_name="申请材料", blank=True, related_name="+")
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "补贴申报"
        verbose_name_plural = "补贴申报"
        constraints = [
            models.UniqueConstraint(fields=["number"], name="application_number_unique"),
            # One open application per person, policy and period — re-uploads never duplicate.
            models.UniqueConstraint(
                fields=["beneficiary", "policy", "period"],
                condition=~Q(status__in=["rejected", "withdrawn"]),
                name="one_open_application_per_period",
            ),
            models.CheckConstraint(name="application_amount_positive", condition=Q(amount__gt=0)),
        ]
        indexes = [
            models.Index(fields=["region", "status"]),
            models.Index(fields=["policy", "period", "status"]),
            models.Index(fields=["status", "step_deadline"]),
        ]

    def __str__(self) -> str:
        return self.number


class ApplicationEvent(models.Model):
    """History of an application: every transition with who, when and why."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True)
    # A correction records what changed: {"amount": ["300.00", "250.00"], …} (no personal data).
    changes = models.JSONField("变更内容", default=dict, blank=True)

    class Meta:
        ordering = ["application_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.from_status or '-'}→{self.to_status}"
