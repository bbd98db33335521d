"""Pages of the ledgers, reconciliation and daily close (joined into /payments/ by payments.urls, namespace
`payments`).

  /payments/ledgers/                       general ledger (总账): per day and kind, per plan/batch; filters
  /payments/ledgers/detail/                detail ledger (明细账) with filters; ?export=csv|xlsx downloads it
  /payments/ledgers/plans/<id>/indicator/  the indicator ledger of one plan
  /payments/ledgers/finance/               finance's disbursement ledger per indicator and plan
  /payments/ledgers/reconcile/             reconciliation (county / plan / batch / date range), differences
                                           highlighted; POST document/ keeps the report (XLSX + PDF)
  /payments/ledgers/batches/<id>/clearing/ POST: the batch's clearing voucher (PDF)
  /payments/ledgers/close/                 daily close (日清) list and form (finance)
Thin: reads through selectors.ledgers, writes through services.ledgers / services.reconciliation.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

from .models import AttemptStatus
from .selectors import ledgers as sel
from .services import ledgers as svc
from .services.reconciliation import reconcile

PAGE_SIZE = 100


def scope_for(request) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require("payment.view")
    return scope


def can_write(scope: Scope, *perms: str) -> bool:
    return not scope.read_only and any(scope.can(p) for p in perms)


class LedgerFilter(forms.Form):
    region_code = forms.CharField(label="区划代码", required=False, max_length=12)
    plan_id = forms.TypedChoiceField(label="发放方案", required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(label="起始日期", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan_id"].choices = [("", "全部")] + sel.plan_choices(scope)

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class DetailFilter(LedgerFilter):
    status = forms.ChoiceField(label="结果", required=False,
                               choices=[("", "全部")] + [c for c in AttemptStatus.choices if c[0] != "withdrawn"])
    batch_id = forms.IntegerField(label="批次ID", required=False, widget=forms.HiddenInput)


def _bad_filter(form) -> bool:
    return form.is_bound and not form.is_valid()


@login_required
def ledger_general(request):
    scope = scope_for(request)
    form = LedgerFilter(request.GET or None, scope=scope)
    filters = form.filters()
    try:
        by_day = sel.general_ledger_by_day(scope, **filters)
        by_batch = sel.general_ledger_by_batch(scope, **filters)
    except DomainError as exc:
        form.add_error(None, exc.message)
        by_day, by_batch = [], []
    return render(request, "payments/ledger_general.html", {
        "title": "发放总账", "filters": form, "by_day": by_day, "by_batch": by_batch,
        "day_totals": sel.ledger_totals(by_day), "kinds": sel.KIND_LABELS.items()})


@login_required
def ledger_detail(request):
    scope = scope_for(request)
    form = DetailFilter(request.GET or None, scope=scope)
    filters = form.filters()
    export = request.GET.get("export")
    if export and not _bad_filter(form):
        try:
            return svc.detail_ledger_export(actor=scope, fmt=export, **filters)
        except DomainError as exc:
            form.add_error(None, exc.message)
    try:
        qs = sel.detail_ledger(scope, **filters)
    except DomainError as exc:
        form.add_error(None, exc.message)
        qs = sel.detail_ledger(scope).none()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("export", None)
    return render(request, "payments/ledger_detail.html", {
        "title": "发放明细账", "filters": form, "page": page, "rows": [sel.detail_row(r) for r in page],
        "query": query.urlencode()})


@login_required
def ledger_indicator(request, pk: int):
    scope = scope_for(request)
    try:
        ledger = sel.plan_indicator_ledger(scope, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    return render(request, "payments/ledger_indicator.html", {"title": "指标台账", **ledger})


@login_required
def ledger_finance(request):
    scope = scope_for(request)
    form = LedgerFilter(request.GET or None, scope=scope)
    try:
        rows = sel.disbursement_ledger(scope, region_code=form.filters().get("region_code"))
    except DomainError as exc:
        form.add_error(None, exc.message)
        rows = []
    return render(request, "payments/ledger_finance.html", {"title": "资金拨付台账", "filters": form, "rows": rows})


class ReconcileForm(LedgerFilter):
    batch_id = forms.IntegerField(label="批次ID", required=False, min_value=1)


@login_required
def ledger_reconcile(request):
    scope = scope_for(request)
    form = ReconcileForm(request.GET or None, scope=scope)
    report, status = None, 200
    if form.is_bound and form.is_valid():
        try:
            report = reconcile(actor=scope, **form.filters())
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 403 if isinstance(exc, ScopeError) else 400
    return render(request, "payments/ledger_reconcile.html", {
        "title": "清算对账", "filters": form, "report": report,
        "can_store": can_write(scope, "payment.close", "payment.plan"),
        "figure_keys": ("committed", "released", "unsent", "in_flight", "awaiting_return", "paid", "returned")},
        status=status)


@login_required
@require_POST
def ledger_reconcile_document(request):
    scope = scope_for(request)
    try:
        docs = svc.reconciliation_document(actor=scope, plan_id=request.POST.get("plan_id"),
                                           batch_id=request.POST.get("batch_id") or None)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("payments:ledger-reconcile"))
    messages.success(request, f"对账报告 {docs[0].number} 已生成（XLSX、PDF），可在发放方案的单据中下载。")
    return redirect(reverse("payments:plan-detail", args=[docs[0].plan_id]))


@login_required
@require_POST
def ledger_clearing(request, pk: int):
    scope = scope_for(request)
    try:
        doc = svc.clearing_voucher(actor=scope, batch_id=pk)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("payments:ledger-reconcile") + f"?batch_id={pk}")
    messages.success(request, f"清算凭证 {doc.number} 已生成。")
    return redirect(reverse("payments:plan-document", args=[doc.plan_id, doc.pk]))


class CloseForm(forms.Form):
    region_code = forms.CharField(label="县（区）区划代码", max_length=12)
    day = forms.DateField(label="日结日期", widget=forms.DateInput(attrs={"type": "date"}))


@login_required
def ledger_close(request):
    scope = scope_for(request)
    can_close = can_write(scope, "payment.close")
    form = CloseForm(request.POST or None, initial={"region_code": scope.region_code, "day": clock.today()})
    status = 200
    if request.method == "POST":
        if not can_close:
            raise ScopeError("无权执行此操作：日清由县级财政部门办理。", code="forbidden")
        if form.is_valid():
            try:
                close = svc.daily_close(actor=scope, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = 403 if isinstance(exc, ScopeError) else 400
            else:
                verdict = "平衡" if close.balanced else f"不平衡（差异 {len(close.differences)} 项）"
                messages.success(request, f"{close.day} 日结完成：{verdict}。")
                return redirect(reverse("payments:ledger-close"))
        else:
            status = 400
    return render(request, "payments/ledger_close.html", {
        "title": "日清", "form": form, "can_close": can_close, "closes": svc.daily_closes(scope),
        "kinds": sel.KIND_LABELS}, status=status)
