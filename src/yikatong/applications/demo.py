"""Demo data of collection and approval (申报采集与审核) for `yikatong load-demo` (issue "One card and one set
of rules"): a township clerk, a department and a citizen find a living system.

What it loads, all through the services (validated, and every step in the audit chain, actor `load-demo`):

1. About sixty beneficiaries in the communities of 高笋塘街道 and 太白街道 (万州区), in 甘宁镇永安村 and a few in
   涪陵区敦仁街道 (to show region scope): valid resident IDs (check digits computed; elderly people born long
   before 1997 with 万州区's code 500101, two with the old Sichuan codes of 万县市/万县 and one with 涪陵市's),
   phones, addresses, households (some shared), and their social security card accounts — mostly activated,
   two not activated, one reported lost, one transitional other-bank exception with its reason.
2. Applications for the current year's periods of four policies of the one-list demo — CQ-001 耕地地力保护
   (yearly, per mu), CQ-009 低保, CQ-012 高龄失能, CQ-013 重度残疾人护理 (monthly, this month) — in every state:
   collected (three past the 3-working-day verification limit), verified, in notice (高笋塘社区's 低保 notice
   with its PDF and one open objection), submitted (two past the department's 10 working days), approved,
   rejected with a reason, returned (by the collector and by the department), withdrawn.
3. One roster import (花名册) of 太白街道 for CQ-001 through the roster service, with rejected rows and the
   rejected-rows file; one online application of a citizen (tracking number printed in the summary).
4. The approved set of 高笋塘街道 for CQ-001 of the year: the township subsidy register (乡镇补贴底册).

Dates follow the demo clock: each step runs with YIKATONG_TODAY set to a working day counted back from today
(policies.demo.on_day), so the time limits shown are real — overdue ones are overdue. The audit chain records
the real time as always.

Registered with `yikatong.core.demo` from ApplicationsConfig.ready() AFTER the policies demo (it needs the
policies and the year's project library). Idempotent: each group of the story is skipped when its first
application exists, each person when registered, so a second run creates nothing.
"""

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Count, Sum

from yikatong.core import clock, crypto, workdays
from yikatong.core import regions as region_rules
from yikatong.core.demo import DemoExtension, extensions, register_extension
from yikatong.core.errors import DomainError
from yikatong.core.models import Organization, Region
from yikatong.core.scope import Scope
from yikatong.policies.demo import on_day
from yikatong.policies.services import library_allows
from yikatong.registry.models import AccountKind, Beneficiary, CardStatus
from yikatong.registry.services import (
    beneficiary_lookup,
    beneficiary_register_person,
    card_status_update,
    payee_account_set,
)

from .models import Application, Channel, Objection, PublicNotice, RosterImport, Status
from .services import (
    application_approve,
    application_create,
    application_reject,
    application_return,
    application_verify,
    application_withdraw,
    applications_submit,
    notice_close,
    notice_publish,
    objection_record,
)
from .services.online import online_application_submit

ACTOR_NAME = "load-demo"
NAME = "collection"

# Villages (communities) of the story; the regions come from the core demo's region file.
GST, BAIYAN, GUOYUAN, LONGBAO = "500101001001", "500101001002", "500101001003", "500101001004"  # 高笋塘街道
TAIBAI_C, ERMALU, YUHUA, WANAN = "500101002001", "500101002002", "500101002003", "500101002004"  # 太白街道
YONGAN = "500101108201"                                                                          # 甘宁镇永安村
DUNREN_C, BAIHE = "500102001001", "500102001002"                                                 # 涪陵区敦仁街道
GAOSUNTANG, TAIBAI = "500101001000", "500101002000"
ROSTER_ORG = "CJ500101002"  # 太白街道办事处 (core demo: collector_org_code(TAIBAI))

ROADS = {GST: "高笋塘路", BAIYAN: "白岩路", GUOYUAN: "果园路", LONGBAO: "龙宝大道", TAIBAI_C: "太白路",
         ERMALU: "二马路", YUHUA: "雨花路", WANAN: "万安路", DUNREN_C: "敦仁路", BAIHE: "白鹤路"}

FARMLAND, DIBAO, ELDERLY, CARE = "CQ-001", "CQ-009", "CQ-012", "CQ-013"
POLICIES = (FARMLAND, DIBAO, ELDERLY, CARE)

