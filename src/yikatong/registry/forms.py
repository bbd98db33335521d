"""Forms of the registry pages. They shape input and give the browser its hints (required, lengths,
patterns, data-check for static/registry/registry.js); every rule is checked again by the services,
whose DomainError is shown under the field it names (views.show_error)."""

from django import forms

from yikatong.core.errors import DomainError
from yikatong.core.identity import validate_credit_code, validate_mobile, validate_resident_id

from . import rules
from .models import AccountKind, BeneficiaryKind, CardStatus

REQUIRED = {"required": "此项为必填项。"}
ID_PATTERN = "[0-9]{17}[0-9Xx]"


def _attrs(**extra) -> dict:
    return {"autocomplete": "off", **extra}


def _checked(rule, value):
    """Run a pure rule on one field so that every field shows its own error at once (the service
    checks again); the original input is kept — the service normalizes it."""
    if not (value or "").strip():
        return value
    try:
        rule(value)
    except DomainError as exc:
        raise forms.ValidationError(exc.message, code=exc.code or "invalid") from exc
    return value


class PersonChecks:
    def clean_name(self):
        return _checked(rules.clean_person_name, self.cleaned_data.get("name"))

    def clean_id_number(self):
        return _checked(validate_resident_id, self.cleaned_data.get("id_number"))

    def clean_phone(self):
        return _checked(validate_mobile, self.cleaned_data.get("phone"))

    def clean_household_number(self):
        return _checked(rules.clean_household_number, self.cleaned_data.get("household_number"))


class RegionChoiceField(forms.ChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {**REQUIRED, "invalid_choice": "请从列表中选择本辖区的区划。"})
        super().__init__(**kwargs)


