"""Personal data: the one way to see a value in full, and re-encryption after a data key rotation.

`pii_reveal` is generic: the subject is any model instance with a `region_id` (a beneficiary, an
application, a payee account …); every full view is an audit event in the tamper-evident chain
(who, when, which object and field, why).
"""

from collections.abc import Callable, Sequence

from django.db import models, transaction

from yikatong.core import audit, crypto
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

REENCRYPT_BATCH = 5000


def pii_reveal(*, actor: Scope, subject, field: str, value_blob: bytes | memoryview | None, reason: str) -> str:
    """Decrypt one personal identifier of `subject` for display in full, and log the view.

    Requires the "pii.view_full" permission, the subject's region within the actor's scope and a reason.
    An empty value reveals nothing and is not logged.
    """
    actor.require("pii.view_full")
    actor.require_region(getattr(subject, "region_id", None))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写查看完整信息的事由", field="reason", code="reason_required")
    if not field:
        raise ValueError("pii_reveal needs the name of the field that is revealed")
    if value_blob is None or len(value_blob) == 0:
        return ""
    with transaction.atomic():
        value = crypto.decrypt_text(value_blob)
        audit.record(actor=actor, action="pii.view", obj=subject, after={"field": field}, reason=reason)
    return value


def pii_reencrypt(
    *,
    actor: Scope,
    model: type[models.Model],
    fields: Sequence[str],
    batch_size: int = REENCRYPT_BATCH,
    progress: Callable[[int, int, int], None] | None = None,
) -> tuple[int, int]:
    """Re-encrypt the encrypted BinaryField columns `fields` of `model` with the current data key.

    Walks the table in primary-key order, `batch_size` rows per transaction, locking each batch, and
    writes only rows that still use an older key (bulk_update). Safe to interrupt and run again.
    Returns (rows examined, rows re-encrypted); calls progress(examined, changed, total) per batch.
    """
    if not actor.is_system:
        raise ScopeError("重新加密只能由系统运维通过命令行执行。", code="forbidden")
    fields = list(fields)
    _check_fields(model, fields)
    pk = model._meta.pk.attname
    total = model._default_manager.count()
    examined = changed = 0
    last_pk = None
    while True:
        with transaction.atomic():
            queryset = model._default_manager.order_by(pk).only(pk, *fields)
            if last_pk is not None:
                queryset = queryset.filter(**{f"{pk}__gt": last_pk})
            rows = list(queryset.select_for_update()[:batch_size])
            if not rows:
                break
            dirty = [row for row in rows if _reencrypt_row(row, fields)]
            if dirty:
                model._default_manager.bulk_update(dirty, fields, batch_size=batch_size)
        examined += len(rows)
        changed += len(dirty)
        last_pk = getattr(rows[-1], pk)
        if progress:
            progress(examined, changed, total)
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="pii.reencrypt",
            object_type=model._meta.label_lower,
            after={"fields": fields, "examined": examined, "reencrypted": changed,
                   "key_id": crypto.keyring().current_id},
        )
    return examined, changed


def _reencrypt_row(row: models.Model, fields: list[str]) -> bool:
    dirty = False
    for name in fields:
        blob = getattr(row, name)
        if not blob:
            continue
        fresh = crypto.reencrypt(blob)
        if fresh is not None:
            setattr(row, name, fresh)
            dirty = True
    return dirty


def _check_fields(model: type[models.Model], fields: list[str]) -> None:
    if not fields:
        raise DomainError("请至少指定一个加密字段。")
    for name in fields:
        try:
            field = model._meta.get_field(name)
        except Exception:
            raise DomainError(f"模型 {model._meta.label} 没有字段 {name}。", field=name) from None
        if not isinstance(field, models.BinaryField):
            raise DomainError(
                f"字段 {model._meta.label}.{name} 不是加密字段（BinaryField），不能重新加密。", field=name
            )