CARD_BANK = "中国农业银行万州分行"          # the social security card's cooperating bank (core demo WZ-ABC)
FL_CARD_BANK = "中国农业银行涪陵分行"
OTHER_BANK = "重庆农村商业银行万州分行"
OTHER_BANK_REASON = "社会保障卡芯片损坏正在补办（过渡期），暂用本人重庆农商行借记卡账户，新卡激活后改回"


# -- the people ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    """One demo person. `born` is YYYYMMDD; `household` the 3-digit household number within the village,
    shared by its members; `card`: activated | not_activated | lost | other_bank; `prefix` the ID's region
    code (default: the county of the village — the old Sichuan codes for a few elderly people)."""

    key: str
    name: str
    sex: str  # "m" | "f"
    born: str
    village: str
    household: str = ""
    card: str = CardStatus.ACTIVATED
    prefix: str = ""


P = Person
PEOPLE: tuple[Person, ...] = (
    # 白岩社区 — 低保: the whole way through (approved, rejected, returned by the department, still submitted)
    P("by1", "陈国华", "m", "19680312", BAIYAN, "017"), P("by1w", "何秀兰", "f", "19700815", BAIYAN, "017"),
    P("by2", "刘淑珍", "f", "19560721", BAIYAN), P("by3", "张德明", "m", "19611102", BAIYAN),
    P("by4", "王丽萍", "f", "19790418", BAIYAN, card="other_bank"), P("by5", "杨志强", "m", "19830927", BAIYAN),
    P("by6", "黄春梅", "f", "19720214", BAIYAN), P("by7", "周建平", "m", "19650630", BAIYAN),
    P("by8", "吴桂芳", "f", "19491005", BAIYAN), P("by9", "郑小红", "f", "19881209", BAIYAN),
    # 高笋塘社区 — 低保: in notice, one objection open
    P("gs1", "罗永福", "m", "19580516", GST, "023"), P("gs1s", "罗俊", "m", "20100406", GST, "023"),
    P("gs2", "唐文静", "f", "19850303", GST, card=CardStatus.NOT_ACTIVATED), P("gs3", "谢光明", "m", "19740822", GST),
    P("gs4", "蒋玉兰", "f", "19520130", GST), P("gs5", "邓小兵", "m", "19900711", GST),
    P("gs6", "许翠华", "f", "19631019", GST),
    # 果园社区 and 龙宝社区 — 耕地地力保护: approved (the township register), one rejected
    P("gy1", "冉隆华", "m", "19620208", GUOYUAN), P("gy2", "向春兰", "f", "19660914", GUOYUAN),
    P("gy3", "牟大军", "m", "19591201", GUOYUAN), P("gy4", "谭正清", "m", "19700325", GUOYUAN),
    P("gy5", "秦玉梅", "f", "19680707", GUOYUAN), P("gy6", "熊光荣", "m", "19551111", GUOYUAN),
    P("lb1", "程德胜", "m", "19570404", LONGBAO, "041"), P("lb1w", "田素芬", "f", "19590321", LONGBAO, "041"),
    P("lb2", "彭秀琼", "f", "19600618", LONGBAO), P("lb3", "余成林", "m", "19640829", LONGBAO),
    P("lb4", "龚家富", "m", "19530217", LONGBAO), P("lb5", "邹红英", "f", "19710505", LONGBAO),
    P("lb6", "冯建国", "m", "19691001", LONGBAO),
    # 太白社区 — 重度残疾人护理补贴: submitted, within the department's limit
    P("tb1", "马德华", "m", "19750123", TAIBAI_C, card=CardStatus.LOST), P("tb2", "汪秀珍", "f", "19620412", TAIBAI_C),
    P("tb3", "曾凡军", "m", "19810606", TAIBAI_C), P("tb4", "肖玉琴", "f", "19580909", TAIBAI_C),
    P("tb5", "段明亮", "m", "19950228", TAIBAI_C), P("tb6", "雷小芳", "f", "20011115", TAIBAI_C),
    # 二马路社区 — 高龄失能养老服务补贴 (80+): collected (some overdue), verified, returned, withdrawn
    P("em1", "覃万福", "m", "19380512", ERMALU, "008", prefix="512201"),   # 四川省万县市 (before 1992)
    P("em1w", "李桂珍", "f", "19400308", ERMALU, "008", prefix="512221"),  # 四川省万县
    P("em2", "钟树清", "m", "19361225", ERMALU, card=CardStatus.NOT_ACTIVATED),
    P("em3", "孔令芳", "f", "19420719", ERMALU), P("em4", "施德才", "m", "19440101", ERMALU),
    P("em5", "石秀英", "f", "19390930", ERMALU), P("em6", "毛昌荣", "m", "19410614", ERMALU),
    P("em7", "龙淑华", "f", "19370202", ERMALU), P("em8", "贺永安", "m", "19430808", ERMALU),
    P("em9", "黎素珍", "f", "19340404", ERMALU), P("em10", "苟德全", "m", "19451010", ERMALU),
    # 甘宁镇永安村 — 耕地地力保护 collected by the village committee (login `village`)
    P("ya1", "任正富", "m", "19630420", YONGAN), P("ya2", "陶秀莲", "f", "19671103", YONGAN),
    P("ya3", "廖明贵", "m", "19580117", YONGAN), P("ya4", "骆春花", "f", "19730528", YONGAN),
    # 涪陵区 — 低保, seen by `fl_collector` and never by 万州区's logins
    P("fl1", "况昌明", "m", "19660315", DUNREN_C), P("fl2", "付小莉", "f", "19870621", DUNREN_C),
    P("fl3", "夏建华", "m", "19601212", DUNREN_C), P("fl4", "敖德明", "m", "19720808", DUNREN_C),
    P("fl5", "蒲秀兰", "f", "19500505", BAIHE, prefix="512301"),  # 四川省涪陵市 (1983-1995)
)
PERSON = {p.key: p for p in PEOPLE}
# Registered household members without an application of their own.
REGISTERED_ONLY = ("by1w", "gs1s", "lb1w")

# Rows of the roster of 太白街道 (new persons; the last three are refused by the import).
ROSTER_PEOPLE: tuple[tuple[Person, str], ...] = (
    (P("r1", "戴永红", "f", "19690211", YUHUA), "2.50"), (P("r2", "侯志刚", "m", "19610707", YUHUA), "3.40"),
    (P("r3", "方桂兰", "f", "19571023", YUHUA), "4.00"), (P("r4", "尹光辉", "m", "19661230", WANAN), "2.75"),
    (P("r5", "薛美玲", "f", "19750816", WANAN), "1.50"), (P("r6", "蔡德荣", "m", "19520309", WANAN), "3.10"),
)
ROSTER_BAD_CHECKSUM = P("r7", "孟庆丰", "m", "19640812", YUHUA)
ROSTER_OVER_STANDARD = P("r8", "贾玉珍", "f", "19620925", WANAN)
ROSTER_OTHER_COUNTY = P("r9", "陆永高", "m", "19700101", DUNREN_C)
ROSTER_FILE = "太白街道耕地地力保护补贴花名册.csv"

CITIZEN = P("citizen", "欧阳晓燕", "f", "19840917", WANAN)
CITIZEN_PHONE = "13896120458"


def _index(person: Person) -> int:
    order = [p.key for p in PEOPLE] + [p.key for p, _ in ROSTER_PEOPLE] + [
        ROSTER_BAD_CHECKSUM.key, ROSTER_OVER_STANDARD.key, ROSTER_OTHER_COUNTY.key, CITIZEN.key]
    return order.index(person.key)


def check_digit(body17: str) -> str:
    """GB 11643 check character of the first 17 digits of a resident ID."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


