"""Reads of bank result imports (回盘) and their stored lines, always scoped.

An import is visible where its kept file is (the region it was received in); a bank sees only its own imports.
"""

from django.db.models import Count, QuerySet

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from ..models import AttemptStatus, LineDisposition, PaymentAttempt, ResultImport, ResultLine
from ..services.common import count_and_sum


def result_imports_visible(scope: Scope) -> QuerySet[ResultImport]:
    scope.require("payment.view")
    qs = ResultImport.objects.select_related("bank", "file")
    return scope.filter(qs, region_field="file__region_id", organization_field="bank_id")


def result_import_get(scope: Scope, pk) -> ResultImport:
    try:
        ri = result_imports_visible(scope).filter(pk=pk).first()
    except (ValueError, TypeError):
        ri = None
    if ri is None:
        raise DomainError("该回盘导入不存在或不在您的管辖范围内。", code="not_found")
    return ri


def result_lines(ri: ResultImport, *, disposition: str = "", review: str = "") -> QuerySet[ResultLine]:
    qs = ResultLine.objects.filter(result_import=ri)
    if disposition in LineDisposition.values:
        qs = qs.filter(disposition=disposition)
    if review in ResultLine.Review.values:
        qs = qs.filter(review=review)
    return qs.order_by("line_no", "pk")


def result_import_summary(ri: ResultImport) -> dict:
    """Counts of one import: applied paid/failed (count, amount) and the stored lines per disposition."""
    attempts = PaymentAttempt.objects.filter(result_import_id=ri.pk)
    paid = count_and_sum(attempts.filter(status=AttemptStatus.PAID))
    failed = count_and_sum(attempts.filter(status=AttemptStatus.FAILED))
    by_disp = dict(ResultLine.objects.filter(result_import=ri).values_list("disposition")
                   .annotate(n=Count("pk")).values_list("disposition", "n"))
    open_lines = ResultLine.objects.filter(result_import=ri, review=ResultLine.Review.OPEN).count()
    return {
        "paid_count": paid[0], "paid_amount": paid[1], "failed_count": failed[0], "failed_amount": failed[1],
        "rejected": [(d.value, d.label, by_disp.get(d.value, 0)) for d in LineDisposition if by_disp.get(d.value)],
        "open_lines": open_lines,
    }
