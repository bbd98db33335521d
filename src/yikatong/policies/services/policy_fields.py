"""Validation and snapshots of policy attributes (shared by create, update, change requests and the seed).

`clean_policy_values` takes every attribute as plain input (strings from a form, codes, objects) and returns
the cleaned values ready to assign, or raises DomainError naming the field and what to do.
"""

import datetime as dt
import re

from yikatong.core.errors import DomainError
from yikatong.core.models import BusinessLine, Organization, OrgKind, Region, StoredFile

from .. import rules
from ..models import Cycle, GovLevel, Policy, StandardType

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")

# Every attribute of a policy in display order, with its label: snapshots and comparisons follow this.
POLICY_FIELDS: list[tuple[str, str]] = [
    ("code", "补贴项目编码"),
    ("name", "补贴项目名称"),
    ("business_line", "业务条线"),
    ("department", "主管部门"),
    ("region", "制定区划"),
    ("level_set", "制定层级"),
    ("funding_sources", "资金来源"),
    ("legal_basis", "政策依据"),
    ("documents", "政策文件"),
    ("target_group", "补贴对象"),
    ("standard_type", "标准类型"),
    ("standard_amount", "补贴标准（元）"),
    ("unit_name", "计量单位"),
    ("tiers", "分档标准"),
    ("cycle", "发放周期"),
    ("means_tested", "是否经济状况核查"),
    ("direct_funds", "是否直达资金"),
    ("valid_from", "有效期起"),
    ("valid_to", "有效期止"),
    ("is_public", "向社会公开"),
    ("online_application", "可网上申请"),
    ("notice_public", "公示可对外公开"),
    ("min_age", "最低年龄"),
    ("max_age", "最高年龄"),
    ("exclusive_with", "互斥政策"),
    ("extra_rules", "其他规则"),
    ("status", "状态"),
]
FIELD_LABELS = dict(POLICY_FIELDS)
# Attributes a caller may set (code only at creation; status only through activate/retire).
EDITABLE = [name for name, _ in POLICY_FIELDS if name not in ("code", "status")]
BOOLEAN_FIELDS = ("means_tested", "direct_funds", "is_public", "online_application", "notice_public")
DEFAULTS = {
    "business_line": "", "department": None, "region": None, "funding_sources": [], "legal_basis": "",
    "documents": [], "target_group": "", "standard_amount": None, "unit_name": "", "tiers": [],
    "means_tested": False, "direct_funds": False, "valid_to": None, "is_public": True,
    "online_application": False, "notice_public": True, "min_age": None, "max_age": None,
    "exclusive_with": [], "extra_rules": {},
}


def clean_code(code) -> str:
    text = str(code or "").strip()
    if not text:
        raise DomainError("请填写补贴项目编码（如 CQ-001）。", field="code")
    if not CODE_RE.match(text):
        raise DomainError(
            f"补贴项目编码“{text}”无效：只能使用字母、数字、短横线和下划线，以字母或数字开头，最多32位。", field="code"
        )
    return text


def current_values(policy: Policy) -> dict:
    """The editable attributes of a saved policy, in the shape `clean_policy_values` accepts."""
    values = {name: getattr(policy, name) for name in EDITABLE if name not in ("exclusive_with", "documents")}
    values["department"] = policy.department
    values["region"] = policy.region_id
    values["exclusive_with"] = sorted(policy.exclusive_with.values_list("code", flat=True))
    values["documents"] = [
        {"file": str(d.file_id), "title": d.title} for d in policy.policy_documents.order_by("id")
    ]
    return values


def _choice(value, choices, *, field: str, what: str) -> str:
    if value not in choices.values:
        options = "、".join(choices.labels)
        raise DomainError(f"请选择{what}：{options}。", field=field)
    return str(value)


