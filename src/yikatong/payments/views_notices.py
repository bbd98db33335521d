"""Pages of the notices to beneficiaries and the openness of results:

  /payments/sms/                      SMS messages (masked), counts per status, send queued now, retry failed
  /payments/slips/                    statement slips (明白条): one person or a whole village, as PDF
  /payments/publications/             results to publish (deadline badges, late ones flagged), publish
  /payments/direct-funds/             the direct-funds monitoring feed as CSV
  /payments/public/<batch number>/    a published batch's results, masked (no login)
"""


from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from yikatong.core import clock
from yikatong.core.errors import DomainError
from yikatong.core.masking import mask_name
from yikatong.core.scope import Scope
from yikatong.core.tabular import attachment_header, csv_streaming_response

from .models import PaymentBatch, ResultPublication, SmsMessage, SmsStatus
from .services import notices


def _scope(request, permission: str) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require(permission)
    return scope


@login_required
def sms_list(request):
    scope = _scope(request, "sms.view")
    qs = scope.filter(SmsMessage.objects.all(), region_field="region_id").order_by("-pk")
    status = request.GET.get("status", "")
    counts = dict(qs.values_list("status").annotate(n=Count("pk")).order_by())
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs.select_related("attempt"), 50).get_page(request.GET.get("page"))
    return render(request, "payments/sms_list.html", {
        "page": page, "status": status, "statuses": SmsStatus.choices,
        "counts": [(value, label, counts.get(value, 0)) for value, label in SmsStatus.choices]})


@login_required
@require_POST
def sms_send(request):
    scope = _scope(request, "sms.view")
    try:
        if request.POST.get("retry"):
            n = notices.sms_retry_failed(actor=scope)
            messages.success(request, f"已将 {n} 条发送失败的短信重新排队。")
        else:
            scope.require_write("sms.view")
            counts = notices.sms_dispatch(limit=5000)
            messages.success(request, f"发送完成：成功 {counts['sent']} 条，失败 {counts['failed']} 条，"
                                      f"无手机号 {counts['no_phone']} 条。")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("payments:sms")


class SlipForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100)
    quarter = forms.TypedChoiceField(label="季度", coerce=int, choices=[(q, f"第{q}季度") for q in (1, 2, 3, 4)])
    region_code = forms.CharField(label="村（社区）区划代码", max_length=12, required=False,
                                  help_text="批量打印该区划内本季度有到账记录的全部补贴对象的明白条。")
    beneficiary_id = forms.IntegerField(label="补贴对象编号", required=False,
                                        help_text="只打印一个人的明白条时填写（补贴对象页面可见）。")


@login_required
def slips(request):
    scope = _scope(request, "payment.view")
    today = clock.today()
    form = SlipForm(request.GET or None, initial={"year": today.year, "quarter": (today.month - 1) // 3 + 1})
    if request.GET and form.is_valid():
        data = form.cleaned_data
        try:
            if data["beneficiary_id"]:
                pdf = notices.statement_slip_pdf(actor=scope, beneficiary_id=data["beneficiary_id"],
                                                 year=data["year"], quarter=data["quarter"])
                name = f"明白条-{data['beneficiary_id']}-{data['year']}Q{data['quarter']}.pdf"
            elif data["region_code"]:
                pdf = notices.statement_slips_village_pdf(actor=scope, region_code=data["region_code"],
                                                          year=data["year"], quarter=data["quarter"])
                name = f"明白条-{data['region_code']}-{data['year']}Q{data['quarter']}.pdf"
            else:
                raise DomainError("请填写区划代码（批量）或补贴对象编号（单人）。", field="region_code")
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = attachment_header(name)
            return response
    return render(request, "payments/slips.html", {"form": form})


@login_required
def publications(request):
    scope = _scope(request, "payment.view")
    qs = scope.filter(ResultPublication.objects.select_related("batch", "batch__policy"),
                      region_field="batch__region_id", business_line_field="batch__business_line",
                      organization_field="batch__bank_id").order_by("is_public", "deadline")
    late = set(notices.publications_late(scope).values_list("pk", flat=True))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "payments/publications.html", {"page": page, "late": late, "today": clock.today()})


@login_required
@require_POST
def publish(request, batch_id: int):
    scope = _scope(request, "payment.view")
    try:
        pub = notices.result_publish(actor=scope, batch_id=batch_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        note = "（已超过公开期限，已记录为逾期公开）" if pub.published_on > pub.deadline else ""
        messages.success(request, f"批次 {pub.batch.number} 的发放结果已公开，共 {pub.entry_count} 条{note}。")
    return redirect("payments:publications")


class FeedForm(forms.Form):
    date_from = forms.DateField(label="支付日期起", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="支付日期止", widget=forms.DateInput(attrs={"type": "date"}))
    region_code = forms.CharField(label="区划代码", max_length=12, required=False)


@login_required
def direct_funds(request):
    scope = _scope(request, "payment.view")
    today = clock.today()
    form = FeedForm(request.GET or None, initial={"date_from": today.replace(day=1), "date_to": today})
    if request.GET and form.is_valid():
        data = form.cleaned_data
        if data["date_from"] > data["date_to"]:
            form.add_error("date_to", "截止日期不能早于起始日期。")
        else:
            try:
                rows = notices.direct_funds_rows(scope, date_from=data["date_from"], date_to=data["date_to"],
                                                 region_code=data["region_code"] or None)
                first = next(rows, None)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                def all_rows():
                    if first is not None:
                        yield first
                        yield from rows

                name = f"直达资金监控-{data['date_from']:%Y%m%d}-{data['date_to']:%Y%m%d}.csv"
                return csv_streaming_response(name, notices.DIRECT_FEED_HEADERS, all_rows())
    return render(request, "payments/direct_funds.html", {"form": form})


def public_results(request, number: str):
    """The public copy of a batch's results: masked names, village, amount, date — only once published."""
    batch = get_object_or_404(PaymentBatch.objects.select_related("policy", "region"), number=number)
    pub = ResultPublication.objects.filter(batch=batch, is_public=True).first()
    if pub is None:
        raise Http404("该批次的发放结果尚未公开。")
    rows = [(mask_name(name), village, amount, paid_on)
            for name, village, amount, paid_on in notices.publication_entries(batch)[:5000]]
    return render(request, "payments/public_results.html", {"batch": batch, "pub": pub, "rows": rows,
                                                            "more": pub.entry_count > len(rows)})


