from django.db import models


class CalendarOverride(models.Model):
    """An administrator's correction to the holiday calendar (a day made working or non-working)."""

    day = models.DateField("日期", unique=True)
    is_working_day = models.BooleanField("是否工作日")
    reason = models.CharField("原因", max_length=200)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "工作日调整"
        verbose_name_plural = "工作日调整"
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {'工作日' if self.is_working_day else '休息日'}"


class TimeLimit(models.Model):
    """A configurable time limit of a workflow step (SPEC §4); defaults live in core.time_limits."""

    class Unit(models.TextChoices):
        WORKING_DAYS = "wd", "工作日"
        CALENDAR_DAYS = "cd", "自然日"

    step = models.CharField("环节", max_length=50, unique=True)
    label = models.CharField("名称", max_length=100)
    days = models.PositiveIntegerField("时限")
    unit = models.CharField("单位", max_length=2, choices=Unit.choices, default=Unit.WORKING_DAYS)
    source = models.CharField("依据", max_length=100, blank=True)

    class Meta:
        verbose_name = "办理时限"
        verbose_name_plural = "办理时限"
        ordering = ["step"]

    def __str__(self) -> str:
        return f"{self.label}：{self.days}{self.get_unit_display()}"