def _date(value, *, field: str, what: str, required: bool) -> dt.date | None:
    if value in (None, ""):
        if required:
            raise DomainError(f"请填写{what}。", field=field)
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise DomainError(f"{what}“{value}”不是有效日期，请按 YYYY-MM-DD 填写。", field=field) from exc


def _age(value, *, field: str, what: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        age = int(str(value).strip())
    except ValueError as exc:
        raise DomainError(f"{what}“{value}”应为整数。", field=field) from exc
    if not 0 <= age <= 150:
        raise DomainError(f"{what}应在0到150岁之间。", field=field)
    return age


def _department(value, business_line: str) -> Organization:
    if value in (None, ""):
        raise DomainError("请选择主管部门。", field="department")
    if isinstance(value, Organization):
        org = value
    else:
        org = Organization.objects.filter(code=str(value).strip()).first()
        if org is None:
            raise DomainError(f"主管部门“{value}”不存在，请从机构列表中选择。", field="department")
    if org.kind != OrgKind.DEPARTMENT:
        raise DomainError(f"“{org.name}”不是补贴项目主管部门，请选择主管部门类型的机构。", field="department")
    if not org.active:
        raise DomainError(f"主管部门“{org.name}”已停用，请选择有效的机构。", field="department")
    if business_line and org.business_line != business_line:
        raise DomainError(
            f"主管部门“{org.name}”属于“{BusinessLine(org.business_line).label}”条线，"
            f"与补贴项目的业务条线“{BusinessLine(business_line).label}”不一致。",
            field="department",
        )
    return org


def _documents(value) -> list[tuple[StoredFile, str]]:
    result, seen = [], set()
    for index, entry in enumerate(value or [], start=1):
        file_ref = entry.get("file") if isinstance(entry, dict) else None
        title = str((entry or {}).get("title") or "").strip() if isinstance(entry, dict) else ""
        file_id = getattr(file_ref, "pk", file_ref)
        stored = StoredFile.objects.filter(pk=file_id).first() if file_id else None
        if stored is None:
            raise DomainError(f"第{index}个政策文件不存在，请重新上传。", field="documents")
        if not title:
            raise DomainError(f"请填写第{index}个政策文件的标题。", field="documents")
        if stored.pk in seen:
            continue
        seen.add(stored.pk)
        result.append((stored, title[:200]))
    return result


def _exclusive(value, own_code: str) -> list[Policy]:
    codes = [str(c).strip() for c in (value or []) if str(c).strip()]
    if own_code in codes:
        raise DomainError("补贴项目不能与自身互斥。", field="exclusive_with")
    found = {p.code: p for p in Policy.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise DomainError(f"互斥补贴项目 {'、'.join(missing)} 不存在。", field="exclusive_with")
    return [found[c] for c in dict.fromkeys(codes)]


def clean_policy_values(values: dict, *, code: str) -> dict:
    """Validate every editable attribute; returns them cleaned (department an Organization, region a Region,
    exclusive_with a list of Policy, documents a list of (StoredFile, title))."""
    out: dict = {}
    out["name"] = str(values.get("name") or "").strip()
    if not out["name"]:
        raise DomainError("请填写补贴项目名称。", field="name")
    if len(out["name"]) > 200:
        raise DomainError("补贴项目名称过长：最多200个字符。", field="name")
    line = values.get("business_line") or ""
    if line:
        _choice(line, BusinessLine, field="business_line", what="业务条线")
    department = _department(values.get("department"), line)
    out["business_line"] = line or department.business_line
    out["department"] = department
    region_code = str(values.get("region") or department.region_id)
    if region_code != department.region_id:
        raise DomainError(
            f"补贴项目的制定区划应为主管部门“{department.name}”所在区划（{department.region_id}）。", field="region"
        )
    out["region"] = Region.objects.get(pk=region_code)
    out["level_set"] = _choice(values.get("level_set"), GovLevel, field="level_set", what="制定层级")
    out["funding_sources"] = rules.clean_funding_sources(values.get("funding_sources"))
    out["legal_basis"] = str(values.get("legal_basis") or "").strip()
    out["documents"] = _documents(values.get("documents"))
    out["target_group"] = str(values.get("target_group") or "").strip()
    kind = out["standard_type"] = _choice(
        values.get("standard_type"), StandardType, field="standard_type", what="补贴标准类型"
    )
    out["unit_name"] = str(values.get("unit_name") or "").strip()
    if kind == StandardType.TIERED:
        out["tiers"] = rules.clean_tiers(values.get("tiers"))
        # The standard of a tiered policy is its highest tier: the upper bound any amount is checked against.
        out["standard_amount"] = max(rules.clean_money(t["amount"], what="档次金额") for t in out["tiers"])
    else:
        if values.get("standard_amount") in (None, ""):
            raise DomainError("请填写补贴标准金额（元）。", field="standard_amount")
        out["standard_amount"] = rules.clean_money(values.get("standard_amount"), what="补贴标准")
        out["tiers"] = []
        if kind == StandardType.PER_UNIT and not out["unit_name"]:
            raise DomainError("按单位计算的补贴须填写计量单位（如 亩、人）。", field="unit_name")
    out["cycle"] = _choice(values.get("cycle"), Cycle, field="cycle", what="发放周期")
    for name in BOOLEAN_FIELDS:
        out[name] = bool(values.get(name, DEFAULTS[name]))
    out["valid_from"] = _date(values.get("valid_from"), field="valid_from", what="政策有效期起始日期", required=True)
    out["valid_to"] = _date(values.get("valid_to"), field="valid_to", what="政策有效期截止日期", required=False)
    if out["valid_to"] and out["valid_to"] < out["valid_from"]:
        raise DomainError(
            f"政策有效期截止日期（{out['valid_to']}）不能早于起始日期（{out['valid_from']}）。", field="valid_to"
        )
    out["min_age"] = _age(values.get("min_age"), field="min_age", what="最低年龄")
    out["max_age"] = _age(values.get("max_age"), field="max_age", what="最高年龄")
    if out["min_age"] is not None and out["max_age"] is not None and out["min_age"] > out["max_age"]:
        raise DomainError("最低年龄不能大于最高年龄。", field="max_age")
    out["exclusive_with"] = _exclusive(values.get("exclusive_with"), code)
    extra = values.get("extra_rules") or {}
    if not isinstance(extra, dict):
        raise DomainError("其他规则格式无效：应为键值对。", field="extra_rules")
    out["extra_rules"] = extra
    return out


def snapshot(policy: Policy) -> dict:
    """Every attribute of a saved policy as JSON-safe values (codes for relations, strings for amounts)."""
    return {
        "code": policy.code,
        "name": policy.name,
        "business_line": policy.business_line,
        "department": policy.department.code,
        "department_name": policy.department.name,
        "region": policy.region_id,
        "level_set": policy.level_set,
        "funding_sources": policy.funding_sources,
        "legal_basis": policy.legal_basis,
        "documents": [{"file": str(d.file_id), "title": d.title} for d in policy.policy_documents.order_by("id")],
        "target_group": policy.target_group,
        "standard_type": policy.standard_type,
        "standard_amount": str(policy.standard_amount),
        "unit_name": policy.unit_name,
        "tiers": policy.tiers,
        "cycle": policy.cycle,
        "means_tested": policy.means_tested,
        "direct_funds": policy.direct_funds,
        "valid_from": policy.valid_from.isoformat() if policy.valid_from else None,
        "valid_to": policy.valid_to.isoformat() if policy.valid_to else None,
        "is_public": policy.is_public,
        "online_application": policy.online_application,
        "notice_public": policy.notice_public,
        "min_age": policy.min_age,
        "max_age": policy.max_age,
        "exclusive_with": sorted(policy.exclusive_with.values_list("code", flat=True)),
        "extra_rules": policy.extra_rules,
        "status": policy.status,
        "version": policy.version,
    }
