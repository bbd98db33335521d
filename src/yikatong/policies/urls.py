from django.urls import path

from .views import changes, library, lists, policies

app_name = "policies"

urlpatterns = [
    path("", policies.policy_list, name="policy-list"),
    path("new/", policies.policy_create_view, name="policy-create"),
    path("export.xlsx", policies.policy_export, name="policy-export"),
    # annual lists
    path("lists/", lists.list_page, name="lists"),
    path("lists/<str:region>/<int:year>/items/", lists.item_add, name="list-item-add"),
    path("lists/<str:region>/<int:year>/items/<str:code>/remove/", lists.item_remove, name="list-item-remove"),
    path("lists/<str:region>/<int:year>/submit/", lists.items_submit, name="list-submit"),
    path("lists/<str:region>/<int:year>/file/", lists.list_file_view, name="list-file"),
    path("lists/<str:region>/<int:year>/publish/", lists.list_publish_view, name="list-publish"),
    path("lists/<str:region>/<int:year>/return/", lists.list_return_view, name="list-return"),
    path("lists/<str:region>/<int:year>/export.xlsx", lists.list_export, name="list-export"),
    path("lists/<str:region>/<int:year>/import/", lists.list_import, name="list-import"),
    path("lists/<str:region>/<int:year>/compare/", lists.list_compare, name="list-compare"),
    # project library
    path("library/", library.library_page, name="library"),
    path("library/check/", library.library_check, name="library-check"),
    path("library/build/", library.library_build, name="library-build"),
    path("library/lock/", library.library_lock_view, name="library-lock"),
    path("library/expire/", library.library_expire_view, name="library-expire"),
    path("library/remove/", library.library_entry_remove_view, name="library-remove"),
    # change requests
    path("changes/", changes.change_list, name="changes"),
    path("changes/new/", changes.change_create, name="change-create"),
    path("changes/inbox/", changes.change_inbox, name="change-inbox"),
    path("changes/<int:pk>/", changes.change_detail, name="change-detail"),
    path("changes/<int:pk>/submit/", changes.change_submit_view, name="change-submit"),
    path("changes/<int:pk>/approve/", changes.change_approve_view, name="change-approve"),
    path("changes/<int:pk>/return/", changes.change_return_view, name="change-return"),
    path("changes/<int:pk>/withdraw/", changes.change_withdraw_view, name="change-withdraw"),
    path("changes/<int:pk>/revise/", changes.change_revise_view, name="change-revise"),
    # one policy (last: a code could look like the words above)
    path("<str:code>/", policies.policy_detail, name="policy-detail"),
    path("<str:code>/edit/", policies.policy_edit, name="policy-edit"),
    path("<str:code>/compare/", policies.policy_compare, name="policy-compare"),
    path("<str:code>/retire/", policies.policy_retire_view, name="policy-retire"),
    path("<str:code>/activate/", policies.policy_activate_view, name="policy-activate"),
]
