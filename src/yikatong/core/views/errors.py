from django.shortcuts import render


def forbidden(request, exception=None):
    message = str(exception) if exception and str(exception) else "您没有访问该页面的权限。"
    return render(request, "core/error.html", {"title": "无权访问", "message": message}, status=403)


def not_found(request, exception=None):
    return render(request, "core/error.html", {"title": "页面不存在", "message": "您访问的页面不存在或已被移除。"}, status=404)


def server_error(request):
    return render(
        request, "core/error.html",
        {"title": "系统内部错误", "message": "系统处理时发生错误，已记录日志。请稍后重试，或联系系统管理员。"},
        status=500,
    )
