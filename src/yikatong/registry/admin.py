"""Read-only admin views of the registry: masked values only (the encrypted columns are not shown);
every change goes through the registry's services (versioned, audited)."""

import json

from django.contrib import admin

from yikatong.core.admin import ViewForAdminRole

from .models import Beneficiary, BeneficiaryVersion, Household, PayeeAccount
from .rules import snapshot_implied, with_implied_snapshots


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
    exclude = ("snapshot",)
    readonly_fields = ("snapshot_shown",)

    @admin.display(description="快照")
    def snapshot_shown(self, obj) -> str:
        """The snapshot as the beneficiary page shows it: a roster import's version 1 is stored empty and
        implied by the beneficiary's current state until its first change (registry.rules.snapshot_implied)."""
        beneficiary = Beneficiary.objects.select_related("household").get(pk=obj.beneficiary_id)
        implied = snapshot_implied(obj, beneficiary)
        [version] = with_implied_snapshots(beneficiary, [obj])
        text = json.dumps(version.snapshot, ensure_ascii=False, indent=2, sort_keys=True)
        if implied:
            text += "\n（花名册导入登记的第 1 版：此后尚无变更，内容即当前登记信息）"
        return text
