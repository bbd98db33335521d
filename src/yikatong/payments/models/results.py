"""Bank results (回盘). Every import keeps its file (or API payload) and its counts; a line that is not applied
(unknown item, changed amount, other account, a second outcome, bad data) is stored for review and changes
nothing. A line equal to what was already applied is a duplicate: counted, not stored, nothing changes."""

import uuid

from django.db import models


class ResultImport(models.Model):
    class Channel(models.TextChoices):
        FILE = "file", "回盘文件"
        API = "api", "银行接口"

    class Status(models.TextChoices):
        RUNNING = "running", "处理中"
        DONE = "done", "已处理"
        FAILED = "failed", "整体拒收"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bank = models.ForeignKey("core.Organization", verbose_name="代发银行", null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    channel = models.CharField("渠道", max_length=6, choices=Channel.choices)
    file = models.ForeignKey("core.StoredFile", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    content_digest = models.CharField("内容摘要", max_length=64)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    message = models.TextField("处理说明", blank=True)
    line_count = models.PositiveIntegerField("行数", default=0)
    applied_count = models.PositiveIntegerField("已入账", default=0)
    duplicate_count = models.PositiveIntegerField("重复（未变更）", default=0)
    rejected_count = models.PositiveIntegerField("拒收待复核", default=0)
    received_by = models.CharField(max_length=150)
    received_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "回盘导入"
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"回盘 {self.pk}"


class LineDisposition(models.TextChoices):
    UNKNOWN_ITEM = "unknown", "无此明细"
    AMOUNT_MISMATCH = "amount", "金额不符"
    ACCOUNT_MISMATCH = "account", "账号不符"
    CONFLICT = "conflict", "与已入账结果冲突"
    INVALID = "invalid", "数据格式错误"
    WRONG_BANK = "wrong_bank", "非本行批次"


class ResultLine(models.Model):
    """A result line that was NOT applied, kept for review."""

    class Review(models.TextChoices):
        OPEN = "open", "待复核"
        CLOSED = "closed", "已复核"

    result_import = models.ForeignKey(ResultImport, on_delete=models.PROTECT, related_name="lines")
    line_no = models.PositiveIntegerField("行号")
    batch_number = models.CharField("批次号", max_length=60, blank=True)
    seq = models.CharField("序号", max_length=20, blank=True)
    account_masked = models.CharField("收款账号（脱敏）", max_length=40, blank=True)
    amount = models.CharField("金额", max_length=30, blank=True)
    outcome = models.CharField("处理结果", max_length=20, blank=True)
    reason = models.CharField("失败原因", max_length=200, blank=True)
    processed_on = models.CharField("处理日期", max_length=20, blank=True)
    disposition = models.CharField("拒收类型", max_length=10, choices=LineDisposition.choices)
    message = models.CharField("说明", max_length=300)
    review = models.CharField(max_length=6, choices=Review.choices, default=Review.OPEN)
    reviewed_by = models.CharField(max_length=150, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["result_import", "line_no"]

    def __str__(self) -> str:
        return f"{self.batch_number}-{self.seq}"
