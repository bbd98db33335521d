"""Public notices (公示) per village, policy and period, with objections [003 §17]."""

from django.db import models


class PublicNotice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "公示中"
        CLOSED = "closed", "公示期满"
        SUPERSEDED = "superseded", "已更正重新公示"

    number = models.CharField("公示编号", max_length=40, unique=True)
    region = models.ForeignKey("core.Region", verbose_name="公示村（社区）", on_delete=models.PROTECT)
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT)
    period = models.CharField("补贴期间", max_length=7)
    business_line = models.CharField(max_length=20)
    round = models.PositiveSmallIntegerField("公示轮次", default=1)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_round"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    starts_on = models.DateField("公示开始")
    ends_on = models.DateField("公示截止")
    entry_count = models.PositiveIntegerField(default=0)
    total_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    digest = models.CharField("内容摘要", max_length=64, help_text="SHA-256 of the canonical masked content")
    is_public = models.BooleanField("网上公开", default=True)
    pdf = models.ForeignKey("core.StoredFile", null=True, blank=True, on_delete=models.PROTECT)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "公示"
        verbose_name_plural = "公示"
        indexes = [models.Index(fields=["region", "policy", "period"])]

    def __str__(self) -> str:
        return self.number

    @property
    def public_url(self) -> str:
        """The online copy (printed as a QR code on the paper notice)."""
        from yikatong.applications.notice_pdf import notice_public_url

        return notice_public_url(self.number)


class NoticeEntry(models.Model):
    """One line of a notice as published (masked), frozen at publication."""

    notice = models.ForeignKey(PublicNotice, on_delete=models.PROTECT, related_name="entries")
    application = models.ForeignKey("applications.Application", on_delete=models.PROTECT, related_name="notice_entries")
    seq = models.PositiveIntegerField()
    name_masked = models.CharField(max_length=50)
    id_masked = models.CharField(max_length=32)
    quantity = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        unique_together = [("notice", "seq"), ("notice", "application")]
        ordering = ["notice_id", "seq"]

    def __str__(self) -> str:
        return f"{self.notice_id} #{self.seq}"


class Objection(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "待调查"
        UPHELD = "upheld", "异议成立"
        DISMISSED = "dismissed", "异议不成立"

    notice = models.ForeignKey(PublicNotice, on_delete=models.PROTECT, related_name="objections")
    application = models.ForeignKey(
        "applications.Application", null=True, blank=True, on_delete=models.PROTECT, related_name="objections"
    )
    filed_by = models.CharField("异议人", max_length=50, blank=True)
    contact = models.CharField("联系方式", max_length=50, blank=True)
    content = models.TextField("异议内容")
    recorded_by = models.CharField(max_length=150)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    finding = models.TextField("调查结论", blank=True)
    investigated_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.notice_id} 异议 {self.pk}"
