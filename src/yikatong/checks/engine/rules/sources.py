"""Rules against the shared data of other departments (current import of each source, joined on id_digest):
R02 death, R04/R05 social security card, R07–R10 means tests, R13 village cadres, R15 household registration."""

from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, JSONObject, Substr

from yikatong.checks.models import (
    CadreRelativeRow,
    CheckSubject,
    DeathRow,
    EnterpriseRow,
    HouseholdRow,
    PublicStaffRow,
    RealEstateRow,
    SscCardRow,
    VehicleRow,
)
from yikatong.registry.models import PayeeAccount
from yikatong.registry.models.accounts import UNPAYABLE_CARD_STATUSES

from .. import catalogue
from ..context import Group, RuleContext
from ..sql import Hits, json_object, masked_name, table, text_param, uuid_param
from .base import JsonBool, hits, masked, row_evidence, rule

REVIEW = catalogue.REVIEW
UNPAYABLE = [str(status) for status in UNPAYABLE_CARD_STATUSES]
ENTERPRISE_CAPACITIES = ["法定代表人", "股东"]


def _rows(model, import_id):
    return model.objects.filter(source_import_id=import_id, id_digest=OuterRef("id_digest"))


@rule("R02")
def r02(ctx: RuleContext, group: Group):
    """Dead before the first day of the period: the catalogue severity (block). Dead inside the period: a
    review case for the department. A death after the period is no finding. One semi-join finds everyone who
    died by the end of the period; the earliest death date (looked up for those only) decides which case."""
    imp = ctx.current_import("death")
    deaths = _rows(DeathRow, imp).filter(death_date__lte=OuterRef("last_day"))
    first_death = Subquery(deaths.order_by("death_date", "id").values("death_date")[:1])
    subjects = ctx.subjects(group).filter(Exists(deaths)).annotate(died_on=first_death)
    before = Q(died_on__lt=F("first_day"))
    fields = {"death_date": F("death_date"), "period_first_day": OuterRef("first_day"),
              "period_last_day": OuterRef("last_day")}
    return [hits(
        subjects,
        ekey=Case(When(before, then=Value("before")), default=Value("within"), output_field=CharField()),
        severity=Case(When(before, then=Value(group.severity)), default=Value(REVIEW), output_field=CharField()),
        evidence=row_evidence(deaths, "death", imp, order=("death_date", "id"), **fields),
    )]


def _payee_account(field: str) -> Subquery:
    """A field of the subject's payee account, from inside a source-row subquery (evaluated for hits only)."""
    return Subquery(PayeeAccount.objects.filter(pk=OuterRef(OuterRef("payee_account_id"))).values(field)[:1])


def _card_fields():
    return {"account_masked": F("account_masked"), "bank_name": F("bank_name"), "card_status": F("card_status"),
            "account_matches": JsonBool(True)}


@rule("R04")
def r04(ctx: RuleContext, group: Group):
    """The payee account (a social security card account) is not among the person's cards in the ssc_card
    source; or the card holder's name there differs from the beneficiary's name. Transitional other-bank
    accounts and corporate accounts are recorded exceptions and are not compared with the card."""
    imp = ctx.current_import("ssc_card")
    cards = _rows(SscCardRow, imp)
    same_account = cards.filter(account_digest=OuterRef("account_digest"))
    other_name = cards.exclude(name=OuterRef("name"))
    subjects = ctx.subjects(group)
    account_fields = {"account_masked": F("account_masked"), "bank_name": F("bank_name"),
                      "card_status": F("card_status"), "payee_account_masked": _payee_account("account_masked")}
    name_fields = {"account_masked": F("account_masked"), "bank_name": F("bank_name"),
                   "beneficiary_name": masked(OuterRef("name")), "name_matches": JsonBool(False)}
    return [
        hits(subjects.filter(account_kind="ssc_card").filter(Exists(cards)).exclude(Exists(same_account)),
             ekey="account", severity=group.severity,
             evidence=row_evidence(cards, "ssc_card", imp, **account_fields)),
        hits(subjects.filter(kind="person").filter(Exists(other_name)),
             ekey="name", severity=group.severity,
             evidence=row_evidence(other_name, "ssc_card", imp, **name_fields)),
    ]


@rule("R05", needs_source=False)
def r05(ctx: RuleContext, group: Group):
    """The card of the payee account is not activated, lost or cancelled — in the ssc_card source or on the
    payee account itself (refreshed from the card bank)."""
    imp = ctx.current_import("ssc_card")
    subjects = ctx.subjects(group)
    account_bad = Q(card_status__in=UNPAYABLE)
    account = PayeeAccount.objects.filter(pk=OuterRef("payee_account_id"))
    account_evidence = Subquery(account.values(j=JSONObject(
        source=Value("payee_account"), payee_account_id=F("id"), account_masked=F("account_masked"),
        bank_name=F("bank_name"), card_status=F("card_status")))[:1], output_field=JSONField())
    if imp is None:
        return [hits(subjects.filter(account_bad), ekey="", severity=group.severity, evidence=account_evidence)]
    bad_cards = _rows(SscCardRow, imp).filter(account_digest=OuterRef("account_digest"), card_status__in=UNPAYABLE)
    evidence = Coalesce(row_evidence(bad_cards, "ssc_card", imp, **_card_fields()), account_evidence,
                        output_field=JSONField())
    return [hits(subjects.filter(account_bad | Q(Exists(bad_cards))), ekey="", severity=group.severity,
                 evidence=evidence)]


