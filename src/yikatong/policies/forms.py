"""Forms of the one-list pages. They only shape input; every rule is checked again by the services, whose
DomainError is shown under the field it names (see views._common.show_error)."""

import re
from decimal import Decimal, InvalidOperation

from django import forms

from yikatong.core.models import BusinessLine

from .models import ChangeStatus, ChangeType, Cycle, GovLevel, ListPart, PolicyStatus, StandardType

REQUIRED = {"required": "此项为必填项。"}
DATE_ERRORS = {"invalid": "日期格式应为 YYYY-MM-DD。"}
_SPLIT = re.compile(r"[\s,，、;；]+")


def _blank(choices, label="全部"):
    return [("", label), *choices]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django needs this spelled out since 4.2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


# -- policies -----------------------------------------------------------------------------------------
class PolicyFilterForm(forms.Form):
    line = forms.ChoiceField(label="业务条线", choices=_blank(BusinessLine.choices), required=False)
    level = forms.ChoiceField(label="制定层级", choices=_blank(GovLevel.choices), required=False)
    status = forms.ChoiceField(label="状态", choices=_blank(PolicyStatus.choices), required=False)
    cycle = forms.ChoiceField(label="发放周期", choices=_blank(Cycle.choices), required=False)
    means_tested = forms.ChoiceField(label="经济状况核查", choices=[("", "全部"), ("1", "是"), ("0", "否")],
                                     required=False)
    q = forms.CharField(label="编码或名称", max_length=50, required=False)


class FundingWidget(forms.MultiWidget):
    template_name = "policies/widgets/funding.html"

    def __init__(self):
        super().__init__([forms.TextInput(attrs={"inputmode": "decimal", "size": 5}) for _ in GovLevel.values])

    def decompress(self, value):
        shares = {s["level"]: s["share"] for s in (value or [])}
        return [shares.get(level, "") for level in GovLevel.values]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for sub, label in zip(context["widget"]["subwidgets"], GovLevel.labels, strict=True):
            sub["level_label"] = label
        return context


