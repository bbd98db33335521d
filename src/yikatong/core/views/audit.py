"""审计日志: the audit trail for administrators, supervisors and finance — list, detail, CSV export."""

import csv
import json
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from yikatong.core.errors import DomainError
from yikatong.core.models import AuditEvent
from yikatong.core.navigation import NavEntry, register
from yikatong.core.scope import Scope
from yikatong.core.selectors import audit as selectors
from yikatong.core.services.audit import audit_export_start

PAGE_SIZE = 50
EXPORT_PERMISSION = "export.data"
CSV_HEADERS = [
    "序号", "时间", "操作人", "操作人ID", "机构", "动作", "对象类型", "对象ID", "区划", "事由",
    "变更前", "变更后", "客户端地址", "哈希", "前序哈希",
]


def register_nav() -> None:
    register(NavEntry("监督", "审计日志", "core:audit", selectors.PERMISSION, order=800))


class AuditFilterForm(forms.Form):
    action = forms.CharField(label="动作", required=False, max_length=64,
                             help_text="动作名称或前缀，如 batch. 匹配所有批次动作")
    actor = forms.CharField(label="操作人", required=False, max_length=150, help_text="用户名")
    object_type = forms.CharField(label="对象类型", required=False, max_length=64)
    object_id = forms.CharField(label="对象ID", required=False, max_length=64)
    region = forms.CharField(label="区划代码", required=False, max_length=12)
    date_from = forms.DateField(label="起始日期", required=False, input_formats=["%Y-%m-%d"],
                                widget=forms.DateInput(attrs={"type": "date"}),
                                error_messages={"invalid": "起始日期格式应为 YYYY-MM-DD。"})
    date_to = forms.DateField(label="截止日期", required=False, input_formats=["%Y-%m-%d"],
                              widget=forms.DateInput(attrs={"type": "date"}),
                              error_messages={"invalid": "截止日期格式应为 YYYY-MM-DD。"})

    def filters(self) -> selectors.AuditFilters:
        """The selector's filters; raises DomainError when the input is invalid."""
        if not self.is_valid():
            for errors in self.errors.values():
                raise DomainError(errors[0])
        return selectors.AuditFilters(**self.cleaned_data)


def _scope(request) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require(selectors.PERMISSION)
    return scope


def _int_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@login_required
def audit_list(request):
    scope = _scope(request)
    form = AuditFilterForm(request.GET or None)
    error = ""
    page = None
    try:
        filters = form.filters() if request.GET else selectors.AuditFilters()
        page = selectors.event_page(
            scope, filters, before=_int_param(request, "before"), after=_int_param(request, "after"), size=PAGE_SIZE,
        )
    except DomainError as exc:
        error = exc.message
        filters = None
    query = urlencode(filters.as_dict()) if filters else ""
    head_seq, head_hash = selectors.current_head() if scope.can("audit.verify") else (None, "")
    context = {
        "title": "审计日志",
        "form": form,
        "error": error,
        "page": page,
        "query": query,
        "can_export": scope.can(EXPORT_PERMISSION) and not error,
        "scope_all": scope.role == "admin",
        "scope_region": request.user.organization.region if request.user.organization_id else None,
        "head_seq": head_seq,
        "head_hash": head_hash,
    }
    return render(request, "core/audit/list.html", context, status=400 if error else 200)


@login_required
def audit_detail(request, seq: int):
    scope = _scope(request)
    try:
        event = selectors.event_get(scope, seq)
    except AuditEvent.DoesNotExist as exc:
        raise Http404("审计事件不存在或不在您的管辖范围内。") from exc
    context = {
        "title": f"审计事件 #{event.seq}",
        "event": event,
        "changes": _changes(event.before, event.after),
        "before_text": _pretty(event.before),
        "after_text": _pretty(event.after),
    }
    return render(request, "core/audit/detail.html", context)


@login_required
def audit_export(request):
    scope = _scope(request)
    scope.require(EXPORT_PERMISSION)
    filters = AuditFilterForm(request.GET).filters()  # DomainError → readable 400 page
    upto_seq, rows = audit_export_start(actor=scope, filters=filters)  # audited before any row leaves
    events = selectors.iter_events(scope, filters, upto_seq=upto_seq)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response["X-Export-Rows"] = str(rows)
    return response


class _Echo:
    def write(self, value):
        return value


def _csv_lines(events):
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_HEADERS)  # BOM: Excel opens UTF-8 correctly
    for e in events:
        yield writer.writerow([
            e.seq, timezone.localtime(e.occurred_at).strftime("%Y-%m-%d %H:%M:%S"), _cell(e.actor_username),
            e.actor_id or "", e.organization_code, _cell(e.action), _cell(e.object_type), _cell(e.object_id),
            e.region_code, _cell(e.reason), _cell(_compact(e.before)), _cell(_compact(e.after)), e.client_ip,
            e.hash, e.prev_hash,
        ])


def _cell(value: str) -> str:
    """Neutralize spreadsheet formulas (=, +, -, @) in free text."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _compact(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _pretty(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2)


def _changes(before, after) -> list[dict]:
    """Top-level fields of before/after side by side, changed ones marked."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        return []
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    rows = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        rows.append({
            "field": key,
            "before": "" if key not in before else _compact(old),
            "after": "" if key not in after else _compact(new),
            "changed": key not in before or key not in after or old != new,
        })
    return rows