def _exists_rule(ctx: RuleContext, group: Group, model, source: str, fields: dict, **filters):
    imp = ctx.current_import(source)
    rows = _rows(model, imp).filter(**filters)
    return [hits(ctx.subjects(group).filter(Exists(rows)), ekey="", severity=group.severity,
                 evidence=row_evidence(rows, source, imp, **fields))]


@rule("R07")
def r07(ctx: RuleContext, group: Group):
    return _exists_rule(ctx, group, PublicStaffRow, "public_staff", {"employer": F("employer")})


@rule("R08")
def r08(ctx: RuleContext, group: Group):
    return _exists_rule(ctx, group, VehicleRow, "vehicle",
                        {"plate": masked("plate"), "vehicle_type": F("vehicle_type"),
                         "registered_on": F("registered_on")})


@rule("R09")
def r09(ctx: RuleContext, group: Group):
    return _exists_rule(ctx, group, EnterpriseRow, "enterprise",
                        {"enterprise_name": F("enterprise_name"), "credit_code": F("credit_code"),
                         "capacity": F("capacity")},
                        capacity__in=ENTERPRISE_CAPACITIES)


@rule("R10")
def r10(ctx: RuleContext, group: Group):
    """More properties than the policy allows (parameter max_properties, default 1), summed over the rows.
    The persons over the limit are found once by one aggregate (not a sum per subject)."""
    imp = ctx.current_import("real_estate")
    limit = int(group.param("max_properties") if group.param("max_properties") is not None else 1)
    over = (RealEstateRow.objects.filter(source_import_id=imp).order_by().values("id_digest")
            .annotate(total=Sum("property_count")).filter(total__gt=limit).values("id_digest"))
    rows = _rows(RealEstateRow, imp)
    total = Subquery(rows.order_by().values("id_digest").annotate(total=Sum("property_count")).values("total")[:1],
                     output_field=IntegerField())
    subjects = ctx.subjects(group).filter(id_digest__in=over)
    return [hits(subjects, ekey="", severity=group.severity,
                 evidence=row_evidence(rows, "real_estate", imp, property_count=total, max_properties=Value(limit),
                                       floor_area=F("floor_area")))]


@rule("R13")
def r13(ctx: RuleContext, group: Group):
    """The person is listed in the cadre_relative source (as a relative, or as the cadre himself: key
    "person"), or is a cadre named by other rows without a row of his own (key "cadre"). Raw SQL: cadre_id_digest has no index, so the cadre branch joins the subjects
    with the cadres grouped once (hashed on PostgreSQL; SQLite indexes the grouped rows automatically) —
    never a lookup per subject, which would scan the source for each one."""
    imp = uuid_param(ctx.current_import("cadre_relative"))
    cadre, subject = table(CadreRelativeRow), table(CheckSubject)
    ids = ", ".join(["%s"] * len(group.policy_ids))
    evidence = json_object(
        ("source", "'cadre_relative'"), ("import_id", text_param()), ("row_id", "c.id"),
        ("row_number", "c.row_number"), ("name", masked_name("c.name")), ("cadre_name", masked_name("c.cadre_name")),
        ("relation", "c.relation"), ("is_cadre", "m.is_cadre"),
    )
    sql = f"""
        SELECT m.sid AS sid, m.ekey AS ekey, {text_param()} AS sev, {evidence} AS ev
        FROM (
            SELECT s.id AS sid, 'person' AS ekey, MIN(c.id) AS rid, 0 AS is_cadre
            FROM {subject} s JOIN {cadre} c ON c.id_digest = s.id_digest AND c.source_import_id = %s
            WHERE s.run_id = %s AND s.policy_id IN ({ids})
            GROUP BY s.id
            UNION ALL
            SELECT s.id, 'cadre', g.rid, 1
            FROM {subject} s
            JOIN (SELECT cadre_id_digest AS digest, MIN(id) AS rid FROM {cadre} WHERE source_import_id = %s
                  GROUP BY cadre_id_digest
                  HAVING MAX(CASE WHEN id_digest = cadre_id_digest THEN 1 ELSE 0 END) = 0) g
                ON g.digest = s.id_digest
            WHERE s.run_id = %s AND s.policy_id IN ({ids})
        ) m JOIN {cadre} c ON c.id = m.rid
    """
    params = (group.severity, str(ctx.current_import("cadre_relative")),
              imp, ctx.run.pk, *group.policy_ids, imp, ctx.run.pk, *group.policy_ids)
    return [Hits(sql, params)]


@rule("R15")
def r15(ctx: RuleContext, group: Group):
    """No household registration inside the paying region (the county of the subject's region by default;
    parameter level = county | township | village), including no household row at all."""
    imp = ctx.current_import("household")
    length = catalogue.REGION_LEVELS[group.param("level") or "county"]
    rows = _rows(HouseholdRow, imp)
    local = rows.annotate(prefix=Substr("region_code", 1, length)).filter(
        prefix=Substr(OuterRef("region_id"), 1, length))
    evidence = Coalesce(
        row_evidence(rows, "household", imp, household_number=F("household_number"), region_code=F("region_code"),
                     paying_region=Substr(OuterRef("region_id"), 1, length), found=JsonBool(True)),
        JSONObject(source=Value("household"), import_id=Value(str(imp)), found=JsonBool(False),
                   paying_region=Substr("region_id", 1, length)),
        output_field=JSONField(),
    )
    return [hits(ctx.subjects(group).exclude(Exists(local)), ekey="", severity=group.severity, evidence=evidence)]
