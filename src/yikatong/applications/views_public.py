"""The online copy of a public notice (no login): the masked list, totals, number and digest — the same
key facts as the paper notice on the village board, whose QR code points here [000 §8; 003 §17]."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import selectors


@require_GET
def notice_public(request, number: str):
    notice = selectors.notice_public_get(number)
    if notice is None:
        raise Http404("该公示不存在或不对外公开。")
    entries = selectors.notice_entries(notice)
    return render(request, "applications/notices/public.html", {
        "title": f"公示 {notice.number}",
        "notice": notice,
        "entries": entries,
        "next_round": selectors.notice_public_next(notice),
    })
