from django.contrib.auth.models import AbstractUser
from django.db import models


class OrgKind(models.TextChoices):
    FINANCE = "finance", "财政部门"
    DEPARTMENT = "department", "补贴项目主管部门"
    COLLECTOR = "collector", "信息采集主体"
    HR = "hr", "人社部门"
    PAYING_BANK = "paying_bank", "代发银行"
    CARD_BANK = "card_bank", "社保卡合作银行"
    REGULATOR = "regulator", "金融监管部门"
    SUPERVISOR = "supervisor", "监督部门"
    ADMIN = "admin", "平台运营"


class BusinessLine(models.TextChoices):
    """The business of a competent department; policies and their data belong to one line."""

    AGRICULTURE = "agriculture", "农业农村"
    WATER = "water", "水利"
    FORESTRY = "forestry", "林业"
    HEALTH = "health", "卫生健康"
    CIVIL_AFFAIRS = "civil_affairs", "民政"
    EMERGENCY = "emergency", "应急管理"
    HOUSING = "housing", "住房城乡建设"
    VETERANS = "veterans", "退役军人事务"
    DISABLED = "disabled", "残疾人联合会"
    EDUCATION = "education", "教育"
    HR_SOCIAL = "hr_social", "人力资源社会保障"
    OTHER = "other", "其他"


class Role(models.TextChoices):
    """A user's role. Today one role per organization kind (see yikatong.core.roles for permissions)."""

    FINANCE = "finance", "财政部门"
    DEPARTMENT = "department", "主管部门"
    COLLECTOR = "collector", "采集经办"
    HR = "hr", "人社部门"
    PAYING_BANK = "paying_bank", "代发银行"
    CARD_BANK = "card_bank", "社保卡银行"
    REGULATOR = "regulator", "金融监管"
    SUPERVISOR = "supervisor", "监督检查"
    ADMIN = "admin", "系统管理员"


class Organization(models.Model):
    code = models.CharField("机构编码", max_length=32, unique=True)
    name = models.CharField("机构名称", max_length=200)
    kind = models.CharField("机构类型", max_length=20, choices=OrgKind.choices)
    business_line = models.CharField("业务条线", max_length=20, choices=BusinessLine.choices, blank=True)
    region = models.ForeignKey("core.Region", verbose_name="所在区划", on_delete=models.PROTECT)
    credit_code = models.CharField("统一社会信用代码", max_length=18, blank=True)
    bank_code = models.CharField("银行代码", max_length=20, blank=True, help_text="银行机构的行别代码")
    active = models.BooleanField("有效", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "机构"
        verbose_name_plural = "机构"
        ordering = ["region_id", "kind", "code"]
        indexes = [models.Index(fields=["region", "kind"])]
        constraints = [
            models.CheckConstraint(
                name="org_department_has_business_line",
                condition=~models.Q(kind="department") | ~models.Q(business_line=""),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    organization = models.ForeignKey(
        Organization, verbose_name="所属机构", null=True, blank=True, on_delete=models.PROTECT,
        related_name="users",
    )
    role = models.CharField("角色", max_length=20, choices=Role.choices, blank=True)
    full_name = models.CharField("姓名", max_length=50, blank=True)
    phone = models.CharField("办公电话", max_length=20, blank=True)

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def region_id_or_none(self) -> str | None:
        return self.organization.region_id if self.organization_id else None


class ApiCredential(models.Model):
    """A machine credential for an outside system (a bank, the data-sharing exchange).

    The key itself is shown once at creation; only its SHA-256 digest is stored. `interfaces` limits
    which API routers it may call (e.g. ["bank"], ["data_sharing"]).
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="api_credentials")
    name = models.CharField("名称", max_length=100)
    key_prefix = models.CharField(max_length=12, db_index=True)
    key_digest = models.CharField(max_length=64, unique=True)
    interfaces = models.JSONField("可用接口", default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "接口凭证"
        verbose_name_plural = "接口凭证"

    def __str__(self) -> str:
        return f"{self.name}（{self.key_prefix}…）"
