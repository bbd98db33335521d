"""Forms of the budget indicator and performance target pages (预算指标、绩效目标).

The forms only check the shape of the input (required, length, date format); every business rule is the
services' (services/indicators.py, services/targets.py), whose Chinese refusal the views put next to the
field it names or on top. Amounts stay text here so the services' money parser gives the message.
"""

from django import forms
from django.forms import formset_factory

from yikatong.core import regions as region_rules
from yikatong.core.models import Organization, OrgKind

from .models import GovLevel, IndicatorStatus, TargetCategory, TargetDirection

_REQUIRED = {"required": "此项为必填项。"}
_DATE_ERRORS = {"invalid": "日期格式应为 YYYY-MM-DD。", **_REQUIRED}
_YEAR_ERRORS = {"invalid": "请填写四位年份。", "min_value": "预算年度应在 2000 至 2100 之间。",
                "max_value": "预算年度应在 2000 至 2100 之间。", **_REQUIRED}

DEADLINE_CHOICES = [
    ("", "全部"), ("overdue", "已超期"), ("due_soon", "即将到期"), ("ok", "正常"), ("done", "已完成"),
    ("none", "无分配时限"),
]


def _date_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DateField:
    return forms.DateField(label=label, required=required, help_text=help_text, input_formats=["%Y-%m-%d"],
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                           error_messages=_DATE_ERRORS)


