import uuid

from django.conf import settings
from django.db import models


class JobProgress(models.Model):
    """Progress of a long piece of work (import, check run, file generation) for the UI bar and the CLI."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "进行中"
        SUCCEEDED = "succeeded", "已完成"
        FAILED = "failed", "失败"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField("类型", max_length=50)
    label = models.CharField("名称", max_length=200)
    task_result_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    organization = models.ForeignKey("core.Organization", null=True, blank=True, on_delete=models.PROTECT)
    region = models.ForeignKey("core.Region", null=True, blank=True, on_delete=models.PROTECT)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.BigIntegerField("总数", null=True, blank=True)
    done = models.BigIntegerField("已处理", default=0)
    message = models.TextField("说明", blank=True)
    result = models.JSONField("结果", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "后台作业"
        verbose_name_plural = "后台作业"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["region", "created_at"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.kind})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total:
            return 0
        return min(100, int(self.done * 100 / self.total))
