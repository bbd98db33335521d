"""Forms of the collection and approval pages and of the citizen's online application. They shape input
and give the browser its hints (required, patterns, data-check for static/registry/registry.js); every rule
is checked again by the services, whose DomainError is shown under the field it names (views._common)."""

from django import forms

from yikatong.core.errors import DomainError
from yikatong.core.identity import validate_bank_account, validate_mobile, validate_resident_id

from . import rules
from .models import Channel, Status

REQUIRED = {"required": "此项为必填项。"}
ID_PATTERN = "[0-9]{17}[0-9Xx]"
PERIOD_HELP = "2026（年度）、2026Q1（季度）或 2026-03（月份），须与补贴项目的发放周期一致"


def _attrs(**extra) -> dict:
    return {"autocomplete": "off", **extra}


def _checked(rule, value):
    """Run a pure rule on one field so that each field shows its own error at once (the service checks
    again); the original input is kept — the service normalizes it."""
    if not (value or "").strip():
        return value
    try:
        rule(value)
    except DomainError as exc:
        raise forms.ValidationError(exc.message, code=exc.code or "invalid") from exc
    return value


def _choices(pairs, empty: str = "全部"):
    return [("", empty), *pairs]


# -- lists -----------------------------------------------------------------------------------------------
class ApplicationFilterForm(forms.Form):
    status = forms.ChoiceField(label="状态", choices=_choices(Status.choices), required=False)
    policy = forms.ChoiceField(label="补贴项目", choices=[("", "全部")], required=False)
    period = forms.CharField(label="补贴期间", max_length=7, required=False,
                             widget=forms.TextInput(attrs={"placeholder": "2026-03", "size": 8}))
    region = forms.CharField(label="区划代码", max_length=12, required=False, help_text="含下级",
                             widget=forms.TextInput(attrs={"size": 13}))
    channel = forms.ChoiceField(label="来源", choices=_choices(Channel.choices), required=False)
    overdue = forms.BooleanField(label="只看已超期", required=False)

    def __init__(self, *args, policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = _choices(policy_choices)

    def selector_args(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {"status": data.get("status", ""), "policy_code": data.get("policy", ""),
                "period": data.get("period", ""), "region_code": data.get("region", ""),
                "channel": data.get("channel", "")}

    @property
    def overdue_only(self) -> bool:
        return bool(self.is_valid() and self.cleaned_data.get("overdue"))


BATCH_ACTIONS = {
    "verify": ("入户核实通过", "application.collect"),
    "return": ("退回修改", ""),
    "withdraw": ("撤回", "application.collect"),
    "approve": ("审核通过", "application.approve"),
    "reject": ("审核不通过", "application.approve"),
}
REASON_ACTIONS = {"return", "withdraw", "reject"}


class BatchForm(forms.Form):
    action = forms.ChoiceField(label="批量操作", choices=[(k, v[0]) for k, v in BATCH_ACTIONS.items()],
                               error_messages={**REQUIRED, "invalid_choice": "请选择批量操作。"})
    ids = forms.TypedMultipleChoiceField(coerce=int, error_messages={"required": "请先勾选要办理的申报。"})
    reason = forms.CharField(label="原因", max_length=500, required=False,
                             help_text="退回、撤回、审核不通过时必填，将告知申请人")
    note = forms.CharField(label="核实/审核意见", max_length=500, required=False,
                           help_text="抽查对象审核通过时须填写实地抽查核实情况")
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ids = self.data.getlist("ids") if hasattr(self.data, "getlist") else self.data.get("ids", [])
        # Any id may be submitted; scope and state are checked per item by the services.
        self.fields["ids"].choices = [(i, i) for i in ids if str(i).isdigit()]

    def clean(self):
        data = super().clean()
        if data.get("action") in REASON_ACTIONS and not (data.get("reason") or "").strip():
            self.add_error("reason", "请填写原因（将告知申请人）。")
        return data


# -- one application ---------------------------------------------------------------------------------------
class ReasonForm(forms.Form):
    reason = forms.CharField(label="原因", max_length=500, error_messages={"required": "请填写原因（将告知申请人）。"},
                             widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    note = forms.CharField(label="意见", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CorrectForm(forms.Form):
    amount = forms.CharField(label="补贴金额（元）", max_length=20, required=False,
                             help_text="留空为按补贴标准计算")
    quantity = forms.CharField(label="补贴数量", max_length=20, required=False)
    tier = forms.CharField(label="补贴档次", max_length=30, required=False)
    remarks = forms.CharField(label="备注", max_length=200, required=False)
    reason = forms.CharField(label="更正原因", max_length=200, error_messages={"required": "请填写更正原因。"})


class EntryForm(forms.Form):
    """The typed application (经办录入): the person by ID number (registered on the fly when unknown), the
    policy, period and amount. Fields of a new person are only needed when the ID is not yet registered."""

    id_number = forms.CharField(label="身份证号", max_length=22, error_messages=REQUIRED,
                                widget=forms.TextInput(attrs=_attrs(**{"data-check": "resident-id",
                                                                       "pattern": ID_PATTERN})),
                                help_text="18 位公民身份号码；已登记的补贴对象自动带出信息")
    name = forms.CharField(label="姓名", max_length=50, required=False,
                           widget=forms.TextInput(attrs=_attrs(**{"data-check": "name"})))
    region_code = forms.ChoiceField(label="户籍/住址区划", required=False,
                                    error_messages={"invalid_choice": "请从列表中选择本辖区的区划。"})
    phone = forms.CharField(label="手机号码", max_length=20, required=False,
                            widget=forms.TextInput(attrs=_attrs(**{"data-check": "mobile", "inputmode": "tel"})))
    bank_name = forms.CharField(label="开户银行", max_length=100, required=False,
                                help_text="社会保障卡的发卡银行，如：重庆农村商业银行")
    account_number = forms.CharField(label="社保卡银行账号", max_length=40, required=False,
                                     widget=forms.TextInput(attrs=_attrs(**{"data-check": "bank-account",
                                                                            "inputmode": "numeric"})))
    policy_code = forms.ChoiceField(label="补贴项目", error_messages={**REQUIRED, "invalid_choice": "请选择补贴项目。"})
    period = forms.CharField(label="补贴期间", max_length=7, error_messages=REQUIRED, help_text=PERIOD_HELP,
                             widget=forms.TextInput(attrs=_attrs(placeholder="2026-03")))
    quantity = forms.CharField(label="补贴数量", max_length=20, required=False,
                               help_text="按单位计算的补贴（如亩数）必填",
                               widget=forms.TextInput(attrs=_attrs(inputmode="decimal")))
    tier = forms.CharField(label="补贴档次", max_length=30, required=False, help_text="分档补贴填写档次代码")
    amount = forms.CharField(label="补贴金额（元）", max_length=20, required=False,
                             help_text="留空为补贴标准；不能超过标准上限",
                             widget=forms.TextInput(attrs=_attrs(inputmode="decimal")))
    remarks = forms.CharField(label="备注", max_length=200, required=False)

    PERSON_FIELDS = ("name", "region_code", "phone", "bank_name", "account_number")

    def __init__(self, *args, region_choices=(), policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region_code"].choices = [("", "请选择"), *region_choices]
        self.fields["policy_code"].choices = [("", "请选择"), *policy_choices]

    def clean_id_number(self):
        return _checked(validate_resident_id, self.cleaned_data.get("id_number"))

    def clean_phone(self):
        return _checked(validate_mobile, self.cleaned_data.get("phone"))

    def clean_account_number(self):
        return _checked(validate_bank_account, self.cleaned_data.get("account_number"))

    def person_fields(self):
        return [self[name] for name in self.PERSON_FIELDS]

    def application_fields(self):
        return [self[name] for name in self.fields if name not in self.PERSON_FIELDS and name != "id_number"]


# -- notices -----------------------------------------------------------------------------------------------
class NoticeFilterForm(forms.Form):
    status = forms.ChoiceField(label="状态", required=False,
                               choices=_choices([("open", "公示中"), ("closed", "公示期满"), ("superseded", "已更正重新公示")]))
    policy = forms.ChoiceField(label="补贴项目", choices=[("", "全部")], required=False)
    period = forms.CharField(label="补贴期间", max_length=7, required=False, widget=forms.TextInput(attrs={"size": 8}))
    region = forms.CharField(label="区划代码", max_length=12, required=False, widget=forms.TextInput(attrs={"size": 13}))

    def __init__(self, *args, policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = _choices(policy_choices)

    def selector_args(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {"status": data.get("status", ""), "policy_code": data.get("policy", ""),
                "period": data.get("period", ""), "region_code": data.get("region", "")}


class PublishForm(forms.Form):
    region_code = forms.ChoiceField(label="公示村（社区）", error_messages={**REQUIRED, "invalid_choice": "请选择本辖区的村（社区）。"})
    policy_code = forms.ChoiceField(label="补贴项目", error_messages={**REQUIRED, "invalid_choice": "请选择补贴项目。"})
    period = forms.CharField(label="补贴期间", max_length=7, error_messages=REQUIRED, help_text=PERIOD_HELP)
    starts_on = forms.DateField(label="公示开始日期", required=False, help_text="留空为今天",
                                widget=forms.DateInput(attrs={"type": "date"}),
                                error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"})

    def __init__(self, *args, village_choices=(), policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region_code"].choices = [("", "请选择"), *village_choices]
        self.fields["policy_code"].choices = [("", "请选择"), *policy_choices]


class RepublishForm(forms.Form):
    starts_on = forms.DateField(label="新一轮公示开始日期", required=False, help_text="留空为今天",
                                widget=forms.DateInput(attrs={"type": "date"}),
                                error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"})


class ObjectionForm(forms.Form):
    application_id = forms.ChoiceField(label="异议对象", required=False,
                                       error_messages={"invalid_choice": "请选择公示名单中的对象。"})
    filed_by = forms.CharField(label="异议人", max_length=50, required=False, help_text="可匿名，留空")
    contact = forms.CharField(label="联系方式", max_length=50, required=False)
    content = forms.CharField(label="异议内容", max_length=2000, error_messages={"required": "请填写异议内容。"},
                              widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, entry_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application_id"].choices = [("", "针对整个公示"), *entry_choices]


RESOLVE_CHOICES = [
    ("dismiss", "异议不成立"),
    ("uphold_return", "异议成立：退回更正后重新公示"),
    ("uphold_reject", "异议成立：不予补贴"),
]


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(label="调查结论", choices=RESOLVE_CHOICES, widget=forms.RadioSelect,
                                 error_messages={**REQUIRED, "invalid_choice": "请选择调查结论。"})
    finding = forms.CharField(label="调查情况", max_length=2000, error_messages={"required": "请填写调查结论。"},
                              widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="不予补贴时，此内容即告知申请人的原因")

    def service_args(self) -> dict:
        decision = self.cleaned_data["decision"]
        return {"upheld": decision != "dismiss", "reject": decision == "uphold_reject",
                "finding": self.cleaned_data["finding"]}


# -- rosters ----------------------------------------------------------------------------------------------
class RosterUploadForm(forms.Form):
    policy_code = forms.ChoiceField(label="补贴项目", error_messages={**REQUIRED, "invalid_choice": "请选择补贴项目。"})
    period = forms.CharField(label="补贴期间", max_length=7, error_messages=REQUIRED, help_text=PERIOD_HELP)
    file = forms.FileField(label="花名册文件", error_messages={"required": "请选择花名册文件（XLSX 或 CSV）。",
                                                          "empty": "上传的文件是空的，请重新选择。"},
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
                           help_text="XLSX 或 UTF-8 CSV，第一行为表头（姓名、身份证号、社保卡银行账号、开户银行、手机号码、"
                                     "行政区划代码、补贴项目编码、补贴期间、补贴数量、补贴金额、备注）")

    def __init__(self, *args, policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy_code"].choices = [("", "请选择"), *policy_choices]


# -- approval ---------------------------------------------------------------------------------------------
class ApprovalFilterForm(forms.Form):
    policy = forms.ChoiceField(label="补贴项目", choices=[("", "全部")], required=False)
    period = forms.CharField(label="补贴期间", max_length=7, required=False, widget=forms.TextInput(attrs={"size": 8}))
    region = forms.CharField(label="区划代码", max_length=12, required=False, widget=forms.TextInput(attrs={"size": 13}))
    sampled = forms.ChoiceField(label="抽查", required=False, choices=[("", "全部"), ("1", "抽查对象"), ("0", "非抽查")])

    def __init__(self, *args, policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = _choices(policy_choices)

    def selector_args(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        sampled = data.get("sampled", "")
        return {"policy_code": data.get("policy", ""), "period": data.get("period", ""),
                "region_code": data.get("region", ""), "sampled": None if sampled == "" else sampled == "1"}


class SampleForm(forms.Form):
    policy_code = forms.ChoiceField(label="补贴项目", error_messages={**REQUIRED, "invalid_choice": "请选择补贴项目。"})
    period = forms.CharField(label="补贴期间", max_length=7, error_messages=REQUIRED)
    region_code = forms.CharField(label="区划代码", max_length=12, error_messages=REQUIRED, help_text="含下级")
    ratio = forms.CharField(label="抽查比例", max_length=10, initial="10%", error_messages=REQUIRED,
                            help_text="如 10% 或 0.1")
    seed = forms.CharField(label="随机种子", max_length=100, required=False,
                           help_text="留空为“项目|期间|区划”；相同种子抽取结果相同，便于复核")

    def __init__(self, *args, policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy_code"].choices = [("", "请选择"), *policy_choices]


# -- register ---------------------------------------------------------------------------------------------
class RegisterForm(forms.Form):
    township_code = forms.ChoiceField(label="乡镇（街道）", error_messages={**REQUIRED, "invalid_choice": "请选择本辖区的乡镇（街道）。"})
    policy_code = forms.ChoiceField(label="补贴项目", error_messages={**REQUIRED, "invalid_choice": "请选择补贴项目。"})
    period = forms.CharField(label="补贴期间", max_length=7, error_messages=REQUIRED, help_text=PERIOD_HELP)

    def __init__(self, *args, township_choices=(), policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["township_code"].choices = [("", "请选择"), *township_choices]
        self.fields["policy_code"].choices = [("", "请选择"), *policy_choices]

    def clean_period(self):
        period = rules.normalize_period(self.cleaned_data.get("period"))
        _checked(rules.parse_period, period)
        return period


# -- online application (public) --------------------------------------------------------------------------
class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


class CaptchaField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "验证码")
        kwargs.setdefault("max_length", 6)
        kwargs.setdefault("error_messages", {"required": "请填写验证码（计算结果）。"})
        kwargs.setdefault("widget", forms.TextInput(attrs=_attrs(inputmode="numeric", size=6)))
        super().__init__(**kwargs)


class OnlineApplicationForm(forms.Form):
    name = forms.CharField(label="姓名", max_length=50, error_messages=REQUIRED,
                           widget=forms.TextInput(attrs=_attrs(**{"data-check": "name"})),
                           help_text="与身份证一致")
    id_number = forms.CharField(label="身份证号", max_length=22, error_messages=REQUIRED,
                                widget=forms.TextInput(attrs=_attrs(**{"data-check": "resident-id",
                                                                       "pattern": ID_PATTERN})))
    phone = forms.CharField(label="手机号码", max_length=20, error_messages=REQUIRED,
                            widget=forms.TextInput(attrs=_attrs(**{"data-check": "mobile", "inputmode": "tel"})),
                            help_text="用于接收办理结果和补贴到账短信")
    region_code = forms.ChoiceField(label="所在村（社区）", error_messages={**REQUIRED, "invalid_choice": "请从列表中选择。"})
    address = forms.CharField(label="详细地址", max_length=200, required=False)
    bank_name = forms.CharField(label="社保卡开户银行", max_length=100, error_messages=REQUIRED,
                                help_text="见社会保障卡背面，如：重庆农村商业银行")
    account_number = forms.CharField(label="社保卡银行账号", max_length=40, error_messages=REQUIRED,
                                     widget=forms.TextInput(attrs=_attrs(**{"data-check": "bank-account",
                                                                            "inputmode": "numeric"})),
                                     help_text="补贴发放到本人社会保障卡银行账户")
    period = forms.CharField(label="补贴期间", max_length=7, error_messages=REQUIRED, help_text=PERIOD_HELP)
    quantity = forms.CharField(label="补贴数量", max_length=20, required=False)
    tier = forms.ChoiceField(label="补贴档次", required=False)
    documents = MultipleFileField(label="申请材料", required=False,
                                  help_text="身份证、户口簿等照片或扫描件，PDF/JPG/PNG，最多 5 个，每个不超过 10 MB")
    captcha = CaptchaField()

    def __init__(self, *args, policy=None, village_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region_code"].choices = [("", "请选择"), *village_choices]
        if policy is not None:
            if policy.standard_type == "per_unit":
                unit = policy.unit_name or "单位"
                self.fields["quantity"].required = True
                self.fields["quantity"].error_messages["required"] = f"请填写补贴数量（{unit}数）。"
                self.fields["quantity"].label = f"补贴数量（{unit}）"
            else:
                del self.fields["quantity"]
            if policy.standard_type == "tiered":
                self.fields["tier"].choices = [("", "请选择"), *[(t["code"], t["label"]) for t in policy.tiers or []]]
                self.fields["tier"].required = True
                self.fields["tier"].error_messages["required"] = "请选择补贴档次。"
            else:
                del self.fields["tier"]

    def clean_id_number(self):
        return _checked(validate_resident_id, self.cleaned_data.get("id_number"))

    def clean_phone(self):
        return _checked(validate_mobile, self.cleaned_data.get("phone"))

    def clean_account_number(self):
        return _checked(lambda v: validate_bank_account(v, require_luhn=True), self.cleaned_data.get("account_number"))


class StatusQueryForm(forms.Form):
    number = forms.CharField(label="申报编号", max_length=32, error_messages={"required": "请填写申报编号（查询号）。"},
                             widget=forms.TextInput(attrs=_attrs(placeholder="SB2026…")))
    id_number = forms.CharField(label="身份证号", max_length=22, error_messages=REQUIRED,
                                widget=forms.TextInput(attrs=_attrs(**{"data-check": "resident-id"})))
    captcha = CaptchaField()
