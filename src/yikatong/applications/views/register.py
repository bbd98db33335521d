"""The township subsidy register (乡镇补贴底册): choose township, policy and period, download the XLSX.
The export streams from the database into a temporary file (constant memory) and is audited."""

import tempfile

from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import render

from yikatong.core.errors import DomainError

from .. import services
from ..forms import RegisterForm
from ._common import policy_choices, scope_for, show_error, township_choices

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPOOL_BYTES = 8 * 1024 * 1024


@login_required
def register_export(request):
    scope = scope_for(request, "register.export")
    choices = {"township_choices": township_choices(scope), "policy_choices": policy_choices(scope)}
    status = 200
    if request.method == "POST":
        form = RegisterForm(request.POST, **choices)
        if form.is_valid():
            data = form.cleaned_data
            out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
            try:
                result = services.register_export_xlsx(scope, data["township_code"], data["policy_code"],
                                                       data["period"], out)
            except DomainError as exc:
                out.close()
                status = show_error(form, exc)
            else:
                out.seek(0)
                name = f"补贴底册_{data['township_code']}_{data['policy_code']}_{data['period']}.xlsx"
                response = FileResponse(out, as_attachment=True, filename=name, content_type=XLSX)
                response["Cache-Control"] = "private, no-store"
                response["X-Register-Rows"] = str(result.rows)
                response["X-Register-Total"] = str(result.total_amount)
                return response
        else:
            status = 400
    else:
        initial = {"township_code": choices["township_choices"][0][0]} if len(choices["township_choices"]) == 1 else {}
        form = RegisterForm(initial=initial, **choices)
    return render(request, "applications/register.html", {"title": "补贴底册", "form": form}, status=status)