class BeneficiaryFilterForm(forms.Form):
    q = forms.CharField(label="姓名或证件号码", max_length=50, required=False,
                        help_text="姓名可模糊查询；证件号码须填写完整的 18 位")
    household = forms.CharField(label="户号", max_length=32, required=False)
    kind = forms.ChoiceField(label="类型", choices=[("", "全部"), *BeneficiaryKind.choices], required=False)
    region = forms.CharField(label="区划代码", max_length=12, required=False, help_text="含下级")

    def selector_args(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {"q": data.get("q", ""), "household": data.get("household", ""), "kind": data.get("kind", ""),
                "region_code": data.get("region", "")}


class PersonForm(PersonChecks, forms.Form):
    name = forms.CharField(label="姓名", max_length=50, error_messages=REQUIRED,
                           widget=forms.TextInput(attrs=_attrs(**{"data-check": "name"})),
                           help_text="与身份证一致；少数民族姓名用“·”分隔")
    id_number = forms.CharField(label="身份证号", max_length=22, error_messages=REQUIRED,
                                widget=forms.TextInput(attrs=_attrs(**{"data-check": "resident-id",
                                                                       "pattern": ID_PATTERN})),
                                help_text="18 位公民身份号码，末位可为 X")
    region_code = RegionChoiceField(label="户籍/住址区划")
    household_number = forms.CharField(label="户号", max_length=32, required=False,
                                       widget=forms.TextInput(attrs=_attrs()), help_text="户口簿上的户号，可不填")
    address = forms.CharField(label="地址", max_length=200, required=False)
    phone = forms.CharField(label="手机号码", max_length=20, required=False,
                            widget=forms.TextInput(attrs=_attrs(**{"data-check": "mobile", "inputmode": "tel"})),
                            help_text="11 位手机号码，用于发放短信提醒")

    def __init__(self, *args, region_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region_code"].choices = [("", "请选择"), *region_choices]


class OrganizationForm(forms.Form):
    name = forms.CharField(label="单位名称", max_length=100, error_messages=REQUIRED)
    credit_code = forms.CharField(label="统一社会信用代码", max_length=22, error_messages=REQUIRED,
                                  widget=forms.TextInput(attrs=_attrs(**{"data-check": "credit-code"})),
                                  help_text="18 位，见营业执照或登记证书")
    region_code = RegionChoiceField(label="所在区划")
    address = forms.CharField(label="地址", max_length=200, required=False)

    def __init__(self, *args, region_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region_code"].choices = [("", "请选择"), *region_choices]

    def clean_credit_code(self):
        return _checked(validate_credit_code, self.cleaned_data.get("credit_code"))

    def clean_name(self):
        return _checked(rules.clean_org_name, self.cleaned_data.get("name"))


class BeneficiaryEditForm(forms.Form):
    """Name rules differ for persons and organizations: the service checks the name."""

    name = forms.CharField(label="姓名/单位名称", max_length=100, error_messages=REQUIRED)
    region_code = RegionChoiceField(label="区划")
    household_number = forms.CharField(label="户号", max_length=32, required=False)
    address = forms.CharField(label="地址", max_length=200, required=False)
    phone = forms.CharField(label="手机号码", max_length=20, required=False,
                            widget=forms.TextInput(attrs=_attrs(**{"data-check": "mobile", "inputmode": "tel"})),
                            help_text="留空表示不修改")
    clear_phone = forms.BooleanField(label="清除已登记的手机号码", required=False)
    reason = forms.CharField(label="修改原因", max_length=200, required=False,
                             help_text="更正姓名或变更区划时必须填写")

    def __init__(self, *args, region_choices=(), is_person=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region_code"].choices = [("", "请选择"), *region_choices]
        if not is_person:
            del self.fields["household_number"]
            del self.fields["phone"]
            del self.fields["clear_phone"]

    def clean_phone(self):
        return _checked(validate_mobile, self.cleaned_data.get("phone"))

    def clean_household_number(self):
        return _checked(rules.clean_household_number, self.cleaned_data.get("household_number"))


class AccountForm(forms.Form):
    kind = forms.ChoiceField(label="账户类型", error_messages=REQUIRED,
                             widget=forms.Select(attrs={"data-account-kind": "1"}))
    bank_name = forms.CharField(label="开户银行", max_length=100, error_messages=REQUIRED,
                                help_text="如：重庆农村商业银行万州分行")
    account_number = forms.CharField(label="银行账号", max_length=40, error_messages=REQUIRED,
                                     widget=forms.TextInput(attrs=_attrs(**{"data-check": "bank-account",
                                                                            "inputmode": "numeric"})),
                                     help_text="可用空格分组；社保卡（62 开头）会校验末位")
    card_status = forms.ChoiceField(label="金融功能状态", required=False,
                                    choices=[("", "未核验"), *[(v, label) for v, label in CardStatus.choices
                                                             if v != CardStatus.UNKNOWN]],
                                    widget=forms.Select(attrs={"data-card-status": "1"}),
                                    help_text="仅社会保障卡填写")
    exception_reason = forms.CharField(label="过渡期例外原因", max_length=200, required=False,
                                       help_text="使用非社保卡账户时必须填写")
    reason = forms.CharField(label="变更原因", max_length=200, required=False, help_text="更换已有账户时必须填写")

    def __init__(self, *args, beneficiary_kind=BeneficiaryKind.PERSON, **kwargs):
        super().__init__(*args, **kwargs)
        if beneficiary_kind == BeneficiaryKind.ORGANIZATION:
            self.fields["kind"].choices = [(AccountKind.CORPORATE, AccountKind.CORPORATE.label)]
            del self.fields["card_status"]
            del self.fields["exception_reason"]
        else:
            self.fields["kind"].choices = [(k, label) for k, label in AccountKind.choices if k != AccountKind.CORPORATE]


class RevealForm(forms.Form):
    field = forms.ChoiceField(label="查看项目", choices=[("id_number", "证件号码"), ("phone", "手机号码"),
                                                       ("account", "收款账号")], error_messages=REQUIRED)
    account_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(label="查看事由", max_length=200,
                             error_messages={"required": "请填写查看完整信息的事由。"},
                             help_text="如：核对发放失败原因；每次查看都会记入审计日志")


class CardStatusForm(forms.Form):
    status = forms.ChoiceField(label="金融功能状态", choices=[(v, label) for v, label in CardStatus.choices
                                                          if v != CardStatus.UNKNOWN], error_messages=REQUIRED)
    source = forms.CharField(label="状态来源", max_length=200, required=False, help_text="如：社保卡管理系统查询")
