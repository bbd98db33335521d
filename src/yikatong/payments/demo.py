"""Demo data of the money path (一个平台管发放) for `yikatong load-demo`: plans and batches in every state.

Built on the collection demo (applications/demo.py: the approved 低保 of 白岩社区 this month and the approved
耕地地力保护 of 果园/龙宝社区 this year) plus a few more approved applications made here the same way (registered
persons with activated social security cards, collected → verified → notice → submitted → approved), everything
through the services, each step dated on the demo clock (working days counted back from today):

    plans     CQ-012 高龄失能 (civil, 龙宝社区)          draft
              CQ-008 计划生育特别扶助 (health, 雨花社区)   submitted to finance (within its 5 wd)
              CQ-007 计划生育奖励扶助 (health, 万安社区)   returned by finance (no indicator of the policy yet)
              CQ-016 自然灾害生活补助 (emergency, 高笋塘)  mounted and vouchered, its first batch PREPARED
              CQ-009 低保 (civil, 白岩社区)               paying: first batch PARTIAL (3 of 5 reported)
              CQ-001 耕地地力保护 (agri, 果园/龙宝社区)    paying: first batch COMPLETED with 4 failures;
                        one failure corrected and paid by resend batch 1 (COMPLETED, 2 attempts),
                        one corrected in resend batch 2 (FETCHED by the bank), one in resend batch 3
                        (RELEASED), one still failed (past its 3-working-day correction limit)
              CQ-013 重度残疾人护理 (civil, 果园社区)      completed, results published
    bank      the in-process bank simulator (banks/simulator.py, P4) of 重庆农商行万州分行, driving the bank
              services (banks/services.py) — the same code the bank API calls — with fixed failures.
    notices   an SMS queued for every credited attempt.

Actors: each organization acts as itself (Scope.for_organization, username `load-demo`), so the demo logins
(civil, agri, health, emergency, finance, bank) can carry every object on. Idempotent: a group is skipped when
its plan exists, a person when registered; `--if-empty` skips the whole demo as usual.
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from yikatong.core import clock
from yikatong.core.demo import DemoExtension, extensions, register_extension
from yikatong.core.errors import DomainError
from yikatong.core.models import Organization, OrgKind
from yikatong.core.scope import Scope

ACTOR_NAME = "load-demo"
NAME = "payments"
WANZHOU = "500101000000"
BANK, FINANCE = "WZ-CRCB", "WZ-CZJ"
FARMLAND, DIBAO, ELDERLY, CARE = "CQ-001", "CQ-009", "CQ-012", "CQ-013"
AWARD, SPECIAL, DISASTER = "CQ-007", "CQ-008", "CQ-016"
GST, GUOYUAN, LONGBAO = "500101001001", "500101001003", "500101001004"
YUHUA, WANAN = "500101002003", "500101002004"

# Failures of the first 耕地地力保护 batch (sequence number → the bank's reason) and what became of them.
FARMLAND_FAILS = {2: "账户冻结", 5: "社保卡未激活金融功能", 8: "账户冻结", 10: "户名不符"}
CORRECTIONS = {2: "持卡人已到银行网点解除账户冻结，按原账户补发。",
               5: "经核实社会保障卡金融功能已激活，按原账户补发。",
               8: "经银行核实冻结已解除，按原账户补发。"}
DIBAO_REPORTED = (1, 2, 3)  # the bank reported these of the 低保 batch so far


@dataclass(frozen=True)
class NewPerson:
    key: str
    name: str
    sex: str
    born: str  # YYYYMMDD
    village: str


NP = NewPerson
GROUPS: dict[str, tuple[tuple[NewPerson, str], ...]] = {
    # policy → (person, amount) — or the tier code for tiered policies (the amount is the tier's)
    CARE: ((NP("c1", "付国强", "m", "19680913", GUOYUAN), "90.00"), (NP("c2", "江美华", "f", "19740502", GUOYUAN), "90.00"),
           (NP("c3", "韦成军", "m", "19810127", GUOYUAN), "90.00"), (NP("c4", "尹桂香", "f", "19590716", GUOYUAN), "90.00")),
    DISASTER: ((NP("d1", "严德贵", "m", "19620321", GST), "transition"), (NP("d2", "潘秀英", "f", "19660808", GST), "rescue"),
               (NP("d3", "顾明权", "m", "19711019", GST), "transition")),
    ELDERLY: ((NP("e1", "黎德福", "m", "19400615", LONGBAO), "100.00"), (NP("e2", "甘淑芳", "f", "19420223", LONGBAO), "100.00"),
              (NP("e3", "邱永年", "m", "19381130", LONGBAO), "100.00")),
    SPECIAL: ((NP("s1", "宋春华", "f", "19640410", YUHUA), "disabled"), (NP("s2", "康德明", "m", "19610902", YUHUA), "disabled"),
              (NP("s3", "安玉芬", "f", "19630117", YUHUA), "deceased")),
    AWARD: ((NP("a1", "闵国富", "m", "19590304", WANAN), "960.00"), (NP("a2", "柴秀华", "f", "19610725", WANAN), "960.00"),
            (NP("a3", "童志明", "m", "19580612", WANAN), "960.00")),
}
ALL_PEOPLE = [p for group in GROUPS.values() for p, _ in group]


def id_number(person: NewPerson) -> str:
    from yikatong.applications.demo import check_digit

    seq = 700 + 2 * ALL_PEOPLE.index(person) + (1 if person.sex == "m" else 0)
    body = f"{person.village[:6]}{person.born}{seq:03d}"
    return body + check_digit(body)


def card_number(person: NewPerson) -> str:
    from yikatong.applications.demo import luhn_complete

    return luhn_complete(f"622848{900001 + ALL_PEOPLE.index(person) * 37:06d}{int(person.born[2:]):06d}")


def phone(person: NewPerson) -> str:
    return f"1370{(4417 + ALL_PEOPLE.index(person) * 7919) % 10**7:07d}"


# -- the bank: the simulator driving the bank services in process ------------------------------------------
class ServiceTransport:
    """A transport for banks.simulator.BankApi that calls the bank services (what banks/api.py calls) directly
    with the bank's scope: no HTTP, no credential, the same checks and audit events."""

    def __init__(self, bank: Organization, username: str = "bank-sim"):
        self.scope = Scope.for_organization(bank, username=username)

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None):
        from yikatong.banks import selectors, services

        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        params = params or {}
        try:
            if method == "POST" and parts == ["results"]:
                imp = services.bank_results_post(actor=self.scope, batch_number=body["batch"], results=body["results"])
                return 200, {"id": str(imp.id), "status": imp.status, "message": imp.message,
                             "applied_count": imp.applied_count, "duplicate_count": imp.duplicate_count,
                             "rejected_count": imp.rejected_count}
            if method == "GET" and len(parts) == 2 and parts[0] == "batches":
                b = selectors.bank_batch(self.scope, parts[1])
                return 200, {"number": b.number, "item_count": b.item_count, "open_count": selectors.open_count(b),
                             "status": b.status, "pay_deadline": b.pay_deadline.isoformat() if b.pay_deadline else None,
                             "released_at": b.released_at.isoformat() if b.released_at else None}
            if method == "GET" and len(parts) == 3 and parts[0] == "batches" and parts[2] == "items":
                page = services.batch_items_read(actor=self.scope, number=parts[1], offset=int(params.get("offset", 0)),
                                                 limit=int(params.get("limit", 1000)))
                return 200, {"batch": page.batch.number, "item_count": page.batch.item_count, "items": page.items}
        except DomainError as exc:
            return 400, {"detail": exc.message}
        return 404, {"detail": f"{method} {path}"}


