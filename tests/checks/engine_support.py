"""Helpers of the rule-engine tests: policies, persons registered through the registry services, applications,
shared-data sources (SourceImport + SourceState + rows) and credit-list entries, and running the checks.

Policies are created directly (the library and list workflow is not what these tests are about);
applications are created directly in the state a test needs (the engine reads them, it does not care how
they were collected)."""

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from yikatong.applications.models import Application
from yikatong.checks.models import (
    CreditListEntry,
    Finding,
    SourceImport,
    SourceState,
)
from yikatong.checks.models.sources import SOURCE_MODELS
from yikatong.checks.services.runs import check_run_applications
from yikatong.core import crypto, masking
from yikatong.core.models import BusinessLine, Organization
from yikatong.core.scope import Scope
from yikatong.policies.models import Policy
from yikatong.registry.services import beneficiary_register_person, payee_account_set

WANZHOU = "500101000000"
TOWNSHIP = "500101001000"
VILLAGE = "500101001001"       # 高笋塘社区
VILLAGE2 = "500101002001"      # 太白社区 (another township of 万州区)
FL_VILLAGE = "500102001001"    # 敦仁社区 (涪陵区)
PERIOD = "2026-03"

_counter = itertools.count(1)


def resident_id(prefix: str, birth: str, seq: int) -> str:
    """A valid 18-digit resident ID (GB 11643 check digit)."""
    body = f"{prefix}{birth}{seq % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def luhn_account(stem: str) -> str:
    digits = [int(d) for d in stem]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return stem + str((10 - total % 10) % 10)


