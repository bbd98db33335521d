"""Bulk roster imports (花名册): the original file, counts and every rejected row with its reason."""

import uuid

from django.db import models


class RosterImport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "导入中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT)
    period = models.CharField(max_length=7)
    organization = models.ForeignKey("core.Organization", on_delete=models.PROTECT)
    region = models.ForeignKey("core.Region", on_delete=models.PROTECT)
    file = models.ForeignKey("core.StoredFile", on_delete=models.PROTECT, related_name="+")
    rejected_file = models.ForeignKey(
        "core.StoredFile", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    job = models.ForeignKey("core.JobProgress", null=True, blank=True, on_delete=models.PROTECT)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0, help_text="rows already accepted before (re-upload)")
    message = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"花名册导入 {str(self.pk)[:8]} {self.period}"


class RosterRowError(models.Model):
    roster_import = models.ForeignKey(RosterImport, on_delete=models.PROTECT, related_name="row_errors")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=30, blank=True)
    value = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300)
    raw = models.JSONField(help_text="the row as received, to write the rejected-rows file")

    class Meta:
        ordering = ["roster_import_id", "row_number"]

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.column}：{self.reason}"