class FundingField(forms.MultiValueField):
    """Shares (percent) per government level → [{"level", "share"}] for the shares filled in; the service
    checks that they sum to 100."""

    widget = FundingWidget

    def __init__(self, **kwargs):
        fields = [forms.CharField(required=False) for _ in GovLevel.values]
        super().__init__(fields=fields, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        shares = []
        for level, label, raw in zip(GovLevel.values, GovLevel.labels, data_list or [], strict=False):
            text = (raw or "").strip().rstrip("%％")
            if not text:
                continue
            try:
                Decimal(text)
            except InvalidOperation:
                raise forms.ValidationError(f"{label}承担比例“{raw}”不是数字。") from None
            shares.append({"level": level, "share": text})
        return shares


def parse_tiers(text: str) -> list[dict]:
    """One tier per line: 编码,名称,金额 (comma, Chinese comma or spaces)."""
    tiers = []
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[,，\t]+|\s+", line) if p]
        if len(parts) != 3:
            raise forms.ValidationError(f"分档标准第{number}行应为“编码,名称,金额”三项，如：T1,一级,500.00。")
        tiers.append({"code": parts[0], "label": parts[1], "amount": parts[2]})
    return tiers


def tiers_text(tiers) -> str:
    return "\n".join(f"{t['code']},{t['label']},{t['amount']}" for t in tiers or [])


class PolicyForm(forms.Form):
    """Create (with code and status) and edit (with reason) a policy."""

    code = forms.CharField(label="补贴项目编码", max_length=32, error_messages=REQUIRED,
                           help_text="字母、数字、短横线，如 WZ-001；建立后不能修改")
    name = forms.CharField(label="补贴项目名称", max_length=200, error_messages=REQUIRED)
    department = forms.ChoiceField(label="主管部门", error_messages=REQUIRED)
    level_set = forms.ChoiceField(label="制定层级", choices=_blank(GovLevel.choices, "请选择"), error_messages=REQUIRED)
    funding_sources = FundingField(label="资金来源（各级承担比例 %，合计 100）", required=False)
    legal_basis = forms.CharField(label="政策依据", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    target_group = forms.CharField(label="补贴对象", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    standard_type = forms.ChoiceField(label="标准类型", choices=_blank(StandardType.choices, "请选择"),
                                      error_messages=REQUIRED)
    standard_amount = forms.CharField(label="补贴标准（元）", max_length=20, required=False,
                                      help_text="定额或每单位金额；分档时不填")
    unit_name = forms.CharField(label="计量单位", max_length=20, required=False, help_text="按单位计算时必填，如 亩、人")
    tiers = forms.CharField(label="分档标准", widget=forms.Textarea(attrs={"rows": 3}), required=False,
                            help_text="分档时每行一档：编码,名称,金额")
    cycle = forms.ChoiceField(label="发放周期", choices=_blank(Cycle.choices, "请选择"), error_messages=REQUIRED)
    means_tested = forms.BooleanField(label="经济状况核查（家计调查）", required=False)
    direct_funds = forms.BooleanField(label="直达资金", required=False)
    valid_from = forms.DateField(label="有效期起", widget=DateInput(), error_messages={**REQUIRED, **DATE_ERRORS})
    valid_to = forms.DateField(label="有效期止", widget=DateInput(), required=False, error_messages=DATE_ERRORS,
                               help_text="长期有效可不填")
    is_public = forms.BooleanField(label="向社会公开", required=False, initial=True)
    online_application = forms.BooleanField(label="可网上申请", required=False)
    notice_public = forms.BooleanField(label="公示可对外公开", required=False, initial=True)
    min_age = forms.IntegerField(label="最低年龄", required=False, min_value=0, max_value=150,
                                 error_messages={"invalid": "请填写整数。"})
    max_age = forms.IntegerField(label="最高年龄", required=False, min_value=0, max_value=150,
                                 error_messages={"invalid": "请填写整数。"})
    exclusive_with = forms.CharField(label="互斥政策", max_length=500, required=False,
                                     help_text="不能同时享受的补贴项目编码，用顿号或逗号分隔")
    document_file = forms.FileField(label="上传政策文件", required=False)
    document_title = forms.CharField(label="政策文件标题", max_length=200, required=False)
    remove_documents = forms.MultipleChoiceField(label="移除已有政策文件", required=False,
                                                 widget=forms.CheckboxSelectMultiple)
    status = forms.ChoiceField(label="状态", choices=[(PolicyStatus.ACTIVE, "执行中"), (PolicyStatus.DRAFT, "草稿")],
                               initial=PolicyStatus.ACTIVE, help_text="拟通过调整变更申请新增的政策，先登记为草稿")
    reason = forms.CharField(label="修改原因", max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": "请填写修改原因（将记入版本历史）。"})

    FIELDSETS = [
        ("基本信息", ["code", "name", "department", "level_set", "status"]),
        ("资金与依据", ["funding_sources", "legal_basis", "target_group"]),
        ("补贴标准", ["standard_type", "standard_amount", "unit_name", "tiers", "cycle", "min_age", "max_age"]),
        ("属性", ["means_tested", "direct_funds", "valid_from", "valid_to", "is_public", "online_application",
                "notice_public", "exclusive_with"]),
        ("政策文件", ["document_file", "document_title", "remove_documents"]),
        ("修改说明", ["reason"]),
    ]

    def __init__(self, *args, departments=(), documents=(), editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["department"].choices = [("", "请选择"), *departments]
        if editing:
            del self.fields["code"]
            del self.fields["status"]
            self.fields["remove_documents"].choices = [(str(d.file_id), d.title) for d in documents]
            if not documents:
                del self.fields["remove_documents"]
        else:
            del self.fields["reason"]
            del self.fields["remove_documents"]

    def fieldsets(self):
        for legend, names in self.FIELDSETS:
            fields = [self[name] for name in names if name in self.fields]
            if fields:
                yield legend, fields

    def clean_tiers(self):
        return parse_tiers(self.cleaned_data.get("tiers", ""))

    def clean_exclusive_with(self):
        return [c for c in _SPLIT.split(self.cleaned_data.get("exclusive_with") or "") if c]

    def clean(self):
        data = super().clean()
        if data.get("document_file") and not (data.get("document_title") or "").strip():
            self.add_error("document_title", "上传政策文件时请填写文件标题。")
        return data

    def policy_values(self) -> dict:
        """The attributes in the shape policy_create / policy_update take (documents handled by the view)."""
        data = self.cleaned_data
        names = ["name", "department", "level_set", "funding_sources", "legal_basis", "target_group",
                 "standard_type", "standard_amount", "unit_name", "tiers", "cycle", "means_tested", "direct_funds",
                 "valid_from", "valid_to", "is_public", "online_application", "notice_public", "min_age",
                 "max_age", "exclusive_with"]
        return {name: data.get(name) for name in names}


class ReasonForm(forms.Form):
    reason = forms.CharField(label="原因", max_length=500, error_messages={"required": "请填写原因。"})


class VersionPairForm(forms.Form):
    v1 = forms.IntegerField(label="版本", min_value=1, error_messages={"required": "请选择要比较的两个版本。",
                                                                      "invalid": "版本号应为整数。"})
    v2 = forms.IntegerField(label="对比版本", min_value=1, error_messages={"required": "请选择要比较的两个版本。",
                                                                        "invalid": "版本号应为整数。"})


# -- lists ----------------------------------------------------------------------------------------------
class ListItemAddForm(forms.Form):
    policy = forms.ChoiceField(label="补贴项目", error_messages={"required": "请选择补贴项目。"})
    part = forms.ChoiceField(label="清单类别", choices=[("", "自动判断"), *ListPart.choices], required=False)

    def __init__(self, *args, policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = [("", "请选择"), *[(p.code, f"{p.code} {p.name}") for p in policies]]


class ListUploadForm(forms.Form):
    file = forms.FileField(label="清单文件（XLSX 或 CSV）", error_messages={"required": "请选择要上传的文件。"})


# -- library ------------------------------------------------------------------------------------------
class LibraryCheckForm(forms.Form):
    policy = forms.CharField(label="补贴项目编码", max_length=32, error_messages={"required": "请填写补贴项目编码。"})
    region = forms.CharField(label="区划代码", max_length=12, error_messages={"required": "请填写12位区划代码。"})
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100,
                              error_messages={"required": "请填写年度。", "invalid": "年度应为四位数字。",
                                              "min_value": "年度无效。", "max_value": "年度无效。"})


class LibraryRemoveForm(forms.Form):
    region = forms.CharField(max_length=12)
    policy = forms.CharField(max_length=32)
    reason = forms.CharField(label="移出原因", max_length=500, error_messages={"required": "请填写移出原因。"})


# -- change requests ------------------------------------------------------------------------------------
TRI_STATE = [("", "不调整"), ("1", "是"), ("0", "否")]


class ChangeFilterForm(forms.Form):
    status = forms.ChoiceField(label="状态", choices=_blank(ChangeStatus.choices), required=False)
    year = forms.IntegerField(label="年度", required=False, min_value=2000, max_value=2100,
                              error_messages={"invalid": "年度应为四位数字。"})


class ChangeRequestForm(forms.Form):
    """《惠民惠农财政补贴项目调整变更申请表》; the new_* fields are the new standard of a "modify" request."""

    region = forms.ChoiceField(label="申请区划", error_messages=REQUIRED)
    year = forms.TypedChoiceField(label="年度", coerce=int, error_messages=REQUIRED)
    policy = forms.ChoiceField(label="补贴项目", error_messages={"required": "请选择补贴项目。"})
    change_type = forms.ChoiceField(label="变更类型", choices=_blank(ChangeType.choices, "请选择"),
                                    error_messages={"required": "请选择变更类型。"})
    content = forms.CharField(label="变更内容", widget=forms.Textarea(attrs={"rows": 3}),
                              error_messages={"required": "请填写变更内容。"})
    reason = forms.CharField(label="变更理由", widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": "请填写变更理由。"})
    amount_impact = forms.CharField(label="资金影响（元）", max_length=20, required=False,
                                    help_text="增加为正数，减少为负数，如 -12000.00")
    new_standard_type = forms.ChoiceField(label="调整后标准类型", choices=_blank(StandardType.choices, "不调整"),
                                          required=False)
    new_standard_amount = forms.CharField(label="调整后补贴标准（元）", max_length=20, required=False)
    new_unit_name = forms.CharField(label="调整后计量单位", max_length=20, required=False)
    new_tiers = forms.CharField(label="调整后分档标准", widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                help_text="每行一档：编码,名称,金额")
    new_cycle = forms.ChoiceField(label="调整后发放周期", choices=_blank(Cycle.choices, "不调整"), required=False)
    new_target_group = forms.CharField(label="调整后补贴对象", widget=forms.Textarea(attrs={"rows": 2}),
                                       required=False)
    new_min_age = forms.IntegerField(label="调整后最低年龄", required=False, min_value=0, max_value=150,
                                     error_messages={"invalid": "请填写整数。"})
    new_max_age = forms.IntegerField(label="调整后最高年龄", required=False, min_value=0, max_value=150,
                                     error_messages={"invalid": "请填写整数。"})
    new_valid_from = forms.DateField(label="调整后有效期起", widget=DateInput(), required=False,
                                     error_messages=DATE_ERRORS)
    new_valid_to = forms.DateField(label="调整后有效期止", widget=DateInput(), required=False,
                                   error_messages=DATE_ERRORS)
    new_means_tested = forms.ChoiceField(label="调整后是否经济状况核查", choices=TRI_STATE, required=False)
    documents = MultipleFileField(label="附件（可多选）", required=False)

    NEW_FIELDS = ["standard_type", "standard_amount", "unit_name", "tiers", "cycle", "target_group", "min_age",
                  "max_age", "valid_from", "valid_to", "means_tested"]

    def __init__(self, *args, regions=(), years=(), policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = list(regions)
        self.fields["year"].choices = [(y, f"{y} 年度") for y in years]
        self.fields["policy"].choices = [("", "请选择"), *[(p.code, f"{p.code} {p.name}（{p.get_status_display()}）")
                                                         for p in policies]]

    def clean_new_tiers(self):
        return parse_tiers(self.cleaned_data.get("new_tiers", ""))

    def main_fields(self):
        return [self[n] for n in ["region", "year", "policy", "change_type", "content", "reason", "amount_impact"]]

    def standard_fields(self):
        return [self[f"new_{n}"] for n in self.NEW_FIELDS]

    def new_standard(self) -> dict:
        """Only what the applicant filled in."""
        data, out = self.cleaned_data, {}
        for name in self.NEW_FIELDS:
            value = data.get(f"new_{name}")
            if name == "means_tested":
                if value in ("1", "0"):
                    out[name] = value == "1"
                continue
            if value in (None, "", []):
                continue
            out[name] = value
        return out


class ChangeReviseForm(forms.Form):
    content = forms.CharField(label="变更内容", widget=forms.Textarea(attrs={"rows": 3}),
                              error_messages={"required": "请填写变更内容。"})
    reason = forms.CharField(label="变更理由", widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": "请填写变更理由。"})
    amount_impact = forms.CharField(label="资金影响（元）", max_length=20, required=False)


class OpinionForm(forms.Form):
    opinion = forms.CharField(label="审核意见", max_length=500, required=False)
