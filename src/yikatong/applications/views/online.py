"""The citizen's online application (网上申请, no login): choose a policy open online, fill in the form with
documents, get a tracking number; check the status by tracking number and ID number (masked data only,
with the reason of a rejection or return).

Against abuse: every form carries a small arithmetic question kept in the session (one use per question),
and each client address may post only so many times per window (Django's cache; limits in
settings.YIKATONG_ONLINE_RATE_LIMITS = {"apply": (count, seconds), "status": (count, seconds)})."""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from yikatong.core import clock
from yikatong.core.errors import DomainError
from yikatong.core.middleware import client_ip

from .. import rules
from ..forms import OnlineApplicationForm, StatusQueryForm
from ..services import online
from ._common import show_error

DEFAULT_LIMITS = {"apply": (10, 3600), "status": (30, 600)}
DONE_SESSION_KEY = "apply_done_number"
CAPTCHA_SESSION_KEY = "apply_captcha_{}"
RATE_LIMITED = "提交过于频繁，请稍后再试。如需帮助，请到村（社区）或乡镇（街道）办理。"
CAPTCHA_WRONG = "验证码计算结果不正确，请重新计算新的题目。"
NOT_FOUND = "没有找到该申报：请核对申报编号和身份证号（须为申请人本人的身份证号）。"


# -- abuse checks --------------------------------------------------------------------------------------------
def new_captcha(request, purpose: str) -> str:
    """A fresh question (e.g. "7 + 5 = ?") whose answer is kept in the session."""
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    if secrets.randbelow(2):
        question, answer = f"{a} + {b}", a + b
    else:
        a, b = max(a, b), min(a, b)
        question, answer = f"{a} − {b}", a - b
    request.session[CAPTCHA_SESSION_KEY.format(purpose)] = answer
    return f"{question} = ?"


def captcha_ok(request, purpose: str, given) -> bool:
    """Compare and forget: each question can be answered once."""
    expected = request.session.pop(CAPTCHA_SESSION_KEY.format(purpose), None)
    try:
        return expected is not None and int(str(given).strip()) == int(expected)
    except (TypeError, ValueError):
        return False


def rate_limited(request, bucket: str) -> bool:
    """Count one attempt of this client for `bucket`; True when over the limit of the window."""
    limits = {**DEFAULT_LIMITS, **getattr(settings, "YIKATONG_ONLINE_RATE_LIMITS", {})}
    count, seconds = limits[bucket]
    key = f"yikatong:online:{bucket}:{client_ip(request) or 'unknown'}"
    cache.add(key, 0, timeout=seconds)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        attempts = 1
    return attempts > count


def _refused(request, template: str, context: dict):
    context = {**context, "refusal": RATE_LIMITED}
    return render(request, template, context, status=429)


# -- pages ---------------------------------------------------------------------------------------------------
@never_cache
def apply_index(request):
    return render(request, "applications/online/index.html",
                  {"title": "网上申请", "policies": list(online.online_policies())})


def current_period(cycle: str) -> str:
    today = clock.today()
    kind = rules.CYCLE_PERIOD_KIND.get(cycle, rules.YEAR)
    if kind == rules.MONTH:
        return f"{today:%Y-%m}"
    if kind == rules.QUARTER:
        return f"{today.year}Q{(today.month - 1) // 3 + 1}"
    return str(today.year)


def _policy(code: str):
    try:
        return online.online_policy(code)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _form_context(request, policy, form) -> dict:
    return {"title": f"网上申请：{policy.name}", "policy": policy, "form": form,
            "captcha": new_captcha(request, "apply"),
            "period_kind": rules.PERIOD_KIND_LABELS[rules.CYCLE_PERIOD_KIND[policy.cycle]]}


@never_cache
@require_http_methods(["GET", "POST"])
def apply_form(request, code: str):
    policy = _policy(code)
    villages = [(r.code, r.full_name or r.name) for r in online.online_villages(policy)]
    template = "applications/online/form.html"
    if request.method == "GET":
        form = OnlineApplicationForm(policy=policy, village_choices=villages,
                                     initial={"period": current_period(policy.cycle)})
        return render(request, template, _form_context(request, policy, form))
    form = OnlineApplicationForm(request.POST, request.FILES, policy=policy, village_choices=villages)
    if rate_limited(request, "apply"):
        return _refused(request, template, _form_context(request, policy, form))
    if not captcha_ok(request, "apply", request.POST.get("captcha")):
        form.is_valid()
        form.add_error("captcha", CAPTCHA_WRONG)
        return render(request, template, _form_context(request, policy, form), status=400)
    status = 400
    if form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("captcha")
        try:
            app = online.online_application_submit(policy_code=policy.code, **data)
        except DomainError as exc:
            status = show_error(form, exc)
        else:
            request.session[DONE_SESSION_KEY] = app.number
            return redirect("apply:done")
    return render(request, template, _form_context(request, policy, form), status=status)


@never_cache
def apply_done(request):
    number = request.session.get(DONE_SESSION_KEY)
    if not number:
        return redirect("apply:index")
    return render(request, "applications/online/done.html", {"title": "申请已提交", "number": number})


@never_cache
@require_http_methods(["GET", "POST"])
def apply_status(request):
    template = "applications/online/status.html"

    def context(form, **extra):
        return {"title": "申报进度查询", "form": form, "captcha": new_captcha(request, "status"), **extra}

    if request.method == "GET":
        initial = {"number": request.session.get(DONE_SESSION_KEY, "")}
        return render(request, template, context(StatusQueryForm(initial=initial)))
    form = StatusQueryForm(request.POST)
    if rate_limited(request, "status"):
        return _refused(request, template, context(form))
    if not captcha_ok(request, "status", request.POST.get("captcha")):
        form.is_valid()
        form.add_error("captcha", CAPTCHA_WRONG)
        return render(request, template, context(form), status=400)
    if not form.is_valid():
        return render(request, template, context(form), status=400)
    result = online.online_status_query(number=form.cleaned_data["number"], id_number=form.cleaned_data["id_number"])
    if result is None:
        form.add_error(None, NOT_FOUND)
        return render(request, template, context(form), status=404)
    response = render(request, template, context(StatusQueryForm(), result=result))
    response["Cache-Control"] = "no-store"
    return response
