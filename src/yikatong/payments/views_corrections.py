"""The failed-items work list (发放失败待更正) of the department and the collector (joined into /payments/).

  /payments/corrections/              failed (or corrected / held) items with reason and deadline badge;
                                      bulk: refresh from the current account (更正), hold, release, remove
  /payments/corrections/<id>/         one item's history and the correction form (new account, bank, payee name)
Thin: reads through selectors.corrections, writes through services.corrections.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

from .models import ItemStatus
from .selectors import corrections as sel
from .services import corrections as svc

BADGES = {"overdue": ("badge-danger", "已逾期"), "due_soon": ("badge-warn", "即将到期"), "ok": ("badge-info", "期限内")}
BULK_ACTIONS = {"correct": ("按现有账户更正", svc.items_correct, "payment.correct"),
                "hold": ("暂缓发放", svc.items_hold, "payment.plan"),
                "unhold": ("恢复发放", svc.items_unhold, "payment.plan"),
                "remove": ("剔除", svc.items_remove, "payment.plan")}
LIST_LIMIT = 500


def scope_for(request) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require("payment.view")
    return scope


def _can(scope: Scope, permission: str) -> bool:
    return scope.can(permission) and not scope.read_only


class CorrectionForm(forms.Form):
    reason = forms.CharField(label="更正原因", max_length=300, widget=forms.TextInput(attrs={"size": 50}))
    account_number = forms.CharField(label="新银行账号（不更换账户可不填）", required=False, max_length=40)
    bank_name = forms.CharField(label="开户银行（更换账户时填写）", required=False, max_length=100)
    payee_name = forms.CharField(label="收款人姓名（与银行户名不一致时更正）", required=False, max_length=100)


@login_required
def correction_list(request):
    scope = scope_for(request)
    status = request.GET.get("status") or ItemStatus.FAILED
    overdue = request.GET.get("overdue") == "1"
    rows = sel.failed_items(scope, status=status, overdue=overdue, limit=LIST_LIMIT)
    for r in rows:
        r["badge"] = BADGES.get(r["deadline_state"])
    actions = [(k, label) for k, (label, _fn, perm) in BULK_ACTIONS.items() if _can(scope, perm)]
    return render(request, "payments/correction_list.html", {
        "title": "发放失败更正", "rows": rows, "status": status, "overdue": overdue, "actions": actions,
        "statuses": [(s, ItemStatus(s).label) for s in sel.WORKLIST_STATUSES],
        "overdue_count": sel.overdue_corrections(scope).count(), "limit": LIST_LIMIT,
        "bulk": request.session.pop("correction_bulk", None)})


@login_required
@require_POST
def correction_bulk(request):
    scope = scope_for(request)
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        messages.error(request, "请选择批量处理方式。")
        return redirect(reverse("payments:correction-list"))
    label, fn, _perm = BULK_ACTIONS[action]
    ids = request.POST.getlist("ids")
    try:
        results = fn(actor=scope, item_ids=ids, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("payments:correction-list"))
    request.session["correction_bulk"] = {
        "action": label, "done": sum(r.ok for r in results), "refused": sum(not r.ok for r in results),
        "items": [r.as_dict() for r in results]}
    return redirect(reverse("payments:correction-list"))


@login_required
def correction_detail(request, pk: int):
    scope = scope_for(request)
    history = sel.item_history(scope, pk)
    if history is None:
        raise Http404("发放明细不存在或不在您的管辖范围内。")
    can_correct = _can(scope, "payment.correct") and history["item"].status in (ItemStatus.FAILED,
                                                                                 ItemStatus.CORRECTED)
    form = CorrectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_correct:
            raise ScopeError("无权更正该发放明细，或该明细不是发放失败状态。", code="forbidden")
        if form.is_valid():
            try:
                svc.item_correct(actor=scope, item_id=pk, **form.cleaned_data)
            except DomainError as exc:
                field = exc.field if exc.field in form.fields else None
                form.add_error(field, exc.message)
                status = 403 if isinstance(exc, ScopeError) else 400
            else:
                messages.success(request, "已更正，待生成补发批次。")
                return redirect(reverse("payments:correction-detail", args=[pk]))
        else:
            status = 400
    return render(request, "payments/correction_detail.html", {
        "title": "更正发放明细", **history, "form": form, "can_correct": can_correct}, status=status)