def bank_pays(batch_number: str, *, fail_seqs=None, report_seqs=None, post: bool = True):
    """The demo bank (重庆农商行万州分行) fetches one batch and posts its results (banks.simulator.simulate_batch)."""
    from yikatong.banks.simulator import simulate_batch

    bank = Organization.objects.get(code=BANK)
    return simulate_batch(batch_number, seed=2026, fail_seqs=fail_seqs or {}, report_seqs=report_seqs, post=post,
                          client=ServiceTransport(bank))


# -- the loader ----------------------------------------------------------------------------------------------
class _Loader:
    def __init__(self, say: Callable[[str], None]):
        from yikatong.applications.demo import Days

        self.say = say
        self.system = Scope.system(reason=ACTOR_NAME)
        self.today = clock.today()
        self.y = self.today.year
        self.month = f"{self.y}-{self.today.month:02d}"
        self.days = Days(self.today)
        self.created: Counter = Counter()
        self._orgs: dict[str, Scope] = {}

    def period(self, policy: str) -> str:
        return str(self.y) if policy in (FARMLAND, AWARD, DISASTER) else self.month

    def on(self, n: int):
        from yikatong.policies.demo import on_day

        return on_day(self.days.ago(n))

    # actors ---------------------------------------------------------------------------------------------------
    def org(self, code: str) -> Scope:
        if code not in self._orgs:
            self._orgs[code] = Scope.for_organization(Organization.objects.get(code=code), username=ACTOR_NAME)
        return self._orgs[code]

    def department(self, policy_code: str) -> Scope:
        from yikatong.policies.models import Policy

        line = Policy.objects.get(code=policy_code).business_line
        org = (Organization.objects.filter(kind=OrgKind.DEPARTMENT, region_id=WANZHOU, business_line=line, active=True)
               .order_by("code").first())
        if org is None:
            raise DomainError(f"发放演示数据需要万州区{line}条线的主管部门。")
        return self.org(org.code)

    # preconditions and people --------------------------------------------------------------------------------
    def preconditions(self) -> bool:
        from yikatong.applications.models import Application, Status

        for code in (BANK, FINANCE):
            if not Organization.objects.filter(code=code).exists():
                raise DomainError(f"发放演示数据需要机构 {code}：请先载入核心演示数据。")
        # the collection demo's approved sets (耕地地力保护 of the year, 低保 of the month)
        return (Application.objects.filter(policy__code=FARMLAND, period=str(self.y), status=Status.APPROVED).exists()
                and Application.objects.filter(policy__code=DIBAO, period=self.month, status=Status.APPROVED).exists())

    def address(self, person: NewPerson) -> str:
        from yikatong.applications.demo import ROADS
        from yikatong.core.models import Region

        names = dict(Region.objects.filter(code__in=[person.village, person.village[:9] + "000"])
                     .values_list("code", "name"))
        number = 8 + ALL_PEOPLE.index(person) * 5
        return (f"万州区{names.get(person.village[:9] + '000', '')}{names.get(person.village, '')}"
                f"{ROADS.get(person.village, '')}{number}号")

    def register(self, person: NewPerson):
        from yikatong.applications.demo import CARD_BANK
        from yikatong.registry.models import AccountKind, CardStatus
        from yikatong.registry.services import (
            beneficiary_lookup,
            beneficiary_register_person,
            payee_account_set,
        )

        number = id_number(person)
        existing = beneficiary_lookup(id_number=number)
        if existing is not None:
            return existing
        b = beneficiary_register_person(actor=self.system, name=person.name, id_number=number,
                                        region_code=person.village, phone=phone(person),
                                        address=self.address(person), reason="演示数据：补贴对象登记")
        payee_account_set(actor=self.system, beneficiary_id=b.pk, kind=AccountKind.SSC_CARD, bank_name=CARD_BANK,
                          account_number=card_number(person), card_status=CardStatus.ACTIVATED,
                          reason="演示数据：社会保障卡银行账户登记")
        self.created["beneficiaries"] += 1
        return b

    def approved_group(self, policy: str) -> None:
        """Collect → verify → notice (4 working days) → submit → approve the group of `policy` (skipped when the
        first person already has an application of the policy)."""
        from yikatong.applications.models import Application, Channel
        from yikatong.applications.services import (
            application_approve,
            application_create,
            application_verify,
            applications_submit,
            notice_close,
            notice_publish,
        )

        people = [(self.register(p), p, amount) for p, amount in GROUPS[policy]]
        if Application.objects.filter(beneficiary=people[0][0], policy__code=policy).exists():
            return
        period, village = self.period(policy), people[0][1].village
        apps = []
        with self.on(24):
            for b, _p, amount in people:
                tiered = not amount[0].isdigit()
                apps.append(application_create(actor=self.system, beneficiary_id=b.pk, policy_code=policy,
                                               period=period, amount=None if tiered else amount,
                                               tier=amount if tiered else "", channel=Channel.TYPED))
        with self.on(23):
            for app in apps:
                application_verify(actor=self.system, application_id=app.pk, note="入户核实：情况与申报一致")
        with self.on(22):
            notice = notice_publish(actor=self.system, region_code=village, policy_code=policy, period=period)
        with self.on(17):
            notice_close(actor=self.system, notice_id=notice.pk)
            applications_submit(actor=self.system, notice_id=notice.pk)
        department = self.department(policy)
        with self.on(16):
            for app in apps:
                application_approve(actor=department, application_id=app.pk, note="经审核符合条件，同意")
        self.created["applications"] += len(apps)

    # plans ------------------------------------------------------------------------------------------------------
    def existing_plan(self, policy: str):
        from .models import DisbursementPlan

        return DisbursementPlan.objects.filter(policy__code=policy, period=self.period(policy),
                                               region_id=WANZHOU).first()

    def build(self, policy: str, day: int, title: str):
        from .services.plans import plan_approve, plan_build

        dept = self.department(policy)
        with self.on(day):
            plan = plan_build(actor=dept, policy_code=policy, period=self.period(policy), region_code=WANZHOU,
                              bank_code=BANK, title=title)
            plan_approve(actor=dept, plan_id=plan.pk, note="方案经科室负责人审批")
        self.created["plans"] += 1
        return plan

    def submit(self, plan, policy: str, day: int):
        from .services.plans import plan_submit

        with self.on(day):
            return plan_submit(actor=self.department(policy), plan_id=plan.pk, note="请审核资金支付申请")

    def review_mount_issue(self, plan, policy: str, reviewed: int, mounted: int):
        from .services.documents import plan_issue_vouchers
        from .services.plans import eligible_indicators, plan_mount, plan_review_ok

        with self.on(reviewed):
            plan = plan_review_ok(actor=self.org(FINANCE), plan_id=plan.pk, note="经审核，同意支付")
        dept = self.department(policy)
        with self.on(mounted):
            indicator = eligible_indicators(plan).first()
            plan = plan_mount(actor=dept, plan_id=plan.pk, indicator_id=indicator.pk)
            plan_issue_vouchers(actor=dept, plan_id=plan.pk)
        return plan

    def batch(self, plan, policy: str, day: int, *, release: bool = True):
        from .services.batches import batch_create, batch_release

        dept = self.department(policy)
        with self.on(day):
            batch = batch_create(actor=dept, plan_id=plan.pk)
            if release:
                batch = batch_release(actor=dept, batch_id=batch.pk)
        self.created["batches"] += 1
        return batch

    def bank(self, batch, day: int, **kwargs):
        with self.on(day):
            return bank_pays(batch.number, **kwargs)

    def correct(self, plan, seq: int, policy: str, day: int) -> None:
        from .models import PaymentAttempt
        from .services.corrections import item_correct

        attempt = PaymentAttempt.objects.get(batch__plan=plan, batch__kind="first", seq=seq)
        with self.on(day):
            item_correct(actor=self.department(policy), item_id=attempt.item_id, reason=CORRECTIONS[seq])

    # the story ------------------------------------------------------------------------------------------------
    def run(self) -> None:
        if not self.preconditions():
            self.say("发放演示数据：没有找到申报采集演示数据中审核通过的申报，跳过。")
            return
        for policy in GROUPS:
            self.approved_group(policy)
        self.completed_care()
        self.farmland_paying()
        self.dibao_partial()
        self.disaster_vouchered()
        self.award_returned()
        self.special_submitted()
        self.elderly_draft()
        self.notices()

    def completed_care(self) -> None:
        """CQ-013 重度残疾人护理补贴 of 果园社区: paid in full, results published."""
        from .services.notices import result_publish

        if self.existing_plan(CARE):
            return
        self.say("发放：重度残疾人护理补贴（已发放完成，结果已公开）")
        plan = self.build(CARE, 15, f"{self.month} 重度残疾人护理补贴发放方案（果园社区）")
        self.submit(plan, CARE, 14)
        plan = self.review_mount_issue(plan, CARE, 12, 11)
        batch = self.batch(plan, CARE, 10)
        self.bank(batch, 9)
        with self.on(6):
            result_publish(actor=self.department(CARE), batch_id=batch.pk)

    def farmland_paying(self) -> None:
        """CQ-001 耕地地力保护补贴: 4 failures in the first batch, then corrections and resend batches."""
        if self.existing_plan(FARMLAND):
            return
        self.say("发放：耕地地力保护补贴（首次批次 4 笔失败，更正后补发）")
        plan = self.build(FARMLAND, 11, f"{self.y} 年度耕地地力保护补贴发放方案（高笋塘街道）")
        self.submit(plan, FARMLAND, 10)
        plan = self.review_mount_issue(plan, FARMLAND, 8, 7)
        first = self.batch(plan, FARMLAND, 7)
        self.bank(first, 6, fail_seqs=FARMLAND_FAILS)
        self.correct(plan, 2, FARMLAND, 5)
        resend1 = self.batch(plan, FARMLAND, 4)
        self.bank(resend1, 3)                                   # paid on the second attempt
        self.correct(plan, 5, FARMLAND, 3)
        resend2 = self.batch(plan, FARMLAND, 2)
        self.bank(resend2, 1, post=False)                       # the bank took it, no results yet
        self.correct(plan, 8, FARMLAND, 1)
        self.batch(plan, FARMLAND, 0)                           # released today
        # seq 10 (户名不符) stays failed: past its correction limit

    def dibao_partial(self) -> None:
        """CQ-009 低保 of 白岩社区 this month: the bank reported part of the batch."""
        if self.existing_plan(DIBAO):
            return
        self.say("发放：城乡低保（批次部分回盘）")
        plan = self.build(DIBAO, 6, f"{self.month} 城乡居民最低生活保障金发放方案（白岩社区）")
        self.submit(plan, DIBAO, 5)
        plan = self.review_mount_issue(plan, DIBAO, 4, 3)
        batch = self.batch(plan, DIBAO, 2)
        self.bank(batch, 1, report_seqs=DIBAO_REPORTED)

    def disaster_vouchered(self) -> None:
        """CQ-016 自然灾害生活补助: vouchers issued, first batch prepared (not yet sent)."""
        if self.existing_plan(DISASTER):
            return
        self.say("发放：自然灾害生活补助（已生成支付凭证，批次待发送）")
        plan = self.build(DISASTER, 4, f"{self.y} 年度自然灾害生活补助发放方案（高笋塘社区）")
        self.submit(plan, DISASTER, 3)
        plan = self.review_mount_issue(plan, DISASTER, 2, 1)
        self.batch(plan, DISASTER, 0, release=False)

    def award_returned(self) -> None:
        """CQ-007 计划生育奖励扶助: returned by finance (no indicator of the policy in the county yet)."""
        from .services.plans import plan_return

        if self.existing_plan(AWARD):
            return
        self.say("发放：计划生育奖励扶助（财政退回）")
        plan = self.build(AWARD, 5, f"{self.y} 年度农村部分计划生育家庭奖励扶助金发放方案（万安社区）")
        self.submit(plan, AWARD, 4)
        with self.on(1):
            plan_return(actor=self.org(FINANCE), plan_id=plan.pk,
                        reason="本年度该项目预算指标尚未下达我区，暂无可用指标，请待指标下达后重新报送。")

    def special_submitted(self) -> None:
        """CQ-008 计划生育特别扶助: submitted to finance today-1, within its 5 working days."""
        if self.existing_plan(SPECIAL):
            return
        self.say("发放：计划生育特别扶助（已报财政审核）")
        plan = self.build(SPECIAL, 2, f"{self.month} 计划生育家庭特别扶助金发放方案（雨花社区）")
        self.submit(plan, SPECIAL, 1)

    def elderly_draft(self) -> None:
        """CQ-012 高龄失能养老服务补贴 of 龙宝社区: a draft plan built today."""
        if self.existing_plan(ELDERLY):
            return
        self.say("发放：高龄失能养老服务补贴（方案草稿）")
        dept = self.department(ELDERLY)
        from .services.plans import plan_build

        with self.on(0):
            plan_build(actor=dept, policy_code=ELDERLY, period=self.month, region_code=WANZHOU, bank_code=BANK,
                       title=f"{self.month} 经济困难高龄失能养老服务补贴发放方案（龙宝社区）")
        self.created["plans"] += 1

    def notices(self) -> None:
        """An SMS for every credited attempt (the result import queues them when it commits; queued here as well
        so the demo is complete inside its transaction — one SMS per attempt whatever happens)."""
        from .models import PaymentAttempt
        from .services.notices import sms_queue

        self.created["sms"] += sms_queue(PaymentAttempt.objects.all())