def id_number(person: Person) -> str:
    """A valid resident ID: region prefix, birth date, a sequence whose last digit is odd for men, the check."""
    prefix = person.prefix or person.village[:6]
    seq = 100 + 2 * _index(person) + (1 if person.sex == "m" else 0)
    body = f"{prefix}{person.born}{seq:03d}"
    return body + check_digit(body)


def luhn_complete(stem: str) -> str:
    total = 0
    for position, char in enumerate(reversed(stem)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return stem + str((10 - total % 10) % 10)


def card_number(person: Person, *, bin_: str = "622848") -> str:
    """A 19-digit bank card number (BIN 622848, 中国农业银行) with a valid Luhn check digit."""
    return luhn_complete(f"{bin_}{5001 + _index(person) * 37:06d}{int(person.born[2:]):06d}")


_PHONE_PREFIXES = ("135", "138", "139", "152", "158", "177", "186", "189", "136", "150")


def phone(person: Person) -> str:
    i = _index(person)
    return f"{_PHONE_PREFIXES[i % len(_PHONE_PREFIXES)]}{(2302 + i * 7919) % 10**8:08d}"


def household_number(person: Person) -> str:
    """户号: the village's 6 digits and the household's 3 (e.g. 001002017)."""
    return f"{person.village[6:]}{person.household}" if person.household else ""


def address(person: Person, region_names: dict[str, str]) -> str:
    i = _index(person)
    village = region_names.get(person.village, "")
    if person.village == YONGAN:
        return f"万州区甘宁镇{village}{1 + i % 6}组{10 + i}号"
    return f"{region_names.get(person.village[:9] + '000', '')}{village}{ROADS[person.village]}{12 + i * 3}号"


# -- the demo clock ------------------------------------------------------------------------------------
class Days:
    """Working days counted back from today (the calendar of core.workdays)."""

    def __init__(self, today: dt.date):
        self.today = today
        self._cache: dict[int, dt.date] = {0: today}

    def ago(self, n: int) -> dt.date:
        if n not in self._cache:
            day, left = self.today, n
            while left > 0:
                day -= dt.timedelta(days=1)
                if workdays.is_working_day(day):
                    left -= 1
            self._cache[n] = day
        return self._cache[n]


# -- the steps -----------------------------------------------------------------------------------------
class _Loader:
    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self.actor = Scope.system(reason=ACTOR_NAME)
        self.today = clock.today()
        self.y = self.today.year
        self.month = f"{self.y}-{self.today.month:02d}"
        self.days = Days(self.today)
        self.created: Counter = Counter()
        self.apps: dict[tuple[str, str], Application] = {}  # (person key, policy) -> application
        self.region_names = dict(Region.objects.filter(code__startswith="5001").values_list("code", "name"))

    def period(self, policy: str) -> str:
        return str(self.y) if policy == FARMLAND else self.month

    def run(self) -> None:
        self.preconditions()
        self.people()
        self.baiyan_dibao()
        self.gaosuntang_dibao()
        self.farmland()
        self.taibai_care()
        self.ermalu_elderly()
        self.yongan_farmland()
        self.fuling_dibao()
        self.roster()
        self.online()

    def preconditions(self) -> None:
        for code in POLICIES:
            if not library_allows(policy=code, region_code=GST, year=self.y):
                raise DomainError(f"申报采集演示数据需要 {self.y} 年度补贴项目库中的 {code}：请先载入一张清单演示数据"
                                  "（policies 的演示数据须在申报采集之前载入）。")
        missing = [code for code in (GST, ERMALU, YONGAN, DUNREN_C, BAIHE, YUHUA, WANAN)
                   if code not in self.region_names]
        if missing:
            raise DomainError(f"申报采集演示数据所需的区划不存在：{'、'.join(missing)}。")

    # 1 -- people ---------------------------------------------------------------------------------------
    def _register(self, person: Person) -> Beneficiary:
        number = id_number(person)
        existing = beneficiary_lookup(id_number=number)
        if existing is not None:
            return existing
        b = beneficiary_register_person(
            actor=self.actor, name=person.name, id_number=number, region_code=person.village,
            household_number=household_number(person), address=address(person, self.region_names),
            phone=phone(person), reason="演示数据：补贴对象登记",
        )
        self.created["beneficiaries"] += 1
        fuling = person.village.startswith("500102")
        if person.card == "other_bank":
            payee_account_set(actor=self.actor, beneficiary_id=b.pk, kind=AccountKind.OTHER_BANK, bank_name=OTHER_BANK,
                              account_number=card_number(person, bin_="621462"), exception_reason=OTHER_BANK_REASON,
                              reason="演示数据：过渡期例外账户")
        else:
            status = CardStatus.ACTIVATED if person.card == CardStatus.LOST else person.card
            account = payee_account_set(
                actor=self.actor, beneficiary_id=b.pk, kind=AccountKind.SSC_CARD,
                bank_name=FL_CARD_BANK if fuling else CARD_BANK, account_number=card_number(person),
                card_status=status, reason="演示数据：社会保障卡银行账户登记",
            )
            if person.card == CardStatus.LOST:
                card_status_update(actor=self.actor, account_id=account.pk, status=CardStatus.LOST,
                                   source="持卡人电话挂失（社会保障卡服务热线 12333）")
        self.created["accounts"] += 1
        return b

    def people(self) -> None:
        self.say("申报采集：登记补贴对象及其社会保障卡账户")
        self.beneficiaries = {p.key: self._register(p) for p in PEOPLE}

    # 2 -- applications ----------------------------------------------------------------------------------
    def _exists(self, key: str, policy: str) -> bool:
        """Whether a group of the story was loaded (in any period: a run in a later month adds nothing)."""
        return Application.objects.filter(beneficiary=self.beneficiaries[key], policy__code=policy).exists()

    def create(self, key: str, policy: str, day: dt.date, *, amount=None, quantity=None) -> Application:
        with on_day(day):
            app = application_create(
                actor=self.actor, beneficiary_id=self.beneficiaries[key].pk, policy_code=policy,
                period=self.period(policy), amount=amount, quantity=quantity, channel=Channel.TYPED,
            )
        self.created["applications"] += 1
        self.apps[(key, policy)] = app
        return app

    def verify(self, keys, policy: str, day: dt.date, note: str = "") -> None:
        with on_day(day):
            for key in keys:
                application_verify(actor=self.actor, application_id=self.apps[(key, policy)].pk,
                                   note=note or "入户核实家庭情况与申报一致")

    def notice_through(self, village: str, policy: str, published: dt.date, closed: dt.date | None) -> PublicNotice:
        """Publish the notice of the verified applications of a village; close it and submit to the
        department on `closed` (None: the notice stays up)."""
        with on_day(published):
            notice = notice_publish(actor=self.actor, region_code=village, policy_code=policy,
                                    period=self.period(policy))
        self.created["notices"] += 1
        if closed is not None:
            with on_day(closed):
                notice_close(actor=self.actor, notice_id=notice.pk)
                applications_submit(actor=self.actor, notice_id=notice.pk)
        return notice

    def approve(self, keys, policy: str, day: dt.date, note: str = "") -> None:
        with on_day(day):
            for key in keys:
                application_approve(actor=self.actor, application_id=self.apps[(key, policy)].pk, note=note)

    def baiyan_dibao(self) -> None:
        """白岩社区 低保: published 21 working days ago, submitted 17 days ago, decided 12 days ago; two are
        still waiting — past the department's 10 working days."""
        if self._exists("by1", DIBAO):
            return
        self.say("申报采集：白岩社区低保（公示、报送、审核）")
        d = self.days
        amounts = {"by1": "620.00", "by2": "700.00", "by3": "455.00", "by4": "540.00", "by5": "700.00",
                   "by6": "480.00", "by7": "560.00", "by8": "700.00", "by9": "380.00"}
        for key, amount in amounts.items():
            self.create(key, DIBAO, d.ago(25), amount=amount)
        self.verify(amounts, DIBAO, d.ago(23), "入户核实：家庭收入、财产状况与申报一致")
        self.notice_through(BAIYAN, DIBAO, d.ago(21), d.ago(17))
        self.approve(["by1", "by2", "by3", "by4", "by9"], DIBAO, d.ago(12), "经审核符合城乡低保条件")
        with on_day(d.ago(12)):
            application_reject(actor=self.actor, application_id=self.apps[("by5", DIBAO)].pk,
                               reason="经信息比对，申请人名下登记有营运货车一辆，家庭财产状况不符合最低生活保障条件。")
            application_return(actor=self.actor, application_id=self.apps[("by6", DIBAO)].pk,
                               reason="家庭成员收入证明不全：请补充共同生活的儿子的工资收入证明后重新报送。")

    def gaosuntang_dibao(self) -> None:
        """高笋塘社区 低保: the notice went up yesterday (PDF on the board and online); an objection came today."""
        if self._exists("gs1", DIBAO):
            return
        self.say("申报采集：高笋塘社区低保（公示中，异议待调查）")
        d = self.days
        amounts = {"gs1": "700.00", "gs2": "610.00", "gs3": "700.00", "gs4": "520.00", "gs5": "430.00",
                   "gs6": "660.00"}
        for key, amount in amounts.items():
            self.create(key, DIBAO, d.ago(5), amount=amount)
        self.verify(amounts, DIBAO, d.ago(3), "入户核实：家庭收入、财产状况与申报一致")
        notice = self.notice_through(GST, DIBAO, d.ago(1), None)
        with on_day(d.today):
            objection_record(actor=self.actor, notice_id=notice.pk, application_id=self.apps[("gs3", DIBAO)].pk,
                             content="有群众反映谢某某在小区门口经营一家小卖部，有稳定经营收入，家庭收入可能高于低保标准，请核查。")
        self.created["objections"] += 1

    def farmland(self) -> None:
        """果园社区 and 龙宝社区 耕地地力保护 (per mu): approved — 高笋塘街道's register of the year; one rejected."""
        if self._exists("gy1", FARMLAND):
            return
        self.say("申报采集：耕地地力保护补贴（果园社区、龙宝社区，已审核）")
        d = self.days
        mu = {"gy1": "3.20", "gy2": "2.85", "gy3": "4.50", "gy4": "6.00", "gy5": "1.75", "gy6": "5.30",
              "lb1": "3.60", "lb2": "2.40", "lb3": "4.10", "lb4": "3.00", "lb5": "2.20", "lb6": "5.00"}
        for key, quantity in mu.items():
            self.create(key, FARMLAND, d.ago(30), quantity=quantity)
        self.verify(mu, FARMLAND, d.ago(29), "承包地面积与确权登记一致")
        for village in (GUOYUAN, LONGBAO):
            self.notice_through(village, FARMLAND, d.ago(28), d.ago(24))
        self.approve([k for k in mu if k != "gy6"], FARMLAND, d.ago(19), "面积与确权数据一致，同意")
        with on_day(d.ago(19)):
            application_reject(actor=self.actor, application_id=self.apps[("gy6", FARMLAND)].pk,
                               reason="该地块已于上年纳入城市建设用地征收范围，不再属于耕地，不予发放耕地地力保护补贴。")

    def taibai_care(self) -> None:
        """太白社区 重度残疾人护理补贴: submitted 4 working days ago, within the department's limit."""
        if self._exists("tb1", CARE):
            return
        self.say("申报采集：太白社区重度残疾人护理补贴（已报送待审核）")
        d = self.days
        keys = ["tb1", "tb2", "tb3", "tb4", "tb5", "tb6"]
        for key in keys:
            self.create(key, CARE, d.ago(10))
        self.verify(keys, CARE, d.ago(9), "核对残疾人证（一级、二级）与本人一致")
        self.notice_through(TAIBAI_C, CARE, d.ago(8), d.ago(4))

    def ermalu_elderly(self) -> None:
        """二马路社区 高龄失能养老服务补贴: three waiting for verification past the limit, three new, three
        verified (to publish), one returned by the collector, one withdrawn."""
        if self._exists("em1", ELDERLY):
            return
        self.say("申报采集：二马路社区高龄失能养老服务补贴（待核实、已核实、退回、撤回）")
        d = self.days
        for key in ("em1", "em1w", "em2"):
            self.create(key, ELDERLY, d.ago(7))  # initial verification overdue
        for key in ("em7", "em8"):
            self.create(key, ELDERLY, d.ago(6))
        for key in ("em5", "em6", "em10"):
            self.create(key, ELDERLY, d.ago(5))
        self.create("em4", ELDERLY, d.ago(1))
        for key in ("em3", "em9"):
            self.create(key, ELDERLY, d.today)
        self.verify(["em5", "em6", "em10", "em8"], ELDERLY, d.ago(3), "入户核实：本人年满80周岁，失能评估为中度失能")
        with on_day(d.ago(4)):
            application_return(actor=self.actor, application_id=self.apps[("em7", ELDERLY)].pk,
                               reason="未附失能等级评估报告：请补充区民政局认可机构出具的评估报告后重新提交。")
        with on_day(d.ago(2)):
            application_withdraw(actor=self.actor, application_id=self.apps[("em8", ELDERLY)].pk,
                                 reason="申请人已入住万州区社会福利院，由福利院统一申报，本人申请撤回。")

    def yongan_farmland(self) -> None:
        """甘宁镇永安村 耕地地力保护, collected by the village committee: one overdue, one verified."""
        if self._exists("ya1", FARMLAND):
            return
        self.say("申报采集：永安村耕地地力保护补贴（村级采集）")
        d = self.days
        self.create("ya1", FARMLAND, d.ago(6), quantity="3.80")
        self.create("ya3", FARMLAND, d.ago(4), quantity="5.20")
        self.create("ya2", FARMLAND, d.ago(1), quantity="2.60")
        self.create("ya4", FARMLAND, d.ago(1), quantity="1.90")
        self.verify(["ya3"], FARMLAND, d.ago(2), "承包地面积与确权登记一致")

    def fuling_dibao(self) -> None:
        """涪陵区 低保: collected and verified, only in 涪陵区's scope."""
        if self._exists("fl1", DIBAO):
            return
        self.say("申报采集：涪陵区敦仁街道低保（区划隔离）")
        d = self.days
        self.create("fl3", DIBAO, d.ago(3), amount="650.00")
        self.create("fl5", DIBAO, d.ago(3), amount="700.00")
        self.create("fl1", DIBAO, d.ago(2), amount="580.00")
        self.create("fl2", DIBAO, d.today, amount="500.00")
        self.create("fl4", DIBAO, d.today, amount="420.00")
        self.verify(["fl3", "fl5"], DIBAO, d.ago(1))

    # 3 -- the roster and the citizen --------------------------------------------------------------------
    def roster_csv(self) -> bytes:
        headers = ["姓名", "身份证号", "社保卡银行账号", "开户银行", "手机号码", "行政区划代码", "补贴项目编码",
                   "补贴期间", "补贴数量", "补贴金额", "备注"]
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headers)

        def row(person: Person, quantity: str, amount: str, *, number: str = "", remarks: str = ""):
            writer.writerow([person.name, number or id_number(person), card_number(person), CARD_BANK, phone(person),
                             person.village, FARMLAND, str(self.y), quantity, amount, remarks])

        for person, quantity in ROSTER_PEOPLE:
            row(person, quantity, f"{Decimal(quantity) * 100:.2f}")
        good = id_number(ROSTER_BAD_CHECKSUM)
        wrong = "0" if good[-1] != "0" else "1"
        row(ROSTER_BAD_CHECKSUM, "2.30", "230.00", number=good[:-1] + wrong, remarks="身份证号末位录错")
        row(ROSTER_OVER_STANDARD, "2.00", "300.00", remarks="金额超过标准")
        row(ROSTER_OTHER_COUNTY, "1.80", "180.00", remarks="户籍在涪陵区")
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    def roster(self) -> None:
        """One roster of 太白街道 (雨花社区、万安社区) through the roster service: six accepted, three refused."""
        from .roster import roster_import_create, roster_import_run

        org = Organization.objects.filter(code=ROSTER_ORG).first()
        if org is None:
            raise DomainError(f"申报采集演示数据需要太白街道办事处（{ROSTER_ORG}），请先载入核心演示数据。")
        if RosterImport.objects.filter(organization=org, policy__code=FARMLAND, period=str(self.y),
                                       file__original_name=ROSTER_FILE).exists():
            return
        self.say("申报采集：太白街道花名册导入（含错误行）")
        with on_day(self.days.ago(2)):
            ri = roster_import_create(actor=self.actor, fileobj=io.BytesIO(self.roster_csv()),
                                      original_name=ROSTER_FILE, policy_code=FARMLAND, period=str(self.y),
                                      organization=org)
            ri = roster_import_run(roster_import_id=ri.pk)
        if ri.status != RosterImport.Status.DONE:
            raise DomainError(f"演示花名册导入失败：{ri.message}")
        self.created["roster_imports"] += 1
        self.created["applications"] += ri.accepted
        self.created["beneficiaries"] += ri.accepted

    def online(self) -> None:
        """A citizen of 万安社区 applies online for 低保 today, with a document; the tracking number is printed."""
        number = id_number(CITIZEN)
        person = beneficiary_lookup(id_number=number)
        if person is not None and Application.objects.filter(beneficiary=person, channel=Channel.ONLINE).exists():
            return
        self.say("申报采集：群众网上申请")
        with on_day(self.days.today):
            online_application_submit(
                policy_code=DIBAO, period=self.month, name=CITIZEN.name, id_number=number, phone=CITIZEN_PHONE,
                region_code=CITIZEN.village, bank_name=CARD_BANK, account_number=card_number(CITIZEN),
                address=address(CITIZEN, self.region_names), documents=[_document()],
            )
        self.created["applications"] += 1
        self.created["beneficiaries"] += 1
        self.created["online"] += 1


