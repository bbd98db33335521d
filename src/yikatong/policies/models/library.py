"""The project library (补贴项目库): what may be paid in which region and year [003 §12-14]."""

from django.db import models


class EntryStatus(models.TextChoices):
    ACTIVE = "active", "在库"
    REMOVED = "removed", "已移出"


class LibraryEntry(models.Model):
    """A policy admitted to the library of a region for a year. An entry at a region covers the region
    and everything below it (a provincial entry covers every county). Removed entries are kept."""

    year = models.PositiveSmallIntegerField("年度")
    region = models.ForeignKey("core.Region", verbose_name="区划", on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="library_entries")
    status = models.CharField("状态", max_length=10, choices=EntryStatus.choices, default=EntryStatus.ACTIVE)
    source_item = models.ForeignKey(
        "policies.AnnualListItem", verbose_name="来源清单项", null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    source_change = models.ForeignKey(
        "policies.ChangeRequest", verbose_name="来源变更申请", null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    created_at = models.DateTimeField("入库时间")
    created_by = models.CharField("入库操作人", max_length=150)
    removed_at = models.DateTimeField("移出时间", null=True, blank=True)
    removed_by = models.CharField("移出操作人", max_length=150, blank=True)
    removed_reason = models.TextField("移出原因", blank=True)
    removal_change = models.ForeignKey(
        "policies.ChangeRequest", verbose_name="移出依据变更申请", null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )

    class Meta:
        verbose_name = "补贴项目库条目"
        verbose_name_plural = "补贴项目库"
        ordering = ["year", "region_id", "policy_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "region", "policy"], condition=models.Q(status="active"),
                name="library_one_active_entry",
            ),
        ]
        # library_allows(): policy + year + status, region IN (the region and its ancestors).
        indexes = [models.Index(fields=["policy", "year", "status", "region"], name="library_allows_idx")]

    def __str__(self) -> str:
        return f"{self.year} {self.region_id} {self.policy_id}"


class LibraryLock(models.Model):
    """An explicit lock of the library of a region and year (it is also locked from Jan 1 once built)."""

    region = models.ForeignKey("core.Region", verbose_name="区划", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    locked_at = models.DateTimeField("锁定时间")
    locked_by = models.CharField("锁定人", max_length=150)

    class Meta:
        verbose_name = "项目库锁定"
        verbose_name_plural = "项目库锁定"
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="library_lock_region_year")]

    def __str__(self) -> str:
        return f"{self.region_id} {self.year} 已锁定"
