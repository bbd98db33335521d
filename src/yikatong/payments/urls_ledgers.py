"""Pages of corrections, ledgers, reconciliation and daily close (joined into /payments/ by payments.urls,
namespace `payments`)."""

from django.urls import path

from . import views_corrections as corrections
from . import views_ledgers as ledgers

urlpatterns = [
    path("ledgers/", ledgers.ledger_general, name="ledger-general"),
    path("ledgers/detail/", ledgers.ledger_detail, name="ledger-detail"),
    path("ledgers/finance/", ledgers.ledger_finance, name="ledger-finance"),
    path("ledgers/plans/<int:pk>/indicator/", ledgers.ledger_indicator, name="ledger-indicator"),
    path("ledgers/reconcile/", ledgers.ledger_reconcile, name="ledger-reconcile"),
    path("ledgers/reconcile/document/", ledgers.ledger_reconcile_document, name="ledger-reconcile-document"),
    path("ledgers/batches/<int:pk>/clearing/", ledgers.ledger_clearing, name="ledger-clearing"),
    path("ledgers/close/", ledgers.ledger_close, name="ledger-close"),
    path("corrections/", corrections.correction_list, name="correction-list"),
    path("corrections/bulk/", corrections.correction_bulk, name="correction-bulk"),
    path("corrections/<int:pk>/", corrections.correction_detail, name="correction-detail"),
]
