"""Change requests (《惠民惠农财政补贴项目调整变更申请表》) and the record of each step [003 §14]."""

from django.db import models

from .policy import money_field


class ChangeType(models.TextChoices):
    ADD = "add", "新增"
    REMOVE = "remove", "取消"
    MODIFY = "modify", "调整标准或范围"


class ChangeStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    IN_REVIEW = "in_review", "审核中"
    RETURNED = "returned", "已退回"
    APPROVED = "approved", "已批准生效"
    WITHDRAWN = "withdrawn", "已撤回"


class ChangeRequest(models.Model):
    """One filled-in change request form. `current_step` indexes rules.change_chain(level of region)."""

    number = models.CharField("申请编号", max_length=40, unique=True, null=True, blank=True)
    region = models.ForeignKey("core.Region", verbose_name="区划", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    policy = models.ForeignKey(
        "policies.Policy", verbose_name="补贴项目", on_delete=models.PROTECT, related_name="change_requests"
    )
    change_type = models.CharField("变更类型", max_length=10, choices=ChangeType.choices)
    content = models.TextField("变更内容")
    reason = models.TextField("变更理由")
    amount_impact = money_field("资金影响（元）", default=0)
    new_standard = models.JSONField("调整后的标准", default=dict, blank=True)
    documents = models.ManyToManyField("core.StoredFile", verbose_name="附件", related_name="+", blank=True)
    applicant = models.ForeignKey(
        "core.Organization", verbose_name="申请部门", on_delete=models.PROTECT, related_name="+"
    )
    applicant_user = models.CharField("申请人", max_length=150)
    status = models.CharField("状态", max_length=10, choices=ChangeStatus.choices, default=ChangeStatus.DRAFT)
    current_step = models.PositiveSmallIntegerField("当前环节", default=0)
    round = models.PositiveSmallIntegerField("提交轮次", default=0)
    created_at = models.DateTimeField("填报时间")
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    decided_at = models.DateTimeField("办结时间", null=True, blank=True)
    returned_reason = models.TextField("退回原因", blank=True)

    class Meta:
        verbose_name = "补贴项目调整变更申请"
        verbose_name_plural = "补贴项目调整变更申请"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "region"]),
            models.Index(fields=["year", "region"]),
        ]

    def __str__(self) -> str:
        return self.number or f"变更申请#{self.pk}"


class ChangeRequestStep(models.Model):
    """Who did what at which step, when and why. Append-only."""

    class Decision(models.TextChoices):
        SUBMITTED = "submitted", "提交"
        APPROVED = "approved", "同意"
        RETURNED = "returned", "退回"
        WITHDRAWN = "withdrawn", "撤回"

    request = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="steps")
    round = models.PositiveSmallIntegerField("提交轮次")
    step_index = models.SmallIntegerField("环节序号", help_text="-1 为申请人提交/撤回")
    step_code = models.CharField("环节", max_length=40)
    step_label = models.CharField("环节名称", max_length=100)
    decision = models.CharField("处理结果", max_length=10, choices=Decision.choices)
    actor_username = models.CharField("办理人", max_length=150)
    actor_organization = models.ForeignKey(
        "core.Organization", verbose_name="办理机构", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField("办理时间")
    reason = models.TextField("意见", blank=True)

    class Meta:
        verbose_name = "变更申请办理记录"
        verbose_name_plural = "变更申请办理记录"
        ordering = ["request_id", "id"]

    def __str__(self) -> str:
        return f"{self.step_label} {self.get_decision_display()} {self.actor_username}"
