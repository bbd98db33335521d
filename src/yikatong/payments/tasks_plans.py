"""Background generation of a big plan's payment documents (the UI starts it and follows the job's page).

A plan of a million items has a million lines of 国库集中支付批量业务支付明细 (XLSX with full accounts, and its PDF):
longer than a web request may take. Plans above `YIKATONG_VOUCHER_SYNC_MAX_ITEMS` (default 20,000) payable items
are issued by this task; the service is the same (`plan_issue_vouchers`), one transaction.
"""

from django.conf import settings
from django.urls import reverse

from yikatong.core.jobs import job_create, job_enqueue, job_task
from yikatong.core.models import JobProgress, User
from yikatong.core.scope import Scope

from .models import DisbursementPlan
from .services.documents import plan_issue_vouchers, plan_vouchers_precheck

DEFAULT_SYNC_MAX_ITEMS = 20_000


def vouchers_in_background(plan: DisbursementPlan) -> bool:
    limit = getattr(settings, "YIKATONG_VOUCHER_SYNC_MAX_ITEMS", DEFAULT_SYNC_MAX_ITEMS)
    return plan.item_count > int(limit)


@job_task
def plan_vouchers_task(reporter, *, plan_id: int, user_id: int) -> dict:
    actor = Scope.for_user(User.objects.get(pk=user_id))
    docs = plan_issue_vouchers(actor=actor, plan_id=plan_id)
    return {"单据": "、".join(f"{d.get_kind_display()} {d.number}" for d in docs[::2]),
            "links": [{"label": "查看发放方案", "url": reverse("payments:plan-detail", args=[plan_id])}]}


def plan_vouchers_enqueue(*, actor: Scope, plan: DisbursementPlan) -> JobProgress:
    """Check now what can be checked without the documents (scope, mounted), then queue the generation."""
    plan_vouchers_precheck(actor=actor, plan_id=plan.pk)
    job = job_create(actor=actor, kind="payment.plan_vouchers", label=f"生成支付凭证：{plan.number}",
                     region_code=plan.region_id)
    return job_enqueue(plan_vouchers_task, job=job, plan_id=plan.pk, user_id=actor.user_id)
