"""Chongqing's prescribed policy list (规定清单), the annex of 渝财农〔2021〕61号 [004 annex].

Names and competent departments are the annex's. Standards, cycles and funding shares are plausible
values for demos and tests (the annex lists none): operators correct them with policy_update, which keeps
the version history. Amounts are yuan strings (never floats).
"""

BASIS = "渝财农〔2021〕61号《关于进一步加强惠民惠农财政补贴资金“一卡通”管理的通知》附件：规定清单"
VALID_FROM = "2021-07-01"


def _p(seq, name, line, *, level, funding, standard_type, cycle, amount=None, unit="", tiers=None,
       means=False, direct=False, online=False, notice_public=True, min_age=None, max_age=None,
       target="", basis="", exclusive=(), extra=None):
    return {
        "code": f"CQ-{seq:03d}", "name": name, "business_line": line, "level_set": level,
        "funding_sources": [{"level": k, "share": v} for k, v in funding],
        "legal_basis": f"{BASIS}；{basis}" if basis else BASIS, "target_group": target,
        "standard_type": standard_type, "standard_amount": amount, "unit_name": unit, "tiers": tiers or [],
        "cycle": cycle, "means_tested": means, "direct_funds": direct, "valid_from": VALID_FROM,
        "is_public": True, "online_application": online, "notice_public": notice_public,
        "min_age": min_age, "max_age": max_age, "exclusive_with": list(exclusive), "extra_rules": extra or {},
    }


CENTRAL = [("central", "100")]
SHARED = [("central", "80"), ("provincial", "20")]
LOCAL = [("provincial", "50"), ("county", "50")]

PRESCRIBED = [
    _p(1, "耕地地力保护补贴资金", "agriculture", level="central", funding=CENTRAL, standard_type="per_unit",
       amount="100.00", unit="亩", cycle="yearly", direct=True, online=True,
       target="拥有耕地承包权的种地农民", basis="财农〔2016〕26号"),
    _p(2, "农机购置补贴资金", "agriculture", level="central", funding=CENTRAL, standard_type="tiered",
       cycle="one_off", direct=True, online=True, target="购置、使用补贴范围内农业机械的农户和农业生产经营组织",
       tiers=[{"code": "T1", "label": "微耕机", "amount": "1000.00"},
              {"code": "T2", "label": "手扶拖拉机", "amount": "2500.00"},
              {"code": "T3", "label": "谷物联合收割机", "amount": "30000.00"}]),
    _p(3, "大中型水库移民后期扶持资金", "water", level="central", funding=CENTRAL, standard_type="fixed",
       amount="600.00", cycle="yearly", direct=True, target="大中型水库农村移民（每人每年600元）",
       basis="国发〔2006〕17号"),
    _p(4, "前一轮退耕还林直补退耕农户资金", "forestry", level="central", funding=CENTRAL,
       standard_type="per_unit", amount="125.00", unit="亩", cycle="yearly", direct=True,
       target="前一轮退耕还林农户"),
    _p(5, "新一轮退耕还林直补退耕农户资金", "forestry", level="central", funding=CENTRAL,
       standard_type="per_unit", amount="300.00", unit="亩", cycle="yearly", direct=True,
       target="新一轮退耕还林农户", extra={"note": "按验收结果分年度兑现"}),
    _p(6, "集体和个人所有森林生态效益补偿资金", "forestry", level="central", funding=SHARED,
       standard_type="per_unit", amount="15.00", unit="亩", cycle="yearly", direct=True,
       target="集体和个人所有公益林的经营者"),
    _p(7, "农村部分计划生育家庭奖励扶助资金", "health", level="central", funding=SHARED,
       standard_type="fixed", amount="960.00", cycle="yearly", min_age=60,
       target="年满60周岁的农村独生子女或两女户父母"),
    _p(8, "计划生育家庭特别扶助资金", "health", level="central", funding=SHARED, standard_type="tiered",
       cycle="monthly", min_age=49, notice_public=False, target="独生子女伤残、死亡家庭夫妻",
       tiers=[{"code": "disabled", "label": "独生子女伤残家庭", "amount": "590.00"},
              {"code": "deceased", "label": "独生子女死亡家庭", "amount": "720.00"}]),
    _p(9, "困难群众救助补助－－城乡居民最低生活保障金", "civil_affairs", level="central", funding=SHARED,
       standard_type="fixed", amount="700.00", cycle="monthly", means=True, direct=True, online=True,
       target="共同生活的家庭成员人均收入低于当地最低生活保障标准的城乡居民"),
    _p(10, "困难群众救助补助－－特困人员救助供养保障金", "civil_affairs", level="central", funding=SHARED,
       standard_type="fixed", amount="910.00", cycle="monthly", means=True, direct=True,
       target="无劳动能力、无生活来源、无法定赡养抚养扶养义务人的老年人、残疾人和未成年人",
       exclusive=["CQ-009"]),
    _p(11, "困难群众救助补助－－临时救助金", "civil_affairs", level="central", funding=SHARED,
       standard_type="fixed", amount="5000.00", cycle="one_off", means=True, direct=True, online=True,
       target="因急难或支出型困难导致基本生活暂时出现严重困难的家庭或个人"),
    _p(12, "经济困难高龄失能养老服务补贴资金", "civil_affairs", level="municipal", funding=LOCAL,
       standard_type="fixed", amount="100.00", cycle="monthly", means=True, min_age=80,
       target="经济困难的80周岁以上高龄、失能老年人"),
    _p(13, "残疾人两项补贴－－重度残疾人护理补贴资金", "civil_affairs", level="municipal", funding=LOCAL,
       standard_type="fixed", amount="90.00", cycle="monthly", target="残疾等级为一级、二级的重度残疾人"),
    _p(14, "残疾人两项补贴－－困难残疾人生活补贴资金", "civil_affairs", level="municipal", funding=LOCAL,
       standard_type="fixed", amount="90.00", cycle="monthly", means=True, target="低保家庭中的残疾人"),
    _p(15, "困难群众救助补助资金－－散居孤儿、事实无人抚养儿童补助", "civil_affairs", level="central",
       funding=SHARED, standard_type="fixed", amount="1400.00", cycle="monthly", max_age=17,
       notice_public=False, target="散居孤儿和事实无人抚养儿童（未满18周岁）"),
    _p(16, "自然灾害生活补助资金", "emergency", level="central", funding=SHARED, standard_type="tiered",
       cycle="one_off", direct=True, target="受灾群众",
       tiers=[{"code": "rescue", "label": "应急救助（每人）", "amount": "500.00"},
              {"code": "transition", "label": "过渡期生活救助（每人）", "amount": "900.00"},
              {"code": "bereaved", "label": "遇难人员家属抚慰（每人）", "amount": "20000.00"}]),
    _p(17, "农村危房改造补助资金", "housing", level="central", funding=SHARED, standard_type="tiered",
       cycle="one_off", means=True, direct=True, target="农村低收入群体等重点对象的危房户",
       tiers=[{"code": "repair", "label": "C级危房修缮加固", "amount": "10000.00"},
              {"code": "rebuild", "label": "D级危房拆除重建", "amount": "35000.00"}]),
]

# The annex names these departments; the resolver maps each business line to the organization.
DEPARTMENT_NAMES = {
    "agriculture": "重庆市农业农村委员会",
    "water": "重庆市水利局",
    "forestry": "重庆市林业局",
    "health": "重庆市卫生健康委员会",
    "civil_affairs": "重庆市民政局",
    "emergency": "重庆市应急管理局",
    "housing": "重庆市住房和城乡建设委员会",
}
