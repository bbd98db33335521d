"""Rules on the platform's own data: R03 paid twice, R06 amount above the standard, R11 mutually exclusive
policies, R12 account or phone shared across households, R16 credit list.

R03 and R11 compare each subject with other records of the same person: approved (R03) or open and approved
(R11) applications, and whatever the payments module registers with `register_paid_records` (payment items
that are paid or on their way). Periods overlap when one contains the other (2026 ⊇ 2026Q1 ⊇ 2026-03); the
comparison uses month indexes (year × 12 + month − 1) computed from the period text in SQL.
"""

from collections.abc import Callable
from decimal import Decimal

from django.db.models import BigIntegerField, Case, ExpressionWrapper, F, Q, QuerySet, Value, When
from django.db.models.functions import Cast, JSONObject, Round

from yikatong.applications.models import Application
from yikatong.checks.models import CheckSubject, CreditListEntry
from yikatong.policies.models import Policy
from yikatong.registry.models import Beneficiary, PayeeAccount

from ..context import Group, RuleContext
from ..sql import Hits, compile_queryset, json_object, masked_name, period_month_bounds, table, text_param
from .base import as_text, hits, rule

# -- records of payments (registered by the payments module) -------------------------------------------------
# A provider returns a QuerySet whose values() are exactly PAID_RECORD_COLUMNS:
#   o_beneficiary (beneficiary id), o_policy (policy id), o_period (period text), o_ref_type, o_ref_id (text),
#   o_application (the application the record stems from, or None), o_label (a number to show), o_status.
PAID_RECORD_COLUMNS = ("o_beneficiary", "o_policy", "o_period", "o_ref_type", "o_ref_id", "o_application",
                       "o_label", "o_status")
_PAID_PROVIDERS: list[Callable[[], QuerySet]] = []


def register_paid_records(provider: Callable[[], QuerySet]) -> None:
    """Called by the payments module (from its AppConfig.ready()) so that R03 and R11 also see payment items."""
    if provider not in _PAID_PROVIDERS:
        _PAID_PROVIDERS.append(provider)


def unregister_paid_records(provider) -> None:
    if provider in _PAID_PROVIDERS:
        _PAID_PROVIDERS.remove(provider)


def _applications_sql(statuses_sql: str) -> tuple[str, tuple]:
    app = table(Application)
    return (f"""SELECT a.beneficiary_id AS o_beneficiary, a.policy_id AS o_policy, a.period AS o_period,
                       'application' AS o_ref_type, CAST(a.id AS TEXT) AS o_ref_id, a.id AS o_application,
                       a.number AS o_label, a.status AS o_status
                FROM {app} a WHERE a.status {statuses_sql}""", ())


def _provided_sql() -> list[tuple[str, tuple]]:
    found = []
    for provider in list(_PAID_PROVIDERS):
        queryset = provider()
        sql, params = compile_queryset(queryset)
        cols = ", ".join(f"p.{name}" for name in PAID_RECORD_COLUMNS)
        found.append((f"SELECT {cols} FROM ({sql}) p", params))
    return found


def _policy_ids(group: Group) -> tuple[str, tuple]:
    return ", ".join(["%s"] * len(group.policy_ids)), tuple(group.policy_ids)


