"""Django admin is for platform administrators only (role 'admin'); everyone else uses the platform UI."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from yikatong.core.models import CalendarOverride, Organization, Region, Role, TimeLimit, User


def _admin_only(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_authenticated and user.is_staff and user.role == Role.ADMIN)


admin.site.has_permission = _admin_only
admin.site.site_header = "一卡通平台 · 系统管理"
admin.site.site_title = "一卡通平台"


class ViewForAdminRole:
    """Administrators (role admin, staff) may look at the data here; changes go through the platform's
    own pages and services (audited). Django model permissions still grant more to a superuser."""

    def has_module_permission(self, request):
        return _admin_only(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return _admin_only(request) or super().has_view_permission(request, obj)


@admin.register(Region)
class RegionAdmin(ViewForAdminRole, admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "active")
    search_fields = ("code", "name")
    list_filter = ("level", "active")
    raw_id_fields = ("parent",)


@admin.register(Organization)
class OrganizationAdmin(ViewForAdminRole, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "business_line", "region", "active")
    search_fields = ("code", "name")
    list_filter = ("kind", "business_line", "active")
    raw_id_fields = ("region",)


@admin.register(User)
class UserAdmin(ViewForAdminRole, BaseUserAdmin):
    list_display = ("username", "full_name", "organization", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = BaseUserAdmin.fieldsets + (("机构与角色", {"fields": ("organization", "role", "full_name", "phone")}),)
    raw_id_fields = ("organization",)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(ViewForAdminRole, admin.ModelAdmin):
    list_display = ("day", "is_working_day", "reason")


@admin.register(TimeLimit)
class TimeLimitAdmin(ViewForAdminRole, admin.ModelAdmin):
    list_display = ("step", "label", "days", "unit", "source")
