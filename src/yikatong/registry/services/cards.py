"""Financial-function status of social security cards (已激活/未激活/挂失/注销), one at a time (HR, card
bank) or refreshed in bulk from the ssc_card source import, set-based, in constant memory."""

import datetime as dt
from collections.abc import Iterable
from itertools import islice

from django.db import connection, transaction

from yikatong.core import audit, clock
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.registry import rules
from yikatong.registry.models import AccountKind, Beneficiary, PayeeAccount

from .accounts import _set_status

REFRESH_CHUNK = 1000


def card_status_update(
    *, actor: Scope, account_id, status: str, checked_at: dt.datetime | None = None, source: str = "",
) -> PayeeAccount:
    """Record the status of one card (the active social security card account of a beneficiary)."""
    actor.require_write("card_status.update")
    status = rules.card_status_value(status)
    source = rules.clean_text(source, field="source", label="状态来源", max_length=rules.REASON_MAX)
    with transaction.atomic():
        try:
            pk = int(account_id)
        except (TypeError, ValueError):
            pk = None
        account = PayeeAccount.objects.select_for_update().filter(pk=pk).first() if pk is not None else None
        if account is None:
            raise DomainError("收款账户不存在或不在您的管辖范围内。", code="not_found")
        actor.require_region(account.beneficiary.region_id)
        if account.kind != AccountKind.SSC_CARD:
            raise DomainError("只有社会保障卡银行账户有金融功能状态", field="status", code="kind")
        if not account.is_active:
            raise DomainError("该账户已被替换，不再用于发放：请更新当前有效账户的状态", code="inactive")
        _set_status(actor, account, status, checked_at or clock.now(), source or "人工更新")
    return account


def card_status_refresh_bulk(
    *, actor: Scope, rows: Iterable[tuple[str, str, str]], source: str, checked_at: dt.datetime | None = None,
    chunk_size: int = REFRESH_CHUNK,
) -> dict[str, int]:
    """Apply card statuses from the ssc_card source: rows of (id_digest, account_digest, status), status as
    a code or its Chinese label. A row matches the active social security card account with that account
    digest of the beneficiary with that ID digest (within the actor's region). One UPDATE … FROM per
    chunk; every matched account gets the status and the check time.

    Returns counts: rows = matched + unmatched + invalid + duplicates; matched = updated (status
    changed) + unchanged. A card listed twice within one chunk is a duplicate (its last row wins).
    One audit event for the whole refresh.
    """
    actor.require_write("card_status.update")
    source = rules.clean_text(source, field="source", label="数据来源", max_length=rules.REASON_MAX, required=True)
    checked_at = checked_at or clock.now()
    counts = {"rows": 0, "matched": 0, "updated": 0, "unchanged": 0, "unmatched": 0, "invalid": 0,
              "duplicates": 0}
    iterator = iter(rows)
    while chunk := list(islice(iterator, chunk_size)):
        counts["rows"] += len(chunk)
        wanted = _wanted(chunk, counts)
        with transaction.atomic():
            changed, matched = _apply_chunk(actor, wanted, checked_at)
        counts["updated"] += changed
        counts["matched"] += matched
        counts["unchanged"] += matched - changed
        counts["unmatched"] += len(wanted) - matched
    with transaction.atomic():
        audit.record(actor=actor, action="card_status.refresh", object_type="registry.payeeaccount",
                     region_code=actor.region_code, after={**counts, "checked_at": checked_at}, reason=source)
    return counts


def _wanted(chunk: list, counts: dict[str, int]) -> dict[tuple[str, str], str]:
    """{(id digest, account digest): status} of one chunk; a card listed twice counts as a duplicate
    (its last row wins), a row with a bad status or an empty digest as invalid."""
    wanted: dict[tuple[str, str], str] = {}
    for row in chunk:
        try:
            id_digest, account_digest, status = row
            status = rules.card_status_value(status)
        except (DomainError, TypeError, ValueError):
            counts["invalid"] += 1
            continue
        if not id_digest or not account_digest:
            counts["invalid"] += 1
            continue
        key = (str(id_digest), str(account_digest))
        if key in wanted:
            counts["duplicates"] += 1
        wanted[key] = status
    return wanted


def _apply_chunk(actor: Scope, wanted: dict[tuple[str, str], str], checked_at) -> tuple[int, int]:
    """(accounts whose status changed, accounts matched) for one chunk, in two set-based statements."""
    if not wanted:
        return 0, 0
    qn = connection.ops.quote_name
    acc, ben = qn(PayeeAccount._meta.db_table), qn(Beneficiary._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(wanted))
    params: list = [p for (id_digest, account_digest), status in wanted.items()
                    for p in (id_digest, account_digest, status)]
    scope_sql, scope_params = "", []
    if not (actor.is_system and actor.region_lo == "000000000000"):
        scope_sql, scope_params = f" AND {ben}.region_id BETWEEN %s AND %s", [actor.region_lo, actor.region_hi]
    # A derived table rather than a CTE: SQLite reports no rowcount for a statement that starts with WITH.
    # VALUES names its columns column1… on both databases.
    v = (f"(SELECT column1 AS id_digest, column2 AS account_digest, column3 AS status "
         f"FROM (VALUES {values}) AS x) AS v")
    join = (f"{acc}.beneficiary_id = {ben}.id AND {ben}.id_digest = v.id_digest "
            f"AND {acc}.account_digest = v.account_digest AND {acc}.is_active = %s AND {acc}.kind = %s{scope_sql}")
    join_params = [True, AccountKind.SSC_CARD.value, *scope_params]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {acc}, {ben}, {v} WHERE {join} AND {acc}.card_status <> v.status",
            params + join_params,
        )
        changed = cursor.fetchone()[0]
        cursor.execute(
            f"UPDATE {acc} SET card_status = v.status, card_status_checked_at = %s FROM {ben}, {v} WHERE {join}",
            [connection.ops.adapt_datetimefield_value(checked_at)] + params + join_params,
        )
        matched = cursor.rowcount
    return changed, matched
