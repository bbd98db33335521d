"""Beneficiaries (补贴对象): persons by resident ID, organizations by unified social credit code.

Identifiers are stored encrypted (core.crypto) with an HMAC digest for lookup and uniqueness; a masked
form is kept beside them so lists never need to decrypt.
"""

from django.db import models
from django.db.models import Q

from yikatong.core.indexes import DigestIndex


class BeneficiaryKind(models.TextChoices):
    PERSON = "person", "个人"
    ORGANIZATION = "organization", "单位"


class Household(models.Model):
    """A household (户) as registered by public security (户号), within a village/community."""

    number = models.CharField("户号", max_length=32, unique=True)
    region = models.ForeignKey("core.Region", verbose_name="所在区划", on_delete=models.PROTECT)
    head_name = models.CharField("户主姓名", max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "户"
        verbose_name_plural = "户"
        indexes = [models.Index(fields=["region", "number"])]

    def __str__(self) -> str:
        return self.number


class Beneficiary(models.Model):
    kind = models.CharField("类型", max_length=12, choices=BeneficiaryKind.choices, default=BeneficiaryKind.PERSON)
    name = models.CharField("姓名/单位名称", max_length=100)
    # Resident ID (person) or unified social credit code (organization).
    id_number_enc = models.BinaryField("证件号码（密文）")
    # Unique through Meta.constraints (not unique=True): on PostgreSQL that would add a second,
    # varchar_pattern_ops index that no query uses (digests are only ever compared whole).
    id_digest = models.CharField("证件号码摘要", max_length=64)
    id_masked = models.CharField("证件号码（脱敏）", max_length=32)
    gender = models.CharField("性别", max_length=1, blank=True)
    birth_date = models.DateField("出生日期", null=True, blank=True)
    household = models.ForeignKey(
        Household, verbose_name="户", null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    # Indexed by the (region, name) index, which starts with it (no second index for the foreign key).
    region = models.ForeignKey("core.Region", verbose_name="户籍/住址区划", on_delete=models.PROTECT, db_index=False)
    address = models.CharField("地址", max_length=200, blank=True)
    phone_enc = models.BinaryField("手机号码（密文）", null=True, blank=True)
    phone_digest = models.CharField("手机号码摘要", max_length=64, blank=True)  # DigestIndex in Meta.indexes
    phone_masked = models.CharField("手机号码（脱敏）", max_length=16, blank=True)
    version = models.PositiveIntegerField("版本", default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "补贴对象"
        verbose_name_plural = "补贴对象"
        constraints = [models.UniqueConstraint(fields=["id_digest"], name="beneficiary_id_digest_unique")]
        indexes = [
            models.Index(fields=["region", "name"]),
            # only persons with a phone (a hash index degrades with one key repeated many times); SQLite uses
            # a partial index only for queries that state its condition in the same form: `phone_digest > ''`
            DigestIndex(fields=["phone_digest"], condition=Q(phone_digest__gt=""), name="beneficiary_phone_digest"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.id_masked}）"


class BeneficiaryVersion(models.Model):
    """Every change to a beneficiary keeps the previous state (masked fields and digests, never plain)."""

    # Indexed by the unique (beneficiary, version) index, which starts with it.
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="versions", db_index=False)
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    changed_by = models.CharField(max_length=150)
    changed_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        unique_together = [("beneficiary", "version")]
        ordering = ["beneficiary_id", "-version"]

    def __str__(self) -> str:
        return f"{self.beneficiary_id} v{self.version}"
