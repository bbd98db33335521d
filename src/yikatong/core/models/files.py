import uuid

from django.conf import settings
from django.db import models


class StoredFile(models.Model):
    """An original file kept as received (uploads, imports, bank files) or a generated one.

    Nothing is deleted: a new version is a new row. Downloads go through core.files, which checks scope.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField("用途", max_length=50)
    original_name = models.CharField("文件名", max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField("大小")
    sha256 = models.CharField(max_length=64, db_index=True)
    path = models.CharField(max_length=500, help_text="relative to MEDIA_ROOT")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    organization = models.ForeignKey("core.Organization", null=True, blank=True, on_delete=models.PROTECT)
    region = models.ForeignKey("core.Region", null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "文件"
        verbose_name_plural = "文件"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name
