"""Forms of the disbursement plan pages (labels in Chinese; the services validate again)."""

from django import forms

from yikatong.core import clock
from yikatong.core.money import format_yuan

from .models import PlanStatus


class PlanFilterForm(forms.Form):
    status = forms.ChoiceField(label="状态", required=False, choices=[("", "全部"), *PlanStatus.choices])
    policy = forms.ChoiceField(label="补贴项目", required=False)
    period = forms.CharField(label="补贴期间", required=False, max_length=7,
                             widget=forms.TextInput(attrs={"placeholder": "2026-03"}))
    q = forms.CharField(label="方案编号/名称", required=False, max_length=60)

    def __init__(self, *args, policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = [("", "全部"), *((p.code, f"{p.code} {p.name}") for p in policies)]

    def values(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class BuildForm(forms.Form):
    policy = forms.ChoiceField(label="补贴项目")
    period = forms.CharField(label="补贴期间", max_length=7, help_text="如 2026-03（月）、2026Q1（季）、2026（年）")
    bank = forms.ChoiceField(label="代发银行")
    title = forms.CharField(label="方案名称", required=False, max_length=200, help_text="不填则按项目和期间自动命名")

    def __init__(self, *args, policies=(), banks=(), **kwargs):
        kwargs.setdefault("initial", {"period": clock.today().strftime("%Y-%m")})
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = [(p.code, f"{p.code} {p.name}") for p in policies]
        self.fields["bank"].choices = [(b.code, b.name) for b in banks]


class NoteForm(forms.Form):
    note = forms.CharField(label="意见", required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label="原因", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": "请填写原因。"})


class MountForm(forms.Form):
    indicator = forms.TypedChoiceField(label="预算指标", coerce=int, error_messages={
        "required": "请选择要挂接的预算指标。", "invalid_choice": "请选择列表中的预算指标。"})

    def __init__(self, *args, indicators=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = [
            (i.pk, f"{i.doc_no}（{i.holder.name}，可用余额 {format_yuan(i.available)} 元）") for i in indicators]
