"""Shared data from other departments (SPEC §5.2), one table per source so rules join on id_digest.

Atomic replacement: every row carries the import that brought it; SourceState.current_import says which
import is in force. A new import loads its rows beside the old ones and then switches the pointer in one
short transaction, so readers never see half a source and a failed import leaves the previous one in force.
Rows of superseded imports are purged later (they stay reproducible from the kept original file).
"""

import uuid

from django.db import models


class SourceCode(models.TextChoices):
    HOUSEHOLD = "household", "户籍"
    DEATH = "death", "死亡/殡葬"
    SSC_CARD = "ssc_card", "社保卡"
    PUBLIC_STAFF = "public_staff", "财政供养人员"
    VEHICLE = "vehicle", "车辆"
    ENTERPRISE = "enterprise", "工商登记"
    REAL_ESTATE = "real_estate", "不动产"
    CADRE_RELATIVE = "cadre_relative", "村干部及近亲属"


class SourceImport(models.Model):
    class Status(models.TextChoices):
        LOADING = "loading", "导入中"
        ACTIVE = "active", "生效中"
        SUPERSEDED = "superseded", "已被替换"
        FAILED = "failed", "失败"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField("数据源", max_length=20, choices=SourceCode.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LOADING)
    file = models.ForeignKey("core.StoredFile", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField("来源渠道", max_length=10, default="file", help_text="file | api | cli")
    data_date = models.DateField("数据日期", null=True, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    job = models.ForeignKey("core.JobProgress", null=True, blank=True, on_delete=models.PROTECT)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["source", "status"])]

    def __str__(self) -> str:
        return f"{self.source} {str(self.pk)[:8]} {self.status}"


class SourceImportError(models.Model):
    source_import = models.ForeignKey(SourceImport, on_delete=models.PROTECT, related_name="row_errors")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=30, blank=True)
    value = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["source_import_id", "row_number"]

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.column}：{self.reason}"


class SourceState(models.Model):
    """Which import of a source is in force (one row per source)."""

    source = models.CharField(max_length=20, choices=SourceCode.choices, primary_key=True)
    current_import = models.ForeignKey(SourceImport, null=True, on_delete=models.PROTECT, related_name="+")
    switched_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.source} → {self.current_import_id}"


class _SourceRow(models.Model):
    """Common columns: the import, the row number in its file, and the person's ID (encrypted + digest)."""

    # No index of its own (the (import, id_digest) index below starts with it) and no database constraint:
    # the row-by-row check of a deferred foreign key costs about as much as the load itself (a million
    # trigger events at commit), and rows are only written by the loader with the id of an import that
    # exists and is never deleted (see checks/sources/load.py).
    source_import = models.ForeignKey(SourceImport, on_delete=models.PROTECT, related_name="+",
                                      db_index=False, db_constraint=False)
    row_number = models.PositiveIntegerField()
    id_digest = models.CharField(max_length=64)
    id_enc = models.BinaryField()
    name = models.CharField(max_length=100)

    class Meta:
        abstract = True


def _row_meta(name: str):
    return [
        models.Index(fields=["source_import", "id_digest"], name=f"{name}_imp_id"),
    ]


class HouseholdRow(_SourceRow):
    household_number = models.CharField("户号", max_length=32)
    region_code = models.CharField("行政区划代码", max_length=12)

    class Meta:
        indexes = _row_meta("src_hh")

    def __str__(self) -> str:
        return f"{self.household_number} 第 {self.row_number} 行"


class DeathRow(_SourceRow):
    death_date = models.DateField("死亡日期")

    class Meta:
        indexes = _row_meta("src_death")

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.death_date}"


class SscCardRow(_SourceRow):
    account_digest = models.CharField(max_length=64)
    account_enc = models.BinaryField()
    account_masked = models.CharField(max_length=40)
    bank_name = models.CharField("开户银行", max_length=100)
    card_status = models.CharField("金融功能状态", max_length=14)  # registry CardStatus values

    class Meta:
        indexes = _row_meta("src_ssc")

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.account_masked} {self.card_status}"


class PublicStaffRow(_SourceRow):
    employer = models.CharField("工作单位", max_length=200)

    class Meta:
        indexes = _row_meta("src_staff")

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.employer}"


class VehicleRow(_SourceRow):
    plate = models.CharField("号牌号码", max_length=20)
    vehicle_type = models.CharField("车辆类型", max_length=50)
    registered_on = models.DateField("登记日期", null=True)

    class Meta:
        indexes = _row_meta("src_veh")

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.plate}"


class EnterpriseRow(_SourceRow):
    enterprise_name = models.CharField("企业名称", max_length=200)
    credit_code = models.CharField("统一社会信用代码", max_length=18)
    capacity = models.CharField("身份", max_length=20)  # 法定代表人 / 股东

    class Meta:
        indexes = _row_meta("src_ent")

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.credit_code}"


class RealEstateRow(_SourceRow):
    property_count = models.PositiveIntegerField("不动产数量")
    floor_area = models.DecimalField("建筑面积", max_digits=12, decimal_places=2, null=True)

    class Meta:
        indexes = _row_meta("src_re")

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.property_count}"


class CadreRelativeRow(_SourceRow):
    """The person (id_digest) is a village cadre's close relative, or the cadre himself (cadre == person)."""

    cadre_id_digest = models.CharField(max_length=64)
    cadre_name = models.CharField("干部姓名", max_length=100)
    relation = models.CharField("关系", max_length=20)

    class Meta:
        indexes = _row_meta("src_cadre")

    def __str__(self) -> str:
        return f"第 {self.row_number} 行 {self.relation} {self.cadre_name}"


SOURCE_MODELS = {
    SourceCode.HOUSEHOLD: HouseholdRow,
    SourceCode.DEATH: DeathRow,
    SourceCode.SSC_CARD: SscCardRow,
    SourceCode.PUBLIC_STAFF: PublicStaffRow,
    SourceCode.VEHICLE: VehicleRow,
    SourceCode.ENTERPRISE: EnterpriseRow,
    SourceCode.REAL_ESTATE: RealEstateRow,
    SourceCode.CADRE_RELATIVE: CadreRelativeRow,
}


class CreditListEntry(models.Model):
    """信用名单: persons or organizations flagged or blocked for future applications (R16).

    Fed by administrators (UI/import) now and by the violations module later. Never deleted: lifted
    entries get lifted_at and a reason.
    """

    class Severity(models.TextChoices):
        FLAG = "flag", "提示复核"
        BLOCK = "block", "限制申领"

    id_digest = models.CharField(max_length=64, db_index=True)
    id_enc = models.BinaryField()
    id_masked = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    severity = models.CharField(max_length=5, choices=Severity.choices, default=Severity.FLAG)
    reason = models.CharField("列入原因", max_length=300)
    source = models.CharField("来源", max_length=50, default="manual")
    region = models.ForeignKey("core.Region", on_delete=models.PROTECT)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_reason = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.id_masked}"
