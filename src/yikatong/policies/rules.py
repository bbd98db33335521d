"""Pure rules of the one list: the list calendar, standard amounts, input shapes and the change chain.

No ORM here: these functions take plain values (or any object with the named attributes) so that they
are tested without a database and reused by the roster import, the R06 check and the UI.
"""

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError

FEN = Decimal("0.01")
NEAR_DAYS = 7

# -- list calendar [003 §12] -------------------------------------------------------------------------
DEADLINE_LABELS = {
    "department_submit": "主管部门提交下一年度补贴政策清单",
    "prefecture_file": "市（州）财政部门报省财政厅备案",
    "province_publish": "省财政厅向社会公布年度补贴政策清单",
}
DEADLINE_STATE_LABELS = {"ok": "未到期", "near": "即将到期", "overdue": "已逾期"}


def list_deadlines(year: int) -> dict[str, dt.date]:
    """Deadlines of the list for `year`: Nov 30 and Dec 20 of the year before, end of February of the year."""
    return {
        "department_submit": dt.date(year - 1, 11, 30),
        "prefecture_file": dt.date(year - 1, 12, 20),
        "province_publish": dt.date(year, 2, calendar.monthrange(year, 2)[1]),
    }


def deadline_state(deadline: dt.date, today: dt.date) -> str:
    """"overdue" after the deadline, "near" within NEAR_DAYS days of it (inclusive), else "ok"."""
    if today > deadline:
        return "overdue"
    if (deadline - today).days <= NEAR_DAYS:
        return "near"
    return "ok"


def is_late(deadline: dt.date, today: dt.date) -> bool:
    return today > deadline


# -- library calendar [003 §14: fixed at the start of the year] ---------------------------------------
def locked_by_date(year: int, today: dt.date) -> bool:
    return today >= dt.date(year, 1, 1)


def year_closed(year: int, today: dt.date) -> bool:
    return year < today.year


def covering_region_codes(region_code: str) -> list[str]:
    """The region and every region above it, the region itself first: entries at any of them cover it."""
    code = region_rules.normalize_code(region_code)
    codes = [code]
    parent = region_rules.parent_code_of(code)
    while parent:
        codes.append(parent)
        parent = region_rules.parent_code_of(parent)
    return codes