def _pair_hits(ctx: RuleContext, group: Group, other_sql: str, other_params: tuple, *, exclusive: bool) -> Hits:
    """Subjects joined with other records of the same person whose period overlaps. R03 (`exclusive` false):
    the same policy. R11: a policy configured as mutually exclusive with the subject's policy."""
    subject, policy = table(CheckSubject), table(Policy)
    through = table(Policy.exclusive_with.through)
    first, last = period_month_bounds("o.o_period")
    ids, id_params = _policy_ids(group)
    evidence = json_object(
        ("other", "o.o_ref_type"), ("other_id", "o.o_ref_id"), ("other_number", "o.o_label"),
        ("other_status", "o.o_status"), ("other_period", "o.o_period"), ("other_policy", "op.code"),
        ("other_application_id", "o.o_application"),
    )
    if exclusive:
        join = (f"JOIN {through} x ON x.from_policy_id = s.policy_id "
                f"JOIN ({other_sql}) o ON o.o_beneficiary = s.beneficiary_id AND o.o_policy = x.to_policy_id")
    else:
        join = f"JOIN ({other_sql}) o ON o.o_beneficiary = s.beneficiary_id AND o.o_policy = s.policy_id"
    sql = f"""
        SELECT s.id AS sid, o.o_ref_type || ':' || o.o_ref_id AS ekey, {text_param()} AS sev, {evidence} AS ev
        FROM {subject} s {join}
        JOIN {policy} op ON op.id = o.o_policy
        WHERE s.run_id = %s AND s.policy_id IN ({ids})
          AND (s.application_id IS NULL OR o.o_application IS NULL OR o.o_application <> s.application_id)
          AND NOT (o.o_ref_type = s.ref_type AND o.o_ref_id = s.ref_id)
          AND {first} <= s.last_month AND s.first_month <= {last}
    """
    return Hits(sql, (group.severity, *other_params, ctx.run.pk, *id_params))


@rule("R03")
def r03(ctx: RuleContext, group: Group):
    """The same person, policy and (overlapping) period already approved or paid — any region, any batch."""
    sources = [_applications_sql("= 'approved'"), *_provided_sql()]
    return [_pair_hits(ctx, group, sql, params, exclusive=False) for sql, params in sources]


@rule("R11")
def r11(ctx: RuleContext, group: Group):
    """The same person in an overlapping period under a policy configured as mutually exclusive
    (Policy.exclusive_with): open or approved applications, and paid records."""
    sources = [_applications_sql("NOT IN ('rejected', 'withdrawn')"), *_provided_sql()]
    return [_pair_hits(ctx, group, sql, params, exclusive=True) for sql, params in sources]


def _fen(expression) -> Cast:
    return Cast(Round(ExpressionWrapper(expression * Value(100), output_field=BigIntegerField())),
                BigIntegerField())


@rule("R06", needs_source=False)
def r06(ctx: RuleContext, group: Group):
    """Amount above the standard: fixed → the standard; per unit → standard × quantity rounded half up to the
    fen (integer fen arithmetic, so SQLite's floating numbers cannot tip a boundary); tiered → the tier's
    amount (an unknown tier is a finding). Compared in fen."""
    found = []
    for policy in Policy.objects.filter(pk__in=group.policy_ids).only("id", "standard_type", "standard_amount",
                                                                       "tiers", "unit_name"):
        subjects = ctx.subjects(group).filter(policy_id=policy.pk).annotate(amount_fen=_fen(F("amount")))
        standard_fen = int(Decimal(str(policy.standard_amount or 0)) * 100)
        base = {"standard_type": Value(policy.standard_type), "amount": as_text("amount"),
                "amount_fen": F("amount_fen")}
        if policy.standard_type == "fixed":
            found.append(hits(subjects.filter(amount_fen__gt=standard_fen), ekey="", severity=group.severity,
                              evidence=JSONObject(**base, max_fen=Value(standard_fen))))
        elif policy.standard_type == "per_unit":
            quantity_centi = _fen(F("quantity"))
            max_fen = ExpressionWrapper((Value(standard_fen) * quantity_centi + Value(50)) / Value(100),
                                        output_field=BigIntegerField())
            subjects = subjects.annotate(max_fen=max_fen)
            found.append(hits(subjects.filter(Q(quantity__isnull=True) | Q(amount_fen__gt=F("max_fen"))),
                              ekey="", severity=group.severity,
                              evidence=JSONObject(**base, quantity=as_text("quantity"), unit=Value(policy.unit_name),
                                                  standard_fen=Value(standard_fen), max_fen=F("max_fen"))))
        elif policy.standard_type == "tiered":
            tiers = [When(tier=t["code"], then=Value(int(Decimal(str(t["amount"])) * 100))) for t in policy.tiers or []]
            tier_fen = Case(*tiers, default=Value(None), output_field=BigIntegerField()) if tiers else Value(
                None, output_field=BigIntegerField())
            subjects = subjects.annotate(max_fen=tier_fen)
            found.append(hits(subjects.filter(Q(max_fen__isnull=True) | Q(amount_fen__gt=F("max_fen"))),
                              ekey="", severity=group.severity,
                              evidence=JSONObject(**base, tier=F("tier"), max_fen=F("max_fen"))))
    return found


