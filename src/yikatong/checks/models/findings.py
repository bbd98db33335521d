"""Cross-check rule engine: per-policy rule configuration, check runs, their working set, findings and history.

A check run evaluates the rule catalogue (yikatong.checks.engine.catalogue, SPEC §6) on a set of subjects:
the applications of a policy and period (and region), or the items of a payment batch. The subjects are
copied into CheckSubject (the engine's one generic input) and every rule is one set-based SQL statement
over it. A rule hit becomes a Finding whose `fingerprint` (rule | subject | evidence key) is unique, so
running again never duplicates: a hit that holds again is touched, one that no longer holds is closed
automatically, and a decided finding stays decided.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Severity(models.TextChoices):
    BLOCK = "block", "阻断"
    REVIEW = "review", "复核"


class RuleConfig(models.Model):
    """A policy's setting of one rule. Without a row the catalogue's default applies (rules R07–R10 only for
    means-tested policies); with a row, its `enabled` and `severity` apply and `params` override the
    catalogue's default parameters key by key."""

    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="check_rules")
    rule = models.CharField("规则编码", max_length=3)
    enabled = models.BooleanField("启用", default=True)
    severity = models.CharField("严重程度", max_length=6, choices=Severity.choices)
    params = models.JSONField("参数", default=dict, blank=True)
    updated_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "核查规则配置"
        verbose_name_plural = "核查规则配置"
        constraints = [models.UniqueConstraint(fields=["policy", "rule"], name="one_rule_config_per_policy")]

    def __str__(self) -> str:
        return f"{self.policy_id}:{self.rule}"