@dataclass
class Lab:
    world: object
    settings: object
    seq: itertools.count = field(default_factory=lambda: itertools.count(100))

    # -- actors ------------------------------------------------------------------------------------------
    def scope(self, key: str) -> Scope:
        return Scope.for_user(self.world.users[key])

    def set_today(self, value: str) -> None:
        self.settings.YIKATONG_TODAY = value

    # -- policies ----------------------------------------------------------------------------------------
    def policy(self, code: str, **fields) -> Policy:
        values = {
            "name": f"测试补贴 {code}", "business_line": BusinessLine.CIVIL_AFFAIRS,
            "department": Organization.objects.get(code="WZ-MZJ"), "region_id": WANZHOU, "level_set": "county",
            "standard_type": "fixed", "standard_amount": Decimal("300.00"), "cycle": "monthly",
            "means_tested": True, "valid_from": dt.date(2026, 1, 1), "status": "active",
        }
        values.update(fields)
        return Policy.objects.create(code=code, **values)

    # -- persons -------------------------------------------------------------------------------------------
    def person(self, name: str, *, birth: str = "19600101", prefix: str = "500101", village: str = VILLAGE,
               household: str = "", phone: str = "", account: bool = True, card_status: str = "activated",
               account_number: str = "", kind: str = "ssc_card"):
        seq = next(self.seq)
        number = resident_id(prefix, birth, seq)
        collector = {"500101001": "collector", "500101002": "collector2", "500102001": "collector_other"}
        actor = self.scope(collector[village[:9]])
        person = beneficiary_register_person(actor=actor, name=name, id_number=number, region_code=village,
                                             household_number=household, phone=phone, reason="测试登记")
        person.id_plain = number
        person.account_plain = ""
        if account:
            account_number = account_number or luhn_account(f"622000{seq:012d}")
            extra = {"exception_reason": "过渡期使用原存折账户"} if kind == "other_bank" else {}
            payee_account_set(actor=actor, beneficiary_id=person.pk, kind=kind, bank_name="重庆农村商业银行",
                              account_number=account_number, card_status=card_status, reason="收款账户", **extra)
            person.account_plain = account_number
        return person

    # -- applications --------------------------------------------------------------------------------------
    def app(self, person, policy: Policy, period: str = PERIOD, *, status: str = "submitted", amount=None,
            quantity=None, tier: str = "", region: str | None = None) -> Application:
        account = person.accounts.filter(is_active=True).first()
        return Application.objects.create(
            number=f"SB20260301T{next(_counter):07d}", beneficiary=person, policy=policy, period=period,
            region_id=region or person.region_id, business_line=policy.business_line, channel="typed",
            quantity=quantity, tier=tier, amount=Decimal(str(amount if amount is not None else policy.standard_amount)),
            payee_account=account, status=status, step_started_on=dt.date(2026, 3, 2),
        )

    # -- shared-data sources -------------------------------------------------------------------------------
    def source(self, code: str, rows: list[dict]) -> SourceImport:
        """A new import of `code` with `rows` (each: person= or id_number=, name= optional, the source's own
        fields), made the current one."""
        model = SOURCE_MODELS[code]
        imp = SourceImport.objects.create(source=code, status=SourceImport.Status.ACTIVE, created_by="test",
                                          total_rows=len(rows), accepted=len(rows), data_date=dt.date(2026, 2, 28))
        objects = []
        for number, row in enumerate(rows, start=2):
            row = dict(row)
            person = row.pop("person", None)
            id_number = row.pop("id_number", None) or person.id_plain
            name = row.pop("name", None) or (person.name if person is not None else "某人")
            if code == "ssc_card":
                account = row.pop("account", None) or person.account_plain
                blob, digest = crypto.protect("account", account)
                row.update(account_enc=blob, account_digest=digest, account_masked=masking.mask_account(account))
                row.setdefault("bank_name", "重庆农村商业银行")
                row.setdefault("card_status", "activated")
            if code == "cadre_relative":
                cadre = row.pop("cadre", None)
                cadre_number = row.pop("cadre_id_number", None) or (cadre.id_plain if cadre else id_number)
                row.setdefault("cadre_name", cadre.name if cadre else name)
                row["cadre_id_digest"] = crypto.digest("id", cadre_number)
                row.setdefault("relation", "本人")
            blob, digest = crypto.protect("id", id_number)
            objects.append(model(source_import=imp, row_number=number, id_digest=digest, id_enc=blob, name=name, **row))
        model.objects.bulk_create(objects)
        previous = SourceState.objects.filter(source=code).first()
        if previous and previous.current_import_id:
            SourceImport.objects.filter(pk=previous.current_import_id).update(status=SourceImport.Status.SUPERSEDED)
        SourceState.objects.update_or_create(source=code, defaults={"current_import": imp,
                                                                    "switched_at": timezone.now()})
        return imp

    def credit(self, person, *, severity: str = "flag", valid_from: str = "2025-01-01", valid_to: str | None = None,
               lifted: bool = False) -> CreditListEntry:
        blob, digest = crypto.protect("id", person.id_plain)
        return CreditListEntry.objects.create(
            id_digest=digest, id_enc=blob, id_masked=person.id_masked, name=person.name, severity=severity,
            reason="2025年虚报冒领低保金", region_id=WANZHOU, valid_from=dt.date.fromisoformat(valid_from),
            valid_to=dt.date.fromisoformat(valid_to) if valid_to else None, created_by="test",
            lifted_at=timezone.now() if lifted else None, lifted_reason="已整改" if lifted else "",
        )

    # -- running -------------------------------------------------------------------------------------------
    def run(self, policy: Policy, period: str = PERIOD, *, region: str | None = None, actor: Scope | None = None):
        return check_run_applications(actor=actor or Scope.system(reason="test"), policy_code=policy.code,
                                      period=period, region_code=region)

    def findings(self, rule: str | None = None, **filters) -> list[Finding]:
        qs = Finding.objects.all().order_by("id")
        if rule:
            qs = qs.filter(rule=rule)
        return list(qs.filter(**filters))

    def hit_apps(self, rule: str, **filters) -> set[int]:
        return {f.application_id for f in self.findings(rule, **filters)}


def make_lab(world, settings) -> Lab:
    """The Lab of a test (each test module has a `lab` fixture calling this); today is 2026-03-16."""
    lab = Lab(world=world, settings=settings)
    lab.set_today("2026-03-16")
    return lab
