"""Demo data of the one list (一张清单) for `yikatong load-demo` (SPEC §3.1, §3.2 and the targets of §3.8).

What it loads, all through the services (so it is validated and lands in the audit chain, actor `load-demo`):

1. Chongqing's 17 prescribed subsidies (seed 004 annex) under the municipal competent departments, and one
   万州区 self-defined subsidy (高龄老人津贴).
2. The annual list of the current year Y: the municipal departments submit the 17 items (规定清单) before
   Nov 30 of Y−1, 万州区民政局 its self-defined item; 市辖区财政局 files the 万州区 list before Dec 20;
   重庆市财政局 publishes before the end of February.
3. The project library of Y, built from the published list and locked.
4. Two change requests of 万州区民政局: raising the standard of 高龄老人津贴 (approved through the whole chain,
   the policy has a second version) and adding 困难群众价格临时补贴 (approved by the county department, waiting
   at the prefecture step, i.e. in 市辖区财政局's inbox).
5. Budget indicators of Y received by 重庆市财政局 and allocated to 万州区财政局 and 涪陵区财政局; the
   自然灾害生活补助 indicator is only partly allocated and past its 30-day limit (a warning for 重庆市财政局).
   Performance targets of 万州区 for three policies.
6. The draft list of Y+1: some departments have submitted, some items are still drafts, two departments have
   not started — the Nov 30 deadline is near.

Y is the year of the platform clock (2026 on 2026-11-24). Each step runs with the demo clock (YIKATONG_TODAY,
see core.clock) set to a day of its own, never later than today, so the dates are consistent with the
deadlines of [003 §12, §15]; the audit chain records the real time as always.

Registered with `yikatong.core.demo` from PoliciesConfig.ready(): load-demo creates ORGS and ACCOUNTS with
the core ones and then calls `load_policy_demo` in the same transaction. Idempotent: each step looks for
what it would create and skips it, so a second run creates nothing.
"""

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from yikatong.core import clock
from yikatong.core import regions as region_rules
from yikatong.core.demo import (
    FULING,
    PLATFORM,
    WANZHOU,
    DemoAccount,
    DemoExtension,
    DemoOrg,
    register_extension,
)
from yikatong.core.models import BusinessLine, OrgKind, Role
from yikatong.core.scope import Scope

from .data.chongqing_prescribed_list import DEPARTMENT_NAMES, PRESCRIBED
from .models import (
    AnnualPolicyList,
    BudgetIndicator,
    ChangeRequest,
    ChangeStatus,
    ChangeType,
    LibraryEntry,
    LibraryLock,
    ListPart,
    ListStatus,
    PerformanceTarget,
    Policy,
)
from .services import (
    change_request_approve,
    change_request_create,
    change_request_submit,
    indicator_allocate,
    indicator_proposal_submit,
    indicator_receive,
    library_build_from_list,
    library_lock,
    list_file,
    list_item_add,
    list_items_submit,
    list_publish,
    policy_create,
    target_set,
)
from .services.seed import seed_chongqing_prescribed_list

PROVINCE = PLATFORM            # 重庆市 500000000000
PREFECTURE = "500100000000"    # 市辖区: Chongqing's districts have no prefecture; this level stands for it
ACTOR_NAME = "load-demo"

CQ_FINANCE = "CQ-CZJ"
PREFECTURE_FINANCE = "CQ-SXQ-CZJ"
WZ_FINANCE, FL_FINANCE = "WZ-CZJ", "FL-CZJ"  # created by the core demo
WZ_CIVIL = "WZ-MZJ"

# The municipal competent departments of the annex, by business line (names from the seed data).
_DEPARTMENT_CODES = {
    BusinessLine.AGRICULTURE: "CQ-NYNCW",
    BusinessLine.WATER: "CQ-SLJ",
    BusinessLine.FORESTRY: "CQ-LYJ",
    BusinessLine.HEALTH: "CQ-WJW",
    BusinessLine.CIVIL_AFFAIRS: "CQ-MZJ",
    BusinessLine.EMERGENCY: "CQ-YJJ",
    BusinessLine.HOUSING: "CQ-ZJW",
}