@rule("R12", needs_source=False)
def r12(ctx: RuleContext, group: Group):
    """The subject's account (or phone) is also the active account (or phone) of a beneficiary of another
    household. Same household is fine; a person without a recorded household counts as another household.
    The digests held by more than one beneficiary are found first by one aggregate, so only the few subjects
    holding one go on to the joins. `phone_digest > ''` is the condition of the phone digest index (it only
    holds persons with a phone), written in the index's own form: SQLite uses a partial index only then."""
    subject, ben, acct = table(CheckSubject), table(Beneficiary), table(PayeeAccount)
    ids, id_params = _policy_ids(group)
    other_household = "(s.household_id IS NULL OR ob.household_id IS NULL OR ob.household_id <> s.household_id)"

    def evidence(kind: str) -> str:
        return json_object(("kind", f"'{kind}'"), ("others", "COUNT(DISTINCT ob.id)"),
                           ("other_beneficiary_id", "MIN(ob.id)"), ("household_id", "MIN(s.household_id)"))

    account_sql = f"""
        SELECT s.id AS sid, 'account' AS ekey, {text_param()} AS sev, {evidence('account')} AS ev
        FROM {subject} s
        JOIN (SELECT account_digest AS digest FROM {acct} WHERE is_active = %s
              GROUP BY account_digest HAVING COUNT(*) > 1) shared ON shared.digest = s.account_digest
        JOIN {acct} oa ON oa.account_digest = s.account_digest AND oa.is_active = %s
        JOIN {ben} ob ON ob.id = oa.beneficiary_id
        WHERE s.run_id = %s AND s.policy_id IN ({ids}) AND s.account_digest <> ''
          AND ob.id <> s.beneficiary_id AND {other_household}
        GROUP BY s.id
    """
    phone_sql = f"""
        SELECT s.id AS sid, 'phone' AS ekey, {text_param()} AS sev, {evidence('phone')} AS ev
        FROM {subject} s
        JOIN (SELECT phone_digest AS digest FROM {ben} WHERE phone_digest > ''
              GROUP BY phone_digest HAVING COUNT(*) > 1) shared ON shared.digest = s.phone_digest
        JOIN {ben} ob ON ob.phone_digest = s.phone_digest AND ob.phone_digest > ''
        WHERE s.run_id = %s AND s.policy_id IN ({ids}) AND s.phone_digest <> ''
          AND ob.id <> s.beneficiary_id AND {other_household}
        GROUP BY s.id
    """
    return [
        Hits(account_sql, (group.severity, True, True, ctx.run.pk, *id_params)),
        Hits(phone_sql, (group.severity, ctx.run.pk, *id_params)),
    ]


@rule("R16", needs_source=False)
def r16(ctx: RuleContext, group: Group):
    """An entry of the credit list for the person, not lifted, valid on some day of the period. The catalogue
    severity (review) applies, or block when the entry restricts applications (severity=block)."""
    subject, entry = table(CheckSubject), table(CreditListEntry)
    ids, id_params = _policy_ids(group)
    evidence = json_object(
        ("source", "'credit_list'"), ("entry_id", "e.id"), ("entry_severity", "e.severity"), ("reason", "e.reason"),
        ("list_source", "e.source"), ("region", "e.region_id"), ("valid_from", "e.valid_from"),
        ("valid_to", "e.valid_to"), ("name", masked_name("e.name")),
    )
    sql = f"""
        SELECT s.id AS sid, 'E' || CAST(e.id AS TEXT) AS ekey,
               CASE WHEN e.severity = 'block' THEN 'block' ELSE {text_param()} END AS sev, {evidence} AS ev
        FROM {subject} s JOIN {entry} e ON e.id_digest = s.id_digest
        WHERE s.run_id = %s AND s.policy_id IN ({ids}) AND e.lifted_at IS NULL
          AND e.valid_from <= s.last_day AND (e.valid_to IS NULL OR e.valid_to >= s.first_day)
    """
    return [Hits(sql, (group.severity, ctx.run.pk, *id_params))]



