"""The rule catalogue (SPEC §6): what each rule checks, on which data, with which default severity and parameters.

Pure data and pure functions (no ORM): the effective setting of a rule for a policy is the catalogue default,
overridden by the policy's RuleConfig row when there is one (see engine.config).
"""

from dataclasses import dataclass, field

from yikatong.core.errors import DomainError

BLOCK, REVIEW = "block", "review"
SEVERITY_LABELS = {BLOCK: "阻断", REVIEW: "复核"}


@dataclass(frozen=True)
class Rule:
    code: str
    label: str
    description: str
    source: str  # a shared-data source code, or "" for registry/platform/policy data
    data_label: str
    severity: str
    means_tested_only: bool = False
    params: dict = field(default_factory=dict)


RULES: tuple[Rule, ...] = (
    Rule("R01", "身份证号无效", "身份证号校验位、出生日期或地区码无效（地区码曾经使用过即有效）", "", "—", BLOCK),
    Rule("R02", "死亡人员", "补贴期间开始前已死亡（阻断）；期间内死亡（复核）", "death", "死亡/殡葬", BLOCK),
    Rule("R03", "重复享受", "同一人同一补贴项目同一期间已审核通过或已发放（任何区划、任何批次）", "", "平台数据", BLOCK),
    Rule("R04", "非本人社保卡账户", "收款账户与社保卡数据不一致，或社保卡户名与补贴对象姓名不符", "ssc_card", "社保卡",
         BLOCK),
    Rule("R05", "社保卡状态异常", "社保卡金融功能未激活、挂失或注销", "ssc_card", "社保卡", BLOCK),
    Rule("R06", "金额超标准", "补贴金额高于补贴标准（定额、按单位×数量或分档）", "", "补贴政策", BLOCK),
    Rule("R07", "财政供养人员", "财政供养人员享受经济状况核查类补贴", "public_staff", "财政供养人员", REVIEW,
         means_tested_only=True),
    Rule("R08", "有车辆", "名下有登记车辆享受经济状况核查类补贴", "vehicle", "车辆", REVIEW, means_tested_only=True),
    Rule("R09", "企业法定代表人或股东", "工商登记为企业法定代表人或股东享受经济状况核查类补贴", "enterprise", "工商登记",
         REVIEW, means_tested_only=True),
    Rule("R10", "多套不动产", "名下不动产数量超过限定享受经济状况核查类补贴", "real_estate", "不动产", REVIEW,
         means_tested_only=True, params={"max_properties": 1}),
    Rule("R11", "互斥政策重复享受", "同一人同一期间享受互斥的补贴项目（如特困供养与低保）", "", "平台数据", BLOCK),
    Rule("R12", "账户或手机号共用", "同一银行账户或手机号码被不同户的补贴对象共用", "", "平台数据", REVIEW),
    Rule("R13", "村干部及近亲属", "村干部本人或其近亲属享受补贴（优亲厚友）", "cadre_relative", "村干部及近亲属", REVIEW),
    Rule("R14", "年龄不符", "按身份证号计算的年龄（补贴期间最后一日）不符合政策年龄条件", "", "补贴政策", BLOCK,
         params={"min_age": None, "max_age": None}),
    Rule("R15", "非本地户籍", "户籍不在发放地区（默认按区县比对）", "household", "户籍", REVIEW,
         params={"level": "county"}),
    Rule("R16", "信用名单", "本人或单位在信用（违规）名单中（名单为“限制申领”时阻断）", "", "信用名单", REVIEW),
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}
CODES: tuple[str, ...] = tuple(BY_CODE)
REGION_LEVELS = {"county": 6, "township": 9, "village": 12}
REGION_LEVEL_LABELS = {"county": "区县", "township": "乡镇（街道）", "village": "村（社区）"}


def rule_of(code) -> Rule:
    text = str(code or "").strip().upper()
    if text not in BY_CODE:
        raise DomainError(f"核查规则“{code}”不存在，可选：{'、'.join(CODES)}。", field="rule")
    return BY_CODE[text]


def clean_severity(value) -> str:
    text = str(value or "").strip().lower()
    by_label = {label: code for code, label in SEVERITY_LABELS.items()}
    text = by_label.get(text, text)
    if text not in SEVERITY_LABELS:
        raise DomainError(f"严重程度“{value}”无效，可选：block（阻断）、review（复核）。", field="severity")
    return text


def _age(value, name: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise DomainError(f"参数 {name} 应为 0 至 150 的整数。", field="params")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise DomainError(f"参数 {name}“{value}”应为 0 至 150 的整数。", field="params") from None
    if not 0 <= number <= 150:
        raise DomainError(f"参数 {name}“{value}”应为 0 至 150 的整数。", field="params")
    return number


def clean_params(code: str, params) -> dict:
    """The parameters a policy may set for rule `code`, validated; unknown keys are refused."""
    rule = rule_of(code)
    params = params or {}
    if not isinstance(params, dict):
        raise DomainError("规则参数格式无效：应为“名称: 值”的对象。", field="params")
    unknown = sorted(set(params) - set(rule.params))
    if unknown:
        allowed = "、".join(rule.params) or "（无）"
        raise DomainError(f"规则 {rule.code} 没有参数 {'、'.join(unknown)}，可设置的参数：{allowed}。", field="params")
    cleaned = {}
    if rule.code == "R14":
        for name in ("min_age", "max_age"):
            if name in params:
                cleaned[name] = _age(params[name], name)
        lo, hi = cleaned.get("min_age"), cleaned.get("max_age")
        if lo is not None and hi is not None and lo > hi:
            raise DomainError(f"最低年龄 {lo} 不能大于最高年龄 {hi}。", field="params")
    elif rule.code == "R10":
        if "max_properties" in params:
            value = params["max_properties"]
            try:
                number = int(str(value).strip())
            except ValueError:
                number = -1
            if isinstance(value, bool) or number < 0:
                raise DomainError(f"参数 max_properties“{value}”应为不小于 0 的整数。", field="params")
            cleaned["max_properties"] = number
    elif rule.code == "R15":
        if "level" in params:
            level = str(params["level"] or "").strip()
            if level not in REGION_LEVELS:
                raise DomainError(f"参数 level“{params['level']}”无效，可选：county、township、village。",
                                  field="params")
            cleaned["level"] = level
    return cleaned


@dataclass(frozen=True)
class Setting:
    """The effective setting of one rule for one policy."""

    rule: str
    enabled: bool
    severity: str
    params: dict
    configured: bool  # True when a RuleConfig row exists


def effective(rule: Rule, *, means_tested: bool, min_age=None, max_age=None, row=None) -> Setting:
    """Catalogue default + the policy's own facts (means-tested, age limits) + the RuleConfig row (if any)."""
    params = dict(rule.params)
    if rule.code == "R14":
        params.update({"min_age": min_age, "max_age": max_age})
    if row is None:
        enabled = means_tested or not rule.means_tested_only
        return Setting(rule.code, enabled, rule.severity, params, False)
    params.update(row.params or {})
    return Setting(rule.code, bool(row.enabled), row.severity or rule.severity, params, True)