def _year_field(*, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(label="预算年度", required=required, min_value=2000, max_value=2100,
                              error_messages=_YEAR_ERRORS, widget=forms.NumberInput(attrs={"class": "short"}))


def _region_code(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return region_rules.normalize_code(value)
    except region_rules.RegionCodeError as exc:
        raise forms.ValidationError(str(exc)) from None


def policy_choices(policies, *, blank: str = "请选择") -> list[tuple[str, str]]:
    return [("", blank), *((p.code, f"{p.code} {p.name}") for p in policies)]


# -- filters -----------------------------------------------------------------------------------------
class IndicatorFilterForm(forms.Form):
    fiscal_year = _year_field(required=False)
    policy = forms.ChoiceField(label="补贴项目", required=False)
    region = forms.CharField(label="区划代码", max_length=12, required=False, help_text="6、9 或 12 位，含下级")
    source_level = forms.ChoiceField(label="资金来源层级", required=False, choices=[("", "全部"), *GovLevel.choices])
    status = forms.ChoiceField(label="状态", required=False, choices=[("", "全部"), *IndicatorStatus.choices])
    deadline = forms.ChoiceField(label="分配时限", required=False, choices=DEADLINE_CHOICES)

    def __init__(self, *args, policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = policy_choices(policies, blank="全部")

    def clean_region(self):
        return _region_code(self.cleaned_data.get("region"))

    def values(self) -> dict:
        """The valid filters (an invalid one is left out and shown with its error)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class YearFilterForm(forms.Form):
    """Filters of the progress, monitoring, warnings and targets pages: the year is always set."""

    fiscal_year = _year_field()
    policy = forms.ChoiceField(label="补贴项目", required=False)
    region = forms.CharField(label="区划代码", max_length=12, required=False, help_text="6、9 或 12 位")
    on = _date_field("截至日期", required=False, help_text="默认今天")

    def __init__(self, *args, policies=(), drop=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = policy_choices(policies, blank="全部")
        for name in drop:
            del self.fields[name]

    def clean_region(self):
        return _region_code(self.cleaned_data.get("region"))


# -- receive -----------------------------------------------------------------------------------------
class ReceiveForm(forms.Form):
    doc_no = forms.CharField(label="指标文号", max_length=100, error_messages=_REQUIRED,
                             help_text="如 财农〔2027〕1号")
    policy = forms.ChoiceField(label="补贴项目", error_messages=_REQUIRED)
    fiscal_year = _year_field()
    amount = forms.CharField(label="指标金额（元）", max_length=24, error_messages=_REQUIRED,
                             help_text="最多两位小数，如 1000000.00")
    received_on = _date_field("收到日期")
    source_level = forms.ChoiceField(label="资金来源层级", choices=[("", "请选择"), *GovLevel.choices],
                                     error_messages=_REQUIRED)
    central_document_date = _date_field("中央资金文件日期", required=False,
                                        help_text="中央资金填写（省级必填，起算15日、30日分配时限）")
    direct_to_county = forms.BooleanField(label="省级直接分配到县的资金", required=False)
    note = forms.CharField(label="说明", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = policy_choices(policies)


# -- allocate ----------------------------------------------------------------------------------------
def lower_finance(region_code: str):
    """Active finance bureaus strictly below `region_code`: where an indicator may be allocated to."""
    lo, hi = region_rules.subtree_range(region_code)
    return (Organization.objects.filter(kind=OrgKind.FINANCE, active=True, region_id__gte=lo, region_id__lte=hi)
            .exclude(region_id=region_code).select_related("region").order_by("region_id", "code"))


class AllocationPartForm(forms.Form):
    region = forms.ChoiceField(label="下级区划", error_messages=_REQUIRED)
    holder = forms.ChoiceField(label="下级财政部门", error_messages=_REQUIRED)
    amount = forms.CharField(label="金额（元）", max_length=24, error_messages=_REQUIRED,
                             widget=forms.TextInput(attrs={"class": "short", "inputmode": "decimal"}))
    doc_no = forms.CharField(label="下达文号", max_length=100, error_messages=_REQUIRED)
    direct_to_county = forms.BooleanField(label="直接分配到县", required=False)

    def __init__(self, *args, finance_orgs=(), **kwargs):
        super().__init__(*args, **kwargs)
        regions = {org.region_id: org.region for org in finance_orgs}
        self.fields["region"].choices = [("", "请选择"), *((code, f"{r.name} {code}") for code, r in regions.items())]
        self.fields["holder"].choices = [("", "请选择"),
                                         *((org.code, f"{org.name}（{org.code}）") for org in finance_orgs)]


class BaseAllocationFormSet(forms.BaseFormSet):
    def parts(self) -> list[dict]:
        """The filled rows as the service's parts, in order."""
        parts = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data:
                continue
            parts.append({"region_code": data["region"], "holder_code": data["holder"], "amount": data["amount"],
                          "doc_no": data["doc_no"], "direct_to_county": data.get("direct_to_county", False)})
        return parts


MAX_PARTS = 30


def allocation_formset(data=None, *, finance_orgs, rows: int = 3):
    """The parts formset: `rows` rows on a fresh page; a posted one keeps what was sent."""
    formset_class = formset_factory(AllocationPartForm, formset=BaseAllocationFormSet, extra=max(0, rows - 1),
                                    min_num=1, validate_min=True, max_num=MAX_PARTS, validate_max=True)
    return formset_class(data, prefix="parts", form_kwargs={"finance_orgs": list(finance_orgs)})


class AllocationForm(forms.Form):
    complete = forms.BooleanField(label="分配下达已完成（余额留本级使用）", required=False)
    note = forms.CharField(label="说明", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


# -- actions on one indicator -------------------------------------------------------------------------
class CompleteForm(forms.Form):
    note = forms.CharField(label="说明", required=False, max_length=500)


class CloseForm(forms.Form):
    reason = forms.CharField(label="关闭原因", max_length=500, error_messages={"required": "请填写关闭原因。"},
                             widget=forms.Textarea(attrs={"rows": 2}))


class ProposalForm(forms.Form):
    note = forms.CharField(label="分配建议方案说明", max_length=2000,
                           error_messages={"required": "请填写分配建议方案说明。"},
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="各下级区划拟分配金额及依据")


# -- performance targets ------------------------------------------------------------------------------
class TargetForm(forms.Form):
    policy = forms.ChoiceField(label="补贴项目", error_messages=_REQUIRED)
    fiscal_year = _year_field()
    category = forms.ChoiceField(label="指标类别", choices=[("", "请选择"), *TargetCategory.choices],
                                 error_messages=_REQUIRED)
    name = forms.CharField(label="指标名称", max_length=100, error_messages=_REQUIRED, help_text="如 发放人数")
    direction = forms.ChoiceField(label="方向", choices=TargetDirection.choices, initial=TargetDirection.AT_LEAST)
    target_value = forms.CharField(label="目标值", max_length=24, error_messages=_REQUIRED,
                                   widget=forms.TextInput(attrs={"class": "short", "inputmode": "decimal"}))
    unit = forms.CharField(label="计量单位", max_length=20, required=False,
                           widget=forms.TextInput(attrs={"class": "short"}))

    def __init__(self, *args, policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = policy_choices(policies)


class ActualForm(forms.Form):
    actual_value = forms.CharField(label="实际完成值", max_length=24, error_messages=_REQUIRED,
                                   widget=forms.TextInput(attrs={"class": "short", "inputmode": "decimal"}))
    note = forms.CharField(label="说明", max_length=500, required=False,
                           help_text="更正已评价的实际完成值时必填")

