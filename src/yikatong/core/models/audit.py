from django.db import models


class AuditEvent(models.Model):
    """One business action, append-only, chained by SHA-256 to the event before it (see core.audit).

    Actor and organization are copied as plain values, not foreign keys, so that nothing outside the
    chain can change an event after it is written.
    """

    seq = models.BigIntegerField("序号", unique=True)
    occurred_at = models.DateTimeField("时间")
    actor_id = models.BigIntegerField("操作人ID", null=True, blank=True)
    actor_username = models.CharField("操作人", max_length=150, blank=True)
    organization_code = models.CharField("机构", max_length=32, blank=True)
    action = models.CharField("动作", max_length=64)
    object_type = models.CharField("对象类型", max_length=64, blank=True)
    object_id = models.CharField("对象", max_length=64, blank=True)
    region_code = models.CharField("区划", max_length=12, blank=True)
    before = models.JSONField("变更前", null=True, blank=True)
    after = models.JSONField("变更后", null=True, blank=True)
    reason = models.TextField("事由", blank=True)
    client_ip = models.CharField("客户端地址", max_length=45, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = "审计事件"
        verbose_name_plural = "审计事件"
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["region_code", "seq"]),
            models.Index(fields=["action", "seq"]),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class AuditHead(models.Model):
    """Single row holding the last sequence number and hash; locked to append to the chain in order."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit head {self.seq}"