def _message(loader: _Loader) -> str:
    from .models import BatchStatus, DisbursementPlan, PaymentBatch, PlanStatus, SmsMessage

    if not sum(loader.created.values()):
        return "发放演示数据已存在，本次没有改动。"
    plans = Counter(DisbursementPlan.objects.values_list("status", flat=True))
    batches = Counter(PaymentBatch.objects.values_list("status", flat=True))
    p = "、".join(f"{PlanStatus(s).label} {n}" for s, n in sorted(plans.items()))
    b = "、".join(f"{BatchStatus(s).label} {n}" for s, n in sorted(batches.items()))
    return (f"资金发放：发放方案 {sum(plans.values())} 个（{p}）；代发批次 {sum(batches.values())} 个（{b}）；"
            f"到账短信 {SmsMessage.objects.count()} 条。")


def load_payments_demo(*, progress: Callable[[str], None] | None = None) -> dict:
    """Load (or complete) the payments demo; needs the core, policies and collection demos."""
    loader = _Loader(progress or (lambda message: None))
    with transaction.atomic():
        loader.run()
    created = {k: v for k, v in loader.created.items() if v}
    return {"changed": bool(created), "message": _message(loader), "created": created}


def register() -> None:
    """Called from payments/setup.py register_all(). Runs after the collection demo (which runs after the
    policies demo): make sure those are registered first, whatever order the apps become ready in."""
    if "collection" not in {ext.name for ext in extensions()}:
        from yikatong.applications import demo as collection_demo

        collection_demo.register()
    register_extension(DemoExtension(name=NAME, load=load_payments_demo))