ORGS: tuple[DemoOrg, ...] = (
    DemoOrg(CQ_FINANCE, "重庆市财政局", OrgKind.FINANCE, PROVINCE),
    *(DemoOrg(code, DEPARTMENT_NAMES[line], OrgKind.DEPARTMENT, PROVINCE, line)
      for line, code in _DEPARTMENT_CODES.items()),
    DemoOrg(PREFECTURE_FINANCE, "市辖区财政局", OrgKind.FINANCE, PREFECTURE),
)

ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("cq_finance", "唐敏", Role.FINANCE, CQ_FINANCE,
                "重庆市财政局：公布年度清单、建立并锁定项目库、接收和分配预算指标（一笔逾期未分配完，见预警）、变更终审"),
    DemoAccount("cq_agri", "邓勇", Role.DEPARTMENT, "CQ-NYNCW", "市农业农村委：耕地地力保护、农机购置补贴；下年度清单已提交"),
    DemoAccount("cq_water", "冉雪", Role.DEPARTMENT, "CQ-SLJ", "市水利局：大中型水库移民后期扶持；下年度清单已提交"),
    DemoAccount("cq_forestry", "秦川", Role.DEPARTMENT, "CQ-LYJ", "市林业局：退耕还林、森林生态效益补偿；下年度清单尚未提交"),
    DemoAccount("cq_health", "龚蓉", Role.DEPARTMENT, "CQ-WJW", "市卫生健康委：计划生育奖励扶助、特别扶助；下年度清单尚未提交"),
    DemoAccount("cq_civil", "谭艳", Role.DEPARTMENT, "CQ-MZJ", "市民政局：低保、特困等 7 项；变更申请的市级主管部门审核"),
    DemoAccount("cq_emergency", "彭军", Role.DEPARTMENT, "CQ-YJJ", "市应急管理局：自然灾害生活补助；下年度清单尚未填报"),
    DemoAccount("cq_housing", "袁伟", Role.DEPARTMENT, "CQ-ZJW", "市住房城乡建委：农村危房改造；下年度清单尚未填报"),
    DemoAccount("sxq_finance", "蒋琳", Role.FINANCE, PREFECTURE_FINANCE,
                "市辖区财政局（市（州）级）：报备区县清单；代市（州）政府审核变更申请（待办 1 件）"),
)

# 万州区's own subsidies (自定清单). The legal bases are invented for the demo and say so.
WZ_ELDERLY = "WZ-MZ-001"
WZ_PRICE = "WZ-MZ-002"


def _county_policy(code: str, year: int) -> dict:
    if code == WZ_ELDERLY:
        return {
            "code": WZ_ELDERLY, "name": "万州区高龄老人津贴", "department": WZ_CIVIL, "level_set": "county",
            "funding_sources": [{"level": "county", "share": "100"}],
            "legal_basis": "万州区高龄老人津贴实施办法（演示数据）", "target_group": "户籍在万州区、年满90周岁的老年人",
            "standard_type": "fixed", "standard_amount": "100.00", "cycle": "monthly", "min_age": 90,
            "valid_from": "2024-01-01", "status": "active",
        }
    return {
        "code": WZ_PRICE, "name": "万州区困难群众价格临时补贴", "department": WZ_CIVIL, "level_set": "county",
        "funding_sources": [{"level": "county", "share": "100"}],
        "legal_basis": "社会救助和保障标准与物价上涨挂钩联动机制（演示数据）",
        "target_group": "万州区城乡低保对象、特困人员（物价涨幅达到启动条件的月份）",
        "standard_type": "fixed", "standard_amount": "60.00", "cycle": "monthly", "means_tested": True,
        "valid_from": f"{year}-01-01", "status": "draft",
    }


