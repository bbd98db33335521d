"""Subsidy policies (补贴政策/项目) and their kept versions."""

from django.db import models

from yikatong.core.models import BusinessLine
from yikatong.core.money import MoneyField


class GovLevel(models.TextChoices):
    """Government level that set a policy or pays a share of it."""

    CENTRAL = "central", "中央"
    PROVINCIAL = "provincial", "省级"
    MUNICIPAL = "municipal", "市级"
    COUNTY = "county", "县级"


class StandardType(models.TextChoices):
    FIXED = "fixed", "定额"
    PER_UNIT = "per_unit", "按单位"
    TIERED = "tiered", "分档"


class Cycle(models.TextChoices):
    MONTHLY = "monthly", "按月"
    QUARTERLY = "quarterly", "按季"
    YEARLY = "yearly", "按年"
    ONE_OFF = "one_off", "一次性"


class PolicyStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    ACTIVE = "active", "执行中"
    RETIRED = "retired", "已停止"


def money_field(verbose_name: str, **kwargs) -> MoneyField:
    """Yuan with two decimals (core's MoneyField: DecimalField(16, 2) refusing floats)."""
    return MoneyField(verbose_name, **kwargs)


class Policy(models.Model):
    """One subsidy policy. Every create and update writes a PolicyVersion; the row holds the current one.

    JSON attributes keep amounts and shares as decimal strings (never floats):
      funding_sources: [{"level": "central", "share": "80"}, …]  (shares sum to 100)
      tiers:           [{"code": "T1", "label": "微耕机", "amount": "1000.00"}, …]
    """

    code = models.CharField("补贴项目编码", max_length=32, unique=True)
    name = models.CharField("补贴项目名称", max_length=200)
    business_line = models.CharField("业务条线", max_length=20, choices=BusinessLine.choices)
    department = models.ForeignKey(
        "core.Organization", verbose_name="主管部门", on_delete=models.PROTECT, related_name="policies"
    )
    region = models.ForeignKey(
        "core.Region", verbose_name="制定区划", on_delete=models.PROTECT, related_name="policies"
    )
    level_set = models.CharField("制定层级", max_length=12, choices=GovLevel.choices)
    funding_sources = models.JSONField("资金来源", default=list, blank=True)
    legal_basis = models.TextField("政策依据", blank=True)
    documents = models.ManyToManyField(
        "core.StoredFile", verbose_name="政策文件", through="PolicyDocument", related_name="+", blank=True
    )
    target_group = models.TextField("补贴对象", blank=True)
    standard_type = models.CharField("标准类型", max_length=10, choices=StandardType.choices)
    standard_amount = money_field("补贴标准（元）", default=0)
    unit_name = models.CharField("计量单位", max_length=20, blank=True, help_text="如 亩、人")
    tiers = models.JSONField("分档标准", default=list, blank=True)
    cycle = models.CharField("发放周期", max_length=10, choices=Cycle.choices)
    means_tested = models.BooleanField("是否经济状况核查", default=False)
    direct_funds = models.BooleanField("是否直达资金", default=False)
    valid_from = models.DateField("有效期起")
    valid_to = models.DateField("有效期止", null=True, blank=True)
    is_public = models.BooleanField("向社会公开", default=True)
    online_application = models.BooleanField("可网上申请", default=False)
    notice_public = models.BooleanField("公示可对外公开", default=True)
    min_age = models.PositiveSmallIntegerField("最低年龄", null=True, blank=True)
    max_age = models.PositiveSmallIntegerField("最高年龄", null=True, blank=True)
    exclusive_with = models.ManyToManyField("self", verbose_name="互斥政策", symmetrical=True, blank=True)
    extra_rules = models.JSONField("其他规则", default=dict, blank=True)
    status = models.CharField("状态", max_length=10, choices=PolicyStatus.choices, default=PolicyStatus.DRAFT)
    version = models.PositiveIntegerField("版本", default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "补贴政策"
        verbose_name_plural = "补贴政策"
        ordering = ["code"]
        indexes = [
            models.Index(fields=["region", "business_line"]),
            models.Index(fields=["status", "code"]),
        ]
        constraints = [
            models.CheckConstraint(
                name="policy_valid_to_after_from",
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
            ),
            models.CheckConstraint(name="policy_standard_not_negative", condition=models.Q(standard_amount__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class PolicyDocument(models.Model):
    """A legal-basis document attached to a policy, with the title to show for it."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="policy_documents")
    file = models.ForeignKey("core.StoredFile", on_delete=models.PROTECT, related_name="+")
    title = models.CharField("文件标题", max_length=200)

    class Meta:
        verbose_name = "政策文件"
        verbose_name_plural = "政策文件"
        constraints = [models.UniqueConstraint(fields=["policy", "file"], name="policy_document_unique")]

    def __str__(self) -> str:
        return self.title


class PolicyVersion(models.Model):
    """A full snapshot of a policy as it was after one create/update. Never changed, never deleted."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField("版本")
    snapshot = models.JSONField("内容")
    changed_by = models.CharField("修改人", max_length=150)
    changed_at = models.DateTimeField("修改时间")
    reason = models.TextField("修改原因", blank=True)

    class Meta:
        verbose_name = "补贴政策版本"
        verbose_name_plural = "补贴政策版本"
        ordering = ["policy_id", "version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.version}"