def _document() -> SimpleUploadedFile:
    """A one-page PDF (the applicant's written application), as a citizen would upload it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setFont("STSong-Light", 18)
    page.drawString(180, 760, "最低生活保障申请书（演示材料）")
    page.setFont("STSong-Light", 12)
    lines = [f"申请人：{CITIZEN.name}    住址：万州区太白街道万安社区",
             "本人因病无法正常就业，家庭人均收入低于本市城乡低保标准，特申请最低生活保障。",
             "本人承诺所填信息真实，同意有关部门核查家庭经济状况。", "（演示数据，非真实材料）"]
    for n, line in enumerate(lines):
        page.drawString(72, 700 - 24 * n, line)
    page.showPage()
    page.save()
    return SimpleUploadedFile("低保申请书.pdf", out.getvalue(), content_type="application/pdf")


# -- the summary ---------------------------------------------------------------------------------------
def online_tracking() -> tuple[str, str] | None:
    """(tracking number, ID number) of the demo citizen's online application, for the status page."""
    number = id_number(CITIZEN)
    app = (Application.objects.filter(beneficiary__id_digest=crypto.digest("id", number), channel=Channel.ONLINE)
           .order_by("pk").first())
    return (app.number, number) if app else None


def _two(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _public_base() -> str:
    from django.conf import settings

    from .notice_pdf import DEFAULT_PUBLIC_BASE_URL

    return str(getattr(settings, "YIKATONG_PUBLIC_BASE_URL", "") or DEFAULT_PUBLIC_BASE_URL).rstrip("/")


def register_totals(year: int) -> dict:
    """Rows, mu and amount of the township subsidy register of 高笋塘街道 for CQ-001 of `year` (the approved set)."""
    lo, hi = region_rules.subtree_range(GAOSUNTANG)
    return (Application.objects.filter(policy__code=FARMLAND, period=str(year), status=Status.APPROVED,
                                       region_id__gte=lo, region_id__lte=hi)
            .aggregate(n=Count("pk"), total=Sum("amount"), mu=Sum("quantity")))


def _message(loader: _Loader) -> str:
    tracking = online_tracking()
    where = (f"网上申请查询：{_public_base()}/apply/status/ 申报编号 {tracking[0]}，身份证号 {tracking[1]}（{CITIZEN.name}）。"
             if tracking else "")
    if not sum(loader.created.values()):
        return "申报采集演示数据已存在，本次没有改动。" + (f"（{where}）" if where else "")
    demo_apps = Application.objects.all()
    by_status = dict(demo_apps.values_list("status").annotate(n=Count("pk")))
    today = loader.today
    overdue = dict(demo_apps.filter(step_deadline__lt=today, status__in=[Status.COLLECTED, Status.SUBMITTED])
                   .values_list("status").annotate(n=Count("pk")))
    parts = []
    for status in Status:
        text = f"{status.label} {by_status.get(status.value, 0)}"
        if overdue.get(status.value):
            text += f"（逾期 {overdue[status.value]}）"
        parts.append(text)
    notice = PublicNotice.objects.filter(region_id=GST, policy__code=DIBAO, period=loader.month).order_by("-round").first()
    open_objections = Objection.objects.filter(status=Objection.Status.OPEN).count()
    roster = RosterImport.objects.filter(file__original_name=ROSTER_FILE).order_by("-created_at").first()
    reg = register_totals(loader.y)
    lines = [
        f"申报采集：补贴对象 {Beneficiary.objects.count()} 人（本次新增 {loader.created['beneficiaries']}），"
        f"申报 {demo_apps.count()} 件（本次新增 {loader.created['applications']}）：" + "、".join(parts) + "。",
        (f"  公示 {PublicNotice.objects.count()} 份" + (f"，{notice.number} 公示中（至 {notice.ends_on}，"
                                                       f"异议待调查 {open_objections} 条）" if notice else "")
         + (f"；花名册 {roster.file.original_name}：接收 {roster.accepted} 行、拒绝 {roster.rejected} 行" if roster else "")
         + f"；补贴底册：高笋塘街道 耕地地力保护 {loader.y} 年度 {reg['n']} 人、{_two(reg['mu'])} 亩、"
           f"合计 {_two(reg['total'])} 元。"),
    ]
    if where:
        lines.append("  " + where)
    return "\n".join(lines)


def load_collection_demo(*, progress: Callable[[str], None] | None = None) -> dict:
    """Load (or complete) the collection demo; needs the core demo (regions, organizations) and the policies
    demo (the year's library). Returns {"changed", "message", "created": {what: count}, "tracking"}.
    Raises DomainError (nothing written) when a service refuses."""
    loader = _Loader(progress or (lambda message: None))
    with transaction.atomic():
        loader.run()
    created = {k: v for k, v in loader.created.items() if v}
    return {"changed": bool(created), "message": _message(loader), "created": created,
            "tracking": online_tracking()}


def register() -> None:
    """Called from ApplicationsConfig.ready(). load-demo runs extensions in registration order and this one
    builds on the policies demo (policies and the year's library): make sure that one is registered first,
    whatever order the apps become ready in (re-registering by name keeps its place)."""
    if "policies" not in {ext.name for ext in extensions()}:
        from yikatong.policies import demo as policies_demo

        policies_demo.register()
    register_extension(DemoExtension(name=NAME, load=load_collection_demo))

