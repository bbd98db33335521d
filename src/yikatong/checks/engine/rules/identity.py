"""Rules on the person's identity number: R01 (invalid ID) and R14 (age condition derived from the ID).

R01 works on what the registry stores beside the encrypted number — the birth date and gender derived from
it, and the masked number, whose first six digits are the region code and whose last is the check digit.
Every entry path (registry service, roster import) validates the full number with GB 11643 before it is
stored; R01 is the set-based re-check for records that arrive around those paths (imports, migrations):
a missing or impossible birth date, a missing gender, a malformed number, or a region code that never
existed (codes of any era count, so old 万县 codes such as 512201 pass). Organizations: the credit code
(stored in full as the masked value) is validated with GB 32100 — there are few organizations per run.
"""

import datetime as dt

from django.db.models import Case, CharField, F, IntegerField, Q, Value, When
from django.db.models.functions import Cast, Concat, JSONObject, Length, Substr

from yikatong.core.identity import EARLIEST_BIRTH_YEAR, is_valid_credit_code, region_prefix_known

from ..context import Group, RuleContext
from .base import as_text, hits, rule

CHECK_CHARACTERS = [str(d) for d in range(10)] + ["X"]


@rule("R01", needs_source=False)
def r01(ctx: RuleContext, group: Group):
    subjects = ctx.subjects(group)
    persons = subjects.filter(kind="person")
    prefixes = (persons.annotate(prefix=Substr("id_masked", 1, 6))
                .values_list("prefix", flat=True).distinct())
    unknown = sorted(p for p in prefixes if not (p and region_prefix_known(p)))
    earliest = dt.date(EARLIEST_BIRTH_YEAR, 1, 1)
    bad_birth = (Q(birth_date__isnull=True) | Q(birth_date__lt=earliest)
                 | Q(birth_date__gt=ctx.today))
    bad_gender = ~Q(gender__in=["男", "女"])
    bad_shape = (~Q(id_length=18) | ~Q(check_char__in=CHECK_CHARACTERS))
    whens = [When(bad_shape, then=Value("身份证号位数或校验位格式错误"))]
    condition = bad_shape | bad_birth | bad_gender
    if unknown:
        bad_region = Q(region_prefix__in=unknown)
        condition |= bad_region
        whens.append(When(bad_region, then=Concat(
            Value("身份证号地区码 "), "region_prefix", Value(" 不是有效的行政区划代码（任何年份均未使用过）"),
            output_field=CharField())))
    whens += [When(bad_birth, then=Value("身份证号中的出生日期缺失或无效")),
              When(bad_gender, then=Value("身份证号对应的性别信息缺失"))]
    person_reason = Case(*whens, output_field=CharField())
    annotated = persons.annotate(
        id_length=Length("id_masked"),
        check_char=Substr("id_masked", 18, 1),
        region_prefix=Substr("id_masked", 1, 6),
    )
    found = [hits(
        annotated.filter(condition),
        ekey="", severity=group.severity,
        evidence=JSONObject(reason=person_reason, id_masked=F("id_masked"),
                            birth_date=F("birth_date")),
    )]
    orgs = subjects.filter(kind="organization")
    codes = dict(orgs.values_list("beneficiary_id", "id_masked").distinct())
    invalid = sorted(pk for pk, code in codes.items() if not is_valid_credit_code(code))
    if invalid:
        found.append(hits(
            orgs.filter(beneficiary_id__in=invalid), ekey="", severity=group.severity,
            evidence=JSONObject(reason=Value("统一社会信用代码校验未通过"), id_masked=F("id_masked")),
        ))
    return found


def latest_birth(on: dt.date, age: int) -> dt.date:
    """The latest birth date of a person who is at least `age` full years old on `on` (a 29 February birthday
    counts on 1 March in common years, as core.identity.age_on does)."""
    try:
        return on.replace(year=on.year - age)
    except ValueError:  # on is 29 February, the year `age` years earlier is a common year
        return on.replace(year=on.year - age, day=28)


def age_expression(on: dt.date):
    """Full years on `on` of the subject's beneficiary, in SQL (dates compared as ISO text)."""
    birth = as_text("birth_date")
    birth_year = Cast(Substr(birth, 1, 4), IntegerField())
    late = Case(When(Q(birth_month_day__gt=on.strftime("%m-%d")), then=Value(1)), default=Value(0),
                output_field=IntegerField())
    return Value(on.year) - birth_year - late


@rule("R14", needs_source=False)
def r14(ctx: RuleContext, group: Group):
    """Age on the last day of the period (unless the policy says otherwise); exactly at a limit passes."""
    min_age, max_age = group.param("min_age"), group.param("max_age")
    if min_age is None and max_age is None:
        return []
    found = []
    for period in ctx.periods:
        on = period.last_day
        condition = Q()
        if min_age is not None:
            condition |= Q(birth_date__gt=latest_birth(on, int(min_age)))
        if max_age is not None:
            condition |= Q(birth_date__lte=latest_birth(on, int(max_age) + 1))
        subjects = (ctx.subjects(group)
                    .filter(period=period.period, kind="person", birth_date__isnull=False)
                    .annotate(birth_month_day=Substr(as_text("birth_date"), 6, 5))
                    .filter(condition))
        found.append(hits(subjects, ekey="", severity=group.severity, evidence=JSONObject(
            birth_date=F("birth_date"), reference_date=Value(on.isoformat()),
            age=age_expression(on), min_age=Value(min_age), max_age=Value(max_age),
        )))
    return found