# Next year's draft list: who has submitted, who has only drafted (the rest have not started).
NEXT_SUBMITTED = ("CQ-001", "CQ-002", "CQ-003", "CQ-009", "CQ-010", "CQ-011", "CQ-012", "CQ-013", "CQ-014",
                  "CQ-015")
NEXT_DRAFT = ("CQ-004", "CQ-005", "CQ-006", "CQ-007", "CQ-008")


# -- the demo clock ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timeline:
    """Days of the demo story relative to `today`: Y = today's year, never a day after today."""

    today: dt.date

    @property
    def year(self) -> int:
        return self.today.year

    def day(self, year_offset: int, month: int, day: int) -> dt.date:
        return min(dt.date(self.year + year_offset, month, day), self.today)

    def ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)


@contextmanager
def on_day(day: dt.date) -> Iterator[None]:
    """Run services as if today were `day`, through the platform's one clock (setting YIKATONG_TODAY, which
    core.clock reads). The previous value is restored, also on error."""
    before = getattr(settings, "YIKATONG_TODAY", "")
    settings.YIKATONG_TODAY = day.isoformat()
    try:
        yield
    finally:
        settings.YIKATONG_TODAY = before


# -- the steps -----------------------------------------------------------------------------------------
class _Loader:
    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self.actor = Scope.system(reason=ACTOR_NAME)
        self.t = Timeline(clock.today())
        self.y = self.t.year
        self.created: Counter = Counter()

    def run(self) -> None:
        self.policies()
        self.current_list()
        self.library()
        self.change_requests()
        self.indicators()
        self.targets()
        self.next_list()

    # 1 -------------------------------------------------------------------------------------------------
    def policies(self) -> None:
        self.say("一张清单：载入重庆市规定清单 17 项补贴政策及万州区自定补贴政策")
        with on_day(self.t.day(-1, 10, 15)):
            seeded = seed_chongqing_prescribed_list(actor=self.actor, province_code=PROVINCE)
            self.created["policies"] += len(seeded.created)
            if not Policy.objects.filter(code=WZ_ELDERLY).exists():
                policy_create(actor=self.actor, fields=_county_policy(WZ_ELDERLY, self.y),
                              reason="登记万州区自定补贴政策（演示数据）")
                self.created["policies"] += 1

    # 2 -------------------------------------------------------------------------------------------------
    def current_list(self) -> None:
        y = self.y
        if AnnualPolicyList.objects.filter(region_id=PROVINCE, year=y).exists():
            return
        self.say(f"一张清单：{y} 年度补贴政策清单（提交、报备、公布）")
        by_line: dict[str, list[str]] = {}
        for spec in PRESCRIBED:
            by_line.setdefault(spec["business_line"], []).append(spec["code"])
        # Each municipal department submits on its own day, all before Nov 30 of the year before.
        for offset, codes in enumerate(by_line.values()):
            with on_day(self.t.day(-1, 11, 17 + offset)):
                for code in codes:
                    list_item_add(actor=self.actor, region_code=PROVINCE, year=y, policy_code=code,
                                  part=ListPart.PRESCRIBED)
                list_items_submit(actor=self.actor, region_code=PROVINCE, year=y)
        with on_day(self.t.day(-1, 11, 26)):
            list_item_add(actor=self.actor, region_code=WANZHOU, year=y, policy_code=WZ_ELDERLY)
            list_items_submit(actor=self.actor, region_code=WANZHOU, year=y)
        with on_day(self.t.day(-1, 12, 15)):
            list_file(actor=self.actor, region_code=PREFECTURE, year=y)
        with on_day(self.t.day(0, 2, 20)):
            list_publish(actor=self.actor, province_code=PROVINCE, year=y)
        self.created["lists"] += AnnualPolicyList.objects.filter(year=y).count()

    # 3 -------------------------------------------------------------------------------------------------
    def library(self) -> None:
        y = self.y
        if not AnnualPolicyList.objects.filter(region_id=PROVINCE, year=y, status=ListStatus.PUBLISHED).exists():
            return
        lo, hi = region_rules.subtree_range(PROVINCE)
        with on_day(self.t.day(0, 2, 25)):
            if not LibraryEntry.objects.filter(year=y, region_id__gte=lo, region_id__lte=hi).exists():
                self.say(f"一张清单：建立并锁定 {y} 年度补贴项目库")
                self.created["library_entries"] += len(
                    library_build_from_list(actor=self.actor, province_code=PROVINCE, year=y))
            if not LibraryLock.objects.filter(region_id=PROVINCE, year=y).exists():
                library_lock(actor=self.actor, region_code=PROVINCE, year=y)
                self.created["library_locks"] += 1

    # 4 -------------------------------------------------------------------------------------------------
    def _change_exists(self, policy_code: str, change_type: str) -> bool:
        return ChangeRequest.objects.filter(region_id=WANZHOU, year=self.y, policy__code=policy_code,
                                            change_type=change_type).exists()

    def change_requests(self) -> None:
        y, t = self.y, self.t
        if not self._change_exists(WZ_ELDERLY, ChangeType.MODIFY) and LibraryEntry.objects.filter(
                region_id=WANZHOU, year=y, policy__code=WZ_ELDERLY).exists():
            self.say("一张清单：调整变更申请（已批准）")
            with on_day(t.day(0, 4, 10)):
                cr = change_request_create(
                    actor=self.actor, region_code=WANZHOU, year=y, policy_code=WZ_ELDERLY,
                    change_type=ChangeType.MODIFY, new_standard={"standard_amount": "120.00"},
                    content="高龄老人津贴标准由每人每月100元提高到120元，自批准次月起执行。",
                    reason="区财政预算已安排增支资金，提高标准以保障高龄老人基本生活。", amount_impact="240000.00",
                )
                change_request_submit(actor=self.actor, pk=cr.pk)
            for day, opinion in [((0, 4, 15), "同意，报市辖区财政局。"),
                                 ((0, 4, 22), "经研究同意，报市民政局审核。"),
                                 ((0, 5, 6), "符合高龄津贴政策方向，同意。"),
                                 ((0, 5, 13), "同意，按新标准纳入项目库执行。")]:
                with on_day(t.day(*day)):
                    change_request_approve(actor=self.actor, pk=cr.pk, opinion=opinion)
            self.created["change_requests"] += 1

        if not self._change_exists(WZ_PRICE, ChangeType.ADD):
            self.say("一张清单：调整变更申请（审核中）")
            with on_day(t.ago(6)):
                if not Policy.objects.filter(code=WZ_PRICE).exists():
                    policy_create(actor=self.actor, fields=_county_policy(WZ_PRICE, y),
                                  reason="拟新增的万州区自定补贴政策（演示数据），待调整变更申请批准后启用")
                    self.created["policies"] += 1
                cr = change_request_create(
                    actor=self.actor, region_code=WANZHOU, year=y, policy_code=WZ_PRICE, change_type=ChangeType.ADD,
                    content="新增万州区困难群众价格临时补贴，纳入本年度补贴项目库，按月发放。",
                    reason="居民消费价格涨幅连续达到联动机制启动条件，需对低保、特困人员发放价格临时补贴。",
                    amount_impact="180000.00",
                )
                change_request_submit(actor=self.actor, pk=cr.pk)
            with on_day(t.ago(4)):
                change_request_approve(actor=self.actor, pk=cr.pk, opinion="同意新增，报市辖区财政局（代市（州）人民政府）审核。")
            self.created["change_requests"] += 1

    # 5 -------------------------------------------------------------------------------------------------
    def _indicator_specs(self) -> list[dict]:
        y, t = self.y, self.t
        return [
            {"policy": "CQ-001", "doc_no": f"财农〔{y}〕8号", "amount": "200000000.00", "source_level": "central",
             "central_doc": t.day(0, 3, 20), "received": t.day(0, 3, 24), "proposal": t.day(0, 4, 2),
             "allocated": t.day(0, 4, 16), "complete": True, "to_doc": f"渝财农〔{y}〕35号",
             "parts": [(WANZHOU, WZ_FINANCE, "18500000.00"), (FULING, FL_FINANCE, "14200000.00")]},
            {"policy": "CQ-009", "doc_no": f"财社〔{y}〕15号", "amount": "300000000.00", "source_level": "central",
             "central_doc": t.day(0, 4, 8), "received": t.day(0, 4, 10), "proposal": t.day(0, 4, 20),
             "allocated": t.day(0, 5, 6), "complete": True, "to_doc": f"渝财社〔{y}〕52号",
             "parts": [(WANZHOU, WZ_FINANCE, "42000000.00"), (FULING, FL_FINANCE, "31000000.00")]},
            {"policy": "CQ-013", "doc_no": f"渝财社〔{y}〕30号", "amount": "60000000.00", "source_level": "provincial",
             "central_doc": None, "received": t.day(0, 2, 28), "proposal": None,
             "allocated": t.day(0, 3, 15), "complete": True, "to_doc": f"渝财社〔{y}〕41号",
             "parts": [(WANZHOU, WZ_FINANCE, "5200000.00"), (FULING, FL_FINANCE, "3900000.00")]},
            # Only 万州区 got its share so far, and the 30 days from the central document are over: overdue.
            {"policy": "CQ-016", "doc_no": f"财资环〔{y}〕36号", "amount": "50000000.00", "source_level": "central",
             "central_doc": t.ago(40), "received": t.ago(36), "proposal": t.ago(33),
             "allocated": t.ago(20), "complete": False, "to_doc": f"渝财资环〔{y}〕88号",
             "parts": [(WANZHOU, WZ_FINANCE, "3000000.00")]},
        ]

    def indicators(self) -> None:
        y = self.y
        for spec in self._indicator_specs():
            if BudgetIndicator.objects.filter(holder__code=CQ_FINANCE, doc_no=spec["doc_no"],
                                              policy__code=spec["policy"], fiscal_year=y).exists():
                continue
            self.say(f"一张清单：{y} 年度预算指标 {spec['doc_no']}（{spec['policy']}）")
            with on_day(spec["received"]):
                indicator = indicator_receive(
                    actor=self.actor, doc_no=spec["doc_no"], received_on=spec["received"], amount=spec["amount"],
                    source_level=spec["source_level"], policy_code=spec["policy"], fiscal_year=y,
                    region_code=PROVINCE, central_document_date=spec["central_doc"], holder_code=CQ_FINANCE,
                )
            if spec["proposal"]:
                with on_day(spec["proposal"]):
                    indicator_proposal_submit(actor=self.actor, indicator_id=indicator.pk,
                                              note="按各区县补贴对象数量和补贴标准测算，建议分配方案见附表。")
            with on_day(spec["allocated"]):
                children = indicator_allocate(
                    actor=self.actor, parent_id=indicator.pk, complete=spec["complete"],
                    parts=[{"region_code": region, "holder_code": holder, "amount": amount, "doc_no": spec["to_doc"]}
                           for region, holder, amount in spec["parts"]],
                )
            self.created["indicators"] += 1 + len(children)

    def targets(self) -> None:
        y = self.y
        targets = [
            ("CQ-001", "output", "补贴发放面积", "180000", "亩", "gte"),
            ("CQ-001", "timeliness", "资金按时发放率", "100", "%", "gte"),
            ("CQ-001", "satisfaction", "受益农户满意度", "90", "%", "gte"),
            ("CQ-009", "output", "城乡低保保障人数", "4800", "人", "gte"),
            ("CQ-009", "timeliness", "低保金按月足额发放率", "100", "%", "gte"),
            ("CQ-013", "output", "重度残疾人护理补贴发放人数", "4600", "人", "gte"),
            ("CQ-013", "effect", "错发、重发资金占比", "0", "%", "lte"),
        ]
        with on_day(self.t.day(0, 3, 10)):
            for policy, category, name, value, unit, direction in targets:
                if PerformanceTarget.objects.filter(policy__code=policy, fiscal_year=y, region_id=WANZHOU,
                                                    name=name).exists():
                    continue
                target_set(actor=self.actor, policy_code=policy, fiscal_year=y, region_code=WANZHOU,
                           category=category, name=name, target_value=value, unit=unit, direction=direction)
                self.created["targets"] += 1

    # 6 -------------------------------------------------------------------------------------------------
    def next_list(self) -> None:
        y = self.y + 1
        if AnnualPolicyList.objects.filter(region_id=PROVINCE, year=y).exists():
            return
        self.say(f"一张清单：{y} 年度补贴政策清单草稿（部分已提交）")
        with on_day(self.t.ago(3)):
            for code in NEXT_SUBMITTED:
                list_item_add(actor=self.actor, region_code=PROVINCE, year=y, policy_code=code,
                              part=ListPart.PRESCRIBED)
            list_items_submit(actor=self.actor, region_code=PROVINCE, year=y)
            list_item_add(actor=self.actor, region_code=WANZHOU, year=y, policy_code=WZ_ELDERLY)
            list_items_submit(actor=self.actor, region_code=WANZHOU, year=y)
        with on_day(self.t.ago(1)):
            for code in NEXT_DRAFT:
                list_item_add(actor=self.actor, region_code=PROVINCE, year=y, policy_code=code,
                              part=ListPart.PRESCRIBED)
        self.created["lists"] += AnnualPolicyList.objects.filter(year=y).count()


