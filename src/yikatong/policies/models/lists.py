"""Annual policy lists (年度补贴政策清单) per region and year, their items and kept versions."""

from django.db import models


class ListStatus(models.TextChoices):
    DRAFT = "draft", "编制中"
    FILED = "filed", "已报备"
    PUBLISHED = "published", "已公布"


class ListPart(models.TextChoices):
    PRESCRIBED = "prescribed", "规定清单"
    SELF_DEFINED = "self_defined", "自定清单"


class ItemStatus(models.TextChoices):
    DRAFT = "draft", "待提交"
    SUBMITTED = "submitted", "已提交"
    REMOVED = "removed", "已取消"


class AnnualPolicyList(models.Model):
    """The list of one region (province, prefecture or county) for one year.

    Counties' and the prefecture's lists are filed together by the prefecture finance bureau; the province
    finance publishes its own list with every filed list below it (see services.lists).
    """

    region = models.ForeignKey("core.Region", verbose_name="区划", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    status = models.CharField("状态", max_length=10, choices=ListStatus.choices, default=ListStatus.DRAFT)
    filed_at = models.DateTimeField("报备时间", null=True, blank=True)
    filed_by = models.CharField("报备人", max_length=150, blank=True)
    filed_late = models.BooleanField("逾期报备", default=False)
    published_at = models.DateTimeField("公布时间", null=True, blank=True)
    published_by = models.CharField("公布人", max_length=150, blank=True)
    published_late = models.BooleanField("逾期公布", default=False)
    returned_reason = models.TextField("退回原因", blank=True)
    version = models.PositiveIntegerField("版本", default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "年度补贴政策清单"
        verbose_name_plural = "年度补贴政策清单"
        ordering = ["year", "region_id"]
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="annual_list_region_year")]
        indexes = [models.Index(fields=["year", "status", "region"])]

    def __str__(self) -> str:
        return f"{self.region_id} {self.year}年度补贴政策清单"


class AnnualListItem(models.Model):
    policy_list = models.ForeignKey(AnnualPolicyList, on_delete=models.PROTECT, related_name="items")
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="list_items")
    part = models.CharField("清单类别", max_length=12, choices=ListPart.choices)
    department = models.ForeignKey(
        "core.Organization", verbose_name="填报部门", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField("状态", max_length=10, choices=ItemStatus.choices, default=ItemStatus.DRAFT)
    added_at = models.DateTimeField("填报时间")
    added_by = models.CharField("填报人", max_length=150)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    submitted_by = models.CharField("提交人", max_length=150, blank=True)
    submitted_late = models.BooleanField("逾期提交", default=False)
    removed_reason = models.TextField("取消原因", blank=True)
    source_change = models.ForeignKey(
        "policies.ChangeRequest", verbose_name="来源变更申请", null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )

    class Meta:
        verbose_name = "清单项目"
        verbose_name_plural = "清单项目"
        ordering = ["policy_list_id", "part", "policy__code"]
        constraints = [models.UniqueConstraint(fields=["policy_list", "policy"], name="list_item_unique_policy")]

    def __str__(self) -> str:
        return f"{self.policy_list} / {self.policy_id}"


class AnnualListVersion(models.Model):
    """The items of a list as they were after filing, publishing or a change taking effect."""

    policy_list = models.ForeignKey(AnnualPolicyList, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField("版本")
    status = models.CharField("清单状态", max_length=10, choices=ListStatus.choices)
    items = models.JSONField("清单项目")
    changed_by = models.CharField("操作人", max_length=150)
    changed_at = models.DateTimeField("时间")
    reason = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "清单版本"
        verbose_name_plural = "清单版本"
        ordering = ["policy_list_id", "version"]
        constraints = [models.UniqueConstraint(fields=["policy_list", "version"], name="list_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy_list_id} v{self.version}"
