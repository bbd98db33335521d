"""Notices to beneficiaries and the publication of results."""

from django.db import models


class SmsStatus(models.TextChoices):
    QUEUED = "queued", "待发送"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"
    NO_PHONE = "no_phone", "无手机号"


class SmsMessage(models.Model):
    """One SMS per credited attempt [003 §10(三)]; unique per attempt so a repeated result never texts twice."""

    attempt = models.OneToOneField("payments.PaymentAttempt", on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False)
    region = models.ForeignKey("core.Region", on_delete=models.PROTECT, related_name="+", db_index=False)
    text = models.CharField("短信内容", max_length=300)
    status = models.CharField(max_length=8, choices=SmsStatus.choices, default=SmsStatus.QUEUED)
    sender = models.CharField("发送通道", max_length=30, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "到账短信"
        indexes = [models.Index(fields=["status"], name="sms_status_idx")]

    def __str__(self) -> str:
        return f"短信 {self.attempt_id}"


class ResultPublication(models.Model):
    """Results of a batch published for the public column, within 5 wd of payment [003 §23]."""

    batch = models.OneToOneField("payments.PaymentBatch", on_delete=models.PROTECT, related_name="publication")
    deadline = models.DateField("公开期限")
    published_on = models.DateField("公开日期", null=True, blank=True)
    is_public = models.BooleanField(default=False)
    digest = models.CharField(max_length=64, blank=True)
    entry_count = models.PositiveIntegerField(default=0)
    published_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "发放结果公开"

    def __str__(self) -> str:
        return f"公开 {self.batch_id}"
