"""Performance targets (绩效目标) set with the budget, and their evaluation [000 §15; 003 §5-6]."""

from django.db import models


class TargetCategory(models.TextChoices):
    OUTPUT = "output", "产出指标"
    EFFECT = "effect", "效益指标"
    TIMELINESS = "timeliness", "时效指标"
    SATISFACTION = "satisfaction", "满意度指标"


class TargetDirection(models.TextChoices):
    AT_LEAST = "gte", "≥"
    AT_MOST = "lte", "≤"


class PerformanceTarget(models.Model):
    """One target of a policy for a fiscal year in a region, e.g. 产出 “发放人数” ≥ 1200 人."""

    policy = models.ForeignKey("policies.Policy", verbose_name="补贴项目", on_delete=models.PROTECT,
                               related_name="performance_targets")
    fiscal_year = models.PositiveSmallIntegerField("预算年度")
    region = models.ForeignKey("core.Region", verbose_name="区划", on_delete=models.PROTECT, related_name="+")
    category = models.CharField("指标类别", max_length=14, choices=TargetCategory.choices)
    name = models.CharField("指标名称", max_length=100)
    target_value = models.DecimalField("目标值", max_digits=18, decimal_places=4)
    unit = models.CharField("计量单位", max_length=20, blank=True)
    direction = models.CharField("方向", max_length=3, choices=TargetDirection.choices,
                                 default=TargetDirection.AT_LEAST)
    actual_value = models.DecimalField("实际完成值", max_digits=18, decimal_places=4, null=True, blank=True)
    evaluated_at = models.DateTimeField("评价时间", null=True, blank=True)
    evaluated_by = models.CharField("评价人", max_length=150, blank=True)
    evaluation_note = models.TextField("评价说明", blank=True)
    set_by = models.CharField("设定人", max_length=150)
    created_at = models.DateTimeField("设定时间")
    updated_at = models.DateTimeField("修改时间")

    class Meta:
        verbose_name = "绩效目标"
        verbose_name_plural = "绩效目标"
        ordering = ["fiscal_year", "policy_id", "region_id", "category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "fiscal_year", "region", "name"],
                                    name="performance_target_unique_name"),
            models.CheckConstraint(name="performance_target_category_valid",
                                   condition=models.Q(category__in=TargetCategory.values)),
            models.CheckConstraint(name="performance_target_direction_valid",
                                   condition=models.Q(direction__in=TargetDirection.values)),
        ]
        indexes = [models.Index(fields=["fiscal_year", "region", "policy"], name="target_year_region_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.get_direction_display()} {self.target_value}{self.unit}"