# -- amounts -----------------------------------------------------------------------------------------
def to_decimal(value, *, what: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(f"{what}“{value}”不是有效的数字。") from exc
    if not amount.is_finite():
        raise DomainError(f"{what}“{value}”不是有效的数字。")
    return amount


def clean_money(value, *, what: str, allow_zero: bool = False, allow_negative: bool = False) -> Decimal:
    """Yuan with at most two decimals."""
    amount = to_decimal(value, what=what)
    if amount != amount.quantize(FEN):
        raise DomainError(f"{what}“{value}”最多保留两位小数（精确到分）。")
    if amount < 0 and not allow_negative:
        raise DomainError(f"{what}不能为负数。")
    if amount == 0 and not (allow_zero or allow_negative):
        raise DomainError(f"{what}应大于0。")
    return amount.quantize(FEN)


def max_amount(policy_like, quantity=None, tier: str | None = None) -> Decimal:
    """The highest amount the policy's standard allows for one beneficiary and period.

    fixed → the standard; per_unit → standard × quantity, rounded to the fen (ROUND_HALF_UP);
    tiered → the amount of the named tier. `policy_like` needs standard_type, standard_amount, tiers,
    unit_name and code (a Policy, a snapshot namespace, …).
    """
    kind = policy_like.standard_type
    code = getattr(policy_like, "code", "")
    standard = Decimal(str(policy_like.standard_amount or 0))
    if kind == "fixed":
        return standard.quantize(FEN)
    if kind == "per_unit":
        unit = getattr(policy_like, "unit_name", "") or "单位"
        if quantity is None or str(quantity).strip() == "":
            raise DomainError(f"补贴项目 {code} 按{unit}计算补贴，请填写补贴数量（{unit}数）。")
        qty = to_decimal(quantity, what="补贴数量")
        if qty <= 0:
            raise DomainError(f"补贴数量“{quantity}”应大于0。")
        return (standard * qty).quantize(FEN, rounding=ROUND_HALF_UP)
    if kind == "tiered":
        tiers = policy_like.tiers or []
        codes = "、".join(f"{t['code']}（{t['label']}）" for t in tiers)
        if not tier:
            raise DomainError(f"补贴项目 {code} 按档次发放，请指明补贴档次：{codes}。")
        for item in tiers:
            if item["code"] == str(tier).strip():
                return Decimal(str(item["amount"])).quantize(FEN)
        raise DomainError(f"补贴项目 {code} 没有档次“{tier}”，可选：{codes}。")
    raise DomainError(f"补贴项目 {code} 的标准类型“{kind}”无效。")


# -- input shapes ------------------------------------------------------------------------------------
GOV_LEVELS = {"central": "中央", "provincial": "省级", "municipal": "市级", "county": "县级"}


def clean_funding_sources(value) -> list[dict]:
    """[{"level", "share"}] with known levels, each once, positive shares summing to exactly 100."""
    if not value:
        raise DomainError("请填写资金来源（各级财政承担比例，合计100%）。", field="funding_sources")
    if not isinstance(value, list | tuple):
        raise DomainError("资金来源格式无效：应为各级承担比例的列表。", field="funding_sources")
    cleaned, seen, total = [], set(), Decimal(0)
    for entry in value:
        level = (entry or {}).get("level") if isinstance(entry, dict) else None
        if level not in GOV_LEVELS:
            choices = "、".join(f"{k}（{v}）" for k, v in GOV_LEVELS.items())
            raise DomainError(f"资金来源层级“{level}”无效，可选：{choices}。", field="funding_sources")
        if level in seen:
            raise DomainError(f"资金来源中“{GOV_LEVELS[level]}”重复出现，请合并为一项。", field="funding_sources")
        seen.add(level)
        share = to_decimal(entry.get("share"), what=f"{GOV_LEVELS[level]}承担比例")
        if share <= 0 or share > 100:
            raise DomainError(f"{GOV_LEVELS[level]}承担比例应在0到100之间。", field="funding_sources")
        total += share
        cleaned.append({"level": level, "share": format(share.normalize(), "f")})
    if total != 100:
        raise DomainError(
            f"资金来源比例合计应为100%，当前为{format(total.normalize(), 'f')}%。", field="funding_sources"
        )
    return cleaned


def clean_tiers(value) -> list[dict]:
    """[{"code", "label", "amount"}] with unique non-empty codes and positive amounts in yuan."""
    if not value:
        raise DomainError("分档标准至少需要一个档次（编码、名称、金额）。", field="tiers")
    if not isinstance(value, list | tuple):
        raise DomainError("分档标准格式无效：应为档次列表。", field="tiers")
    cleaned, seen = [], set()
    for index, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            raise DomainError(f"第{index}个档次格式无效。", field="tiers")
        code = str(entry.get("code") or "").strip()
        label = str(entry.get("label") or "").strip()
        if not code or not label:
            raise DomainError(f"第{index}个档次缺少编码或名称。", field="tiers")
        if code in seen:
            raise DomainError(f"档次编码“{code}”重复。", field="tiers")
        seen.add(code)
        amount = clean_money(entry.get("amount"), what=f"档次“{label}”的金额")
        cleaned.append({"code": code, "label": label, "amount": str(amount)})
    return cleaned


# -- change-request chain [003 §14] ------------------------------------------------------------------
@dataclass(frozen=True)
class ChainStep:
    code: str
    label: str
    role: str  # "department" | "finance"
    level: int  # region level of the acting organization
    same_line: bool  # departments must be of the policy's business line


def change_chain(region_level: int) -> tuple[ChainStep, ...]:
    """The steps a change request of a region at `region_level` goes through, in order.

    The prefecture government's consent is given on the platform by the prefecture-level finance bureau
    (the government has no platform users; its finance bureau acts for it — see docs/policies.md).
    Provincial (central/provincial) items go from the provincial department straight to provincial finance.
    """
    P, M, C = region_rules.PROVINCE, region_rules.PREFECTURE, region_rules.COUNTY
    upper = (
        ChainStep("province_department", "省级业务主管部门审核", "department", P, True),
        ChainStep("province_finance", "省级财政部门审核", "finance", P, False),
    )
    if region_level == P:
        return (ChainStep("province_department", "省级主管部门申报确认", "department", P, True), upper[1])
    prefecture_gov = ChainStep("prefecture_government", "市（州）人民政府同意（由市级财政部门办理）", "finance", M, False)
    if region_level == M:
        return (ChainStep("prefecture_department", "市级主管部门审核", "department", M, True), prefecture_gov, *upper)
    if region_level == C:
        return (ChainStep("county_department", "县级主管部门审核", "department", C, True), prefecture_gov, *upper)
    raise DomainError("调整变更申请只能由县级、市级或省级区划提出。")


def step_refusal(step: ChainStep, *, role: str, actor_region_code: str, actor_line: str,
                 request_region_code: str, policy_line: str) -> str | None:
    """Why an actor may not act on `step`, or None when they may."""
    if role != step.role:
        who = "主管部门" if step.role == "department" else "财政部门"
        return f"当前环节为“{step.label}”，须由{region_rules.LEVEL_NAMES[step.level]}级{who}办理。"
    if region_rules.level_of(actor_region_code) != step.level:
        return f"当前环节为“{step.label}”，须由{region_rules.LEVEL_NAMES[step.level]}级机构办理，您所在机构不是该层级。"
    if not region_rules.is_within(request_region_code, actor_region_code):
        return f"当前环节为“{step.label}”，该申请所属区划不在您的管辖范围内。"
    if step.same_line and actor_line != policy_line:
        return f"当前环节为“{step.label}”，须由该补贴项目所属业务条线的主管部门办理。"
    return None