class CheckRun(models.Model):
    """One evaluation of the rules on a set of subjects."""

    class Kind(models.TextChoices):
        APPLICATIONS = "applications", "申报核查"
        ITEMS = "items", "发放明细核查"

    class Status(models.TextChoices):
        RUNNING = "running", "核查中"
        SUCCEEDED = "succeeded", "已完成"
        FAILED = "failed", "失败"

    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    policy = models.ForeignKey("policies.Policy", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    period = models.CharField("补贴期间", max_length=7, blank=True)
    region = models.ForeignKey("core.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    business_line = models.CharField("业务条线", max_length=20, blank=True)
    # A payment batch (or any other container of items) the run was made for, and the type of its items.
    ref_type = models.CharField(max_length=30, blank=True)
    ref_id = models.CharField(max_length=40, blank=True)
    item_type = models.CharField(max_length=30, blank=True)
    label = models.CharField("名称", max_length=200, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.RUNNING)
    # {rule: {"severity": …, "policies": n, "skipped": "why"}} — what was evaluated
    rules = models.JSONField("规则", default=dict, blank=True)
    subjects = models.PositiveIntegerField("核查对象数", default=0)
    # {rule: {"hits": n, "new": n, "reopened": n, "closed": n, "open_block": n, "open_review": n}}
    counts = models.JSONField("各规则结果", default=dict, blank=True)
    message = models.TextField("说明", blank=True)
    job = models.ForeignKey("core.JobProgress", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    started_by = models.CharField(max_length=150)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "核查批次"
        verbose_name_plural = "核查批次"
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["policy", "period"], name="chk_run_policy_period"),
            models.Index(fields=["ref_type", "ref_id"], name="chk_run_ref"),
        ]

    def __str__(self) -> str:
        return f"核查批次 {self.pk}"

    @property
    def seconds(self) -> float | None:
        if not self.finished_at:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class CheckSubject(models.Model):
    """The working set of a run — the engine's generic input, one row per application or payment item.

    Filled by INSERT … SELECT at the start of a run and deleted at its end. Foreign keys carry no database
    constraint: the rows live for minutes and are written a million at a time."""

    run = models.ForeignKey(CheckRun, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    subject_key = models.CharField(max_length=72)  # "A<application id>" or "<item type>:<item id>"
    application = models.ForeignKey("applications.Application", null=True, on_delete=models.DO_NOTHING,
                                    db_constraint=False, db_index=False, related_name="+")
    ref_type = models.CharField(max_length=30, blank=True)
    ref_id = models.CharField(max_length=40, blank=True)
    beneficiary = models.ForeignKey("registry.Beneficiary", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                    related_name="+")
    id_digest = models.CharField(max_length=64)
    policy = models.ForeignKey("policies.Policy", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                               related_name="+")
    business_line = models.CharField(max_length=20, blank=True)
    period = models.CharField(max_length=7)
    first_day = models.DateField()
    last_day = models.DateField()
    first_month = models.IntegerField()  # year * 12 + month - 1 of the first day (period overlap in SQL)
    last_month = models.IntegerField()
    region_id = models.CharField(max_length=12)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    quantity = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    tier = models.CharField(max_length=30, blank=True)
    payee_account = models.ForeignKey("registry.PayeeAccount", null=True, on_delete=models.DO_NOTHING,
                                      db_constraint=False, db_index=False, related_name="+")
    account_digest = models.CharField(max_length=64, blank=True)
    # Copied from the beneficiary and the payee account when the set is filled, so that rules never join them.
    account_kind = models.CharField(max_length=12, blank=True)
    card_status = models.CharField(max_length=14, blank=True)
    kind = models.CharField(max_length=12, default="person")
    name = models.CharField(max_length=100, blank=True, default="")
    id_masked = models.CharField(max_length=32, blank=True, default="")
    birth_date = models.DateField(null=True)
    gender = models.CharField(max_length=1, blank=True)
    household_id = models.BigIntegerField(null=True)
    phone_digest = models.CharField(max_length=64, blank=True)

    # No secondary index on purpose: a run writes a million rows here at a time and every rule reads them by
    # a scan joined with hashes (PostgreSQL) or automatic indexes (SQLite); B-tree upkeep on 64-character
    # digests would cost more than all the rules together.

    def __str__(self) -> str:
        return self.subject_key


class Finding(models.Model):
    """A rule hit on one subject, with its evidence and its resolution."""

    class Status(models.TextChoices):
        OPEN = "open", "待处理"
        CONFIRMED = "confirmed", "已确认"
        CLEARED = "cleared", "已排除"
        CLOSED_AUTO = "closed_auto", "已自动关闭"

    class Decision(models.TextChoices):
        CONFIRM = "confirm", "确认属实"
        CLEAR = "clear", "排除"
        ACCEPT = "accept", "复核通过"
        REJECT = "reject", "复核不通过"

    fingerprint = models.CharField(max_length=200, unique=True)
    rule = models.CharField("规则编码", max_length=3)
    severity = models.CharField("严重程度", max_length=6, choices=Severity.choices)
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.OPEN)
    subject_key = models.CharField(max_length=72)
    application = models.ForeignKey("applications.Application", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="findings", db_index=False)
    ref_type = models.CharField("明细类型", max_length=30, blank=True)
    ref_id = models.CharField("明细编号", max_length=40, blank=True)
    beneficiary = models.ForeignKey("registry.Beneficiary", on_delete=models.PROTECT, related_name="findings")
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="findings", db_index=False)
    business_line = models.CharField("业务条线", max_length=20, blank=True)
    period = models.CharField("补贴期间", max_length=7)
    region = models.ForeignKey("core.Region", on_delete=models.PROTECT, related_name="+", db_index=False)
    evidence_key = models.CharField(max_length=100, blank=True)
    evidence = models.JSONField("证据", default=dict)
    note = models.CharField("系统说明", max_length=300, blank=True)
    decision = models.CharField("处理结论", max_length=8, choices=Decision.choices, blank=True)
    decision_reason = models.TextField("处理理由", blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    first_run = models.ForeignKey(CheckRun, on_delete=models.PROTECT, related_name="+")
    last_seen_run = models.ForeignKey(CheckRun, on_delete=models.PROTECT, related_name="+")
    # The run that last changed the status by itself (reopened or closed automatically).
    status_run = models.ForeignKey(CheckRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "比对疑点"
        verbose_name_plural = "比对疑点"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["subject_key", "status"], name="chk_find_subject"),
            models.Index(fields=["application", "status", "severity"], name="chk_find_app"),
            models.Index(fields=["ref_type", "ref_id", "status"], name="chk_find_ref"),
            models.Index(fields=["rule", "status"], name="chk_find_rule"),
            models.Index(fields=["policy", "period", "status"], name="chk_find_policy"),
            models.Index(fields=["region", "status"], name="chk_find_region"),
        ]
        constraints = [
            models.CheckConstraint(
                name="finding_decided_has_reason",
                condition=~Q(status__in=["confirmed", "cleared"]) | ~Q(decision_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} #{self.pk}"


class FindingEvent(models.Model):
    """History of a finding: opened, reopened and closed by runs; confirmed, cleared, decided by people."""

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=12)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    run = models.ForeignKey(CheckRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["finding_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.finding_id} {self.action}"
