"""Public notice pages (公示): the list with what is ready to publish, the publish form (village, policy,
period), one notice with its frozen entries, digest, PDF for the board, objections (record, resolve), and
closing, submitting to the department and the corrected round."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

from .. import selectors, services
from ..forms import NoticeFilterForm, ObjectionForm, PublishForm, RepublishForm, ResolveForm
from ..models import Objection, PublicNotice, Status
from ._common import (
    can,
    filter_query,
    not_found,
    page_of,
    policy_choices,
    scope_for,
    show_error,
    village_choices,
)


def ready_to_publish(scope: Scope) -> list[dict]:
    """Verified applications waiting for a notice, per village, policy and period."""
    if not can(scope, "notice.manage"):
        return []
    qs = selectors.applications_list(scope, status=Status.VERIFIED).order_by()
    groups = (qs.values("region_id", "region__name", "policy__code", "policy__name", "period")
              .annotate(n=Count("pk"), total=Sum("amount")).order_by("region_id", "policy__code", "period"))
    return list(groups[:100])


@login_required
def notice_list(request):
    scope = scope_for(request, "application.view")
    filters = NoticeFilterForm(request.GET or None, policy_choices=policy_choices(scope))
    try:
        qs = selectors.notices_list(scope, **filters.selector_args())
    except DomainError as exc:
        show_error(filters, exc, {"region_code": "region"})
        qs = PublicNotice.objects.none()
    context = {
        "title": "公示",
        "filters": filters,
        "page": page_of(request, qs),
        "filter_query": filter_query(request),
        "ready": ready_to_publish(scope),
        "to_close": list(selectors.notices_ready_to_close(scope)[:50]) if can(scope, "notice.manage") else [],
        "can_publish": can(scope, "notice.manage"),
    }
    return render(request, "applications/notices/list.html", context)


@login_required
def notice_publish(request):
    scope = scope_for(request, "application.view")
    scope.require_write("notice.manage")
    choices = {"village_choices": village_choices(scope), "policy_choices": policy_choices(scope)}
    status = 200
    if request.method == "POST":
        form = PublishForm(request.POST, **choices)
        if form.is_valid():
            try:
                notice = services.notice_publish(actor=scope, **form.cleaned_data)
            except DomainError as exc:
                status = show_error(form, exc)
            else:
                messages.success(request, f"已发布公示 {notice.number}：{notice.entry_count} 人，合计 {notice.total_amount} 元，"
                                          f"公示期 {notice.starts_on} 至 {notice.ends_on}。")
                return redirect("applications:notice-detail", pk=notice.pk)
        else:
            status = 400
    else:
        initial = {key: request.GET.get(key, "") for key in ("region_code", "policy_code", "period")}
        form = PublishForm(initial=initial, **choices)
    return render(request, "applications/notices/publish.html", {"title": "发布公示", "form": form}, status=status)


def _get(scope: Scope, pk) -> PublicNotice:
    try:
        return selectors.notice_get(scope, pk)
    except DomainError as exc:
        raise not_found(exc) from exc


def _entry_choices(entries) -> list[tuple[str, str]]:
    return [(str(e.application_id), f"{e.seq}. {e.name_masked}（{e.id_masked}）") for e in entries]


def _detail_context(scope: Scope, notice: PublicNotice, *, objection_form=None, resolve_forms=None,
                    republish_form=None) -> dict:
    entries = list(selectors.notice_entries(notice).select_related("application"))
    objections = list(selectors.notice_objections(scope, notice.pk).select_related("application"))
    manage = can(scope, "notice.manage")
    record = can(scope, "objection.record")
    is_open = notice.status == PublicNotice.Status.OPEN
    open_objections = [o for o in objections if o.status == Objection.Status.OPEN]
    pending_submit = sum(1 for e in entries if e.application.status == Status.IN_NOTICE)
    resolve_forms = resolve_forms or {}
    return {
        "title": f"公示 {notice.number}",
        "notice": notice,
        "entries": entries,
        "objections": objections,
        "resolve_forms": {o.pk: resolve_forms.get(o.pk) or ResolveForm(auto_id=f"resolve{o.pk}_%s")
                          for o in open_objections} if record else {},
        "objection_form": (objection_form or ObjectionForm(entry_choices=_entry_choices(entries)))
        if record and is_open else None,
        "republish_form": (republish_form or RepublishForm()) if manage and notice.status != "superseded" else None,
        "can_close": manage and is_open,
        "can_submit": (can(scope, "application.collect") and notice.status == PublicNotice.Status.CLOSED
                       and pending_submit > 0),
        "pending_submit": pending_submit,
        "successor": PublicNotice.objects.filter(previous=notice).first(),
        "open_objections": len(open_objections),
    }


@login_required
def notice_detail(request, pk: int):
    scope = scope_for(request, "application.view")
    notice = _get(scope, pk)
    return render(request, "applications/notices/detail.html", _detail_context(scope, notice))


def _flash(request, exc: DomainError):
    if isinstance(exc, ScopeError):
        raise exc
    messages.error(request, exc.message)


@login_required
@require_POST
def notice_close(request, pk: int):
    scope = scope_for(request, "application.view")
    notice = _get(scope, pk)
    try:
        notice = services.notice_close(actor=scope, notice_id=notice.pk)
    except DomainError as exc:
        _flash(request, exc)
    else:
        messages.success(request, f"公示 {notice.number} 已结束；可将名单报送主管部门。")
    return redirect("applications:notice-detail", pk=pk)


@login_required
@require_POST
def notice_submit(request, pk: int):
    scope = scope_for(request, "application.view")
    notice = _get(scope, pk)
    try:
        apps = services.applications_submit(actor=scope, notice_id=notice.pk)
    except DomainError as exc:
        _flash(request, exc)
    else:
        messages.success(request, f"已将公示 {notice.number} 的 {len(apps)} 件申报报送主管部门审核。")
    return redirect("applications:notice-detail", pk=pk)


@login_required
@require_POST
def notice_republish(request, pk: int):
    scope = scope_for(request, "application.view")
    notice = _get(scope, pk)
    form = RepublishForm(request.POST)
    if form.is_valid():
        try:
            new = services.notice_republish(actor=scope, notice_id=notice.pk, starts_on=form.cleaned_data["starts_on"])
        except DomainError as exc:
            _flash(request, exc)
        else:
            messages.success(request, f"已更正后重新公示：{new.number}（第 {new.round} 轮），原公示 {notice.number} 已作废。")
            return redirect("applications:notice-detail", pk=new.pk)
        return redirect("applications:notice-detail", pk=pk)
    return render(request, "applications/notices/detail.html",
                  _detail_context(scope, notice, republish_form=form), status=400)


@login_required
@require_POST
def objection_record(request, pk: int):
    scope = scope_for(request, "application.view")
    scope.require_write("objection.record")
    notice = _get(scope, pk)
    entries = list(selectors.notice_entries(notice))
    form = ObjectionForm(request.POST, entry_choices=_entry_choices(entries))
    status = 400
    if form.is_valid():
        try:
            services.objection_record(actor=scope, notice_id=notice.pk, **form.cleaned_data)
        except ScopeError:
            raise
        except DomainError as exc:
            status = show_error(form, exc)
        else:
            messages.success(request, "异议已登记，请调查核实后填写结论。")
            return redirect("applications:notice-detail", pk=pk)
    return render(request, "applications/notices/detail.html",
                  _detail_context(scope, notice, objection_form=form), status=status)


@login_required
@require_POST
def objection_resolve(request, pk: int, objection_id: int):
    scope = scope_for(request, "application.view")
    scope.require_write("objection.record")
    notice = _get(scope, pk)
    objection = selectors.notice_objections(scope, notice.pk).filter(pk=objection_id).first()
    if objection is None:
        raise not_found(DomainError(f"异议 {objection_id} 不在公示 {notice.number} 中。"))
    form = ResolveForm(request.POST, auto_id=f"resolve{objection.pk}_%s")
    status = 400
    if form.is_valid():
        try:
            objection = services.objection_resolve(actor=scope, objection_id=objection.pk, **form.service_args())
        except ScopeError:
            raise
        except DomainError as exc:
            status = show_error(form, exc, {"reject": "decision"})
            if objection.status != Objection.Status.OPEN:
                messages.error(request, exc.message)  # already resolved: its form is not on the page
        else:
            messages.success(request, f"异议已处理：{objection.get_status_display()}。")
            return redirect("applications:notice-detail", pk=pk)
    return render(request, "applications/notices/detail.html",
                  _detail_context(scope, notice, resolve_forms={objection.pk: form}), status=status)