def _message(year: int, created: Counter) -> str:
    if not sum(created.values()):
        return "一张清单演示数据已存在，本次没有改动。"
    lo, hi = region_rules.subtree_range(PROVINCE)
    entries = LibraryEntry.objects.filter(year=year, region_id__gte=lo, region_id__lte=hi, status="active").count()
    waiting = ChangeRequest.objects.filter(year=year, status=ChangeStatus.IN_REVIEW).count()
    approved = ChangeRequest.objects.filter(year=year, status=ChangeStatus.APPROVED).count()
    indicators = BudgetIndicator.objects.filter(fiscal_year=year).count()
    return (f"一张清单：补贴政策 {Policy.objects.count()} 项（本次新增 {created['policies']}）；"
            f"{year} 年度清单已公布，项目库 {entries} 项（已锁定）；调整变更申请已批准 {approved} 份、审核中 {waiting} 份；"
            f"{year} 年度预算指标 {indicators} 笔，绩效目标 {PerformanceTarget.objects.filter(fiscal_year=year).count()} 个；"
            f"{year + 1} 年度清单草稿（截止 {year} 年 11 月 30 日）。")


def load_policy_demo(*, progress: Callable[[str], None] | None = None) -> dict:
    """Load (or complete) the one-list demo; needs the organizations of ORGS and the core demo's 万州区/涪陵区
    organizations. Returns {"changed", "message", "created": {what: count}, "year", "accounts"}.
    Raises DomainError (nothing written) when a service refuses, e.g. a department is missing."""
    loader = _Loader(progress or (lambda message: None))
    with transaction.atomic():
        loader.run()
    created = {k: v for k, v in loader.created.items() if v}
    return {
        "changed": bool(created), "message": _message(loader.y, loader.created), "created": created,
        "year": loader.y, "accounts": [a.username for a in ACCOUNTS],
    }


def register() -> None:
    """Called from PoliciesConfig.ready(): load-demo creates ORGS and ACCOUNTS, then runs load_policy_demo."""
    register_extension(DemoExtension(name="policies", load=load_policy_demo, orgs=ORGS, accounts=ACCOUNTS))
