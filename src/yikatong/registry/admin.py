"""Read-only admin views of the registry: masked values only (the encrypted columns are not shown);
every change goes through the registry's services (versioned, audited)."""

from django.contrib import admin

from yikatong.core.admin import ViewForAdminRole

from .models import Beneficiary, BeneficiaryVersion, Household, PayeeAccount


class ReadOnly(ViewForAdminRole):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Beneficiary)
class BeneficiaryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("name", "kind", "id_masked", "gender", "birth_date", "region", "phone_masked", "version")
    list_filter = ("kind",)
    search_fields = ("name",)
    exclude = ("id_number_enc", "phone_enc", "id_digest", "phone_digest")
    raw_id_fields = ("region", "household")


@admin.register(PayeeAccount)
class PayeeAccountAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("beneficiary", "version", "kind", "bank_name", "account_masked", "card_status", "is_active")
    list_filter = ("kind", "card_status", "is_active")
    exclude = ("account_enc", "account_digest")
    raw_id_fields = ("beneficiary",)


@admin.register(Household)
class HouseholdAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("number", "region", "head_name")
    search_fields = ("number",)
    raw_id_fields = ("region",)


@admin.register(BeneficiaryVersion)
class BeneficiaryVersionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("beneficiary", "version", "changed_by", "changed_at", "reason")
    raw_id_fields = ("beneficiary",)
