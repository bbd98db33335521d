"""Shared pieces of the rules: the registry of rule functions and ORM expressions for evidence."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    CharField,
    Expression,
    F,
    JSONField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Concat, JSONObject, Length, Substr

from ..context import Group, RuleContext
from ..sql import Hits

RuleFunction = Callable[[RuleContext, Group], list[Hits]]


@dataclass(frozen=True)
class Registered:
    code: str
    function: RuleFunction
    needs_source: bool


REGISTRY: dict[str, Registered] = {}


def rule(code: str, *, needs_source: bool = True):
    """Register `function(ctx, group) -> [Hits]` as the implementation of rule `code`. When the catalogue names
    a source and `needs_source` is true, the rule is skipped while that source has never been imported."""

    def decorate(function: RuleFunction) -> RuleFunction:
        REGISTRY[code] = Registered(code, function, needs_source)
        return function

    return decorate


def masked(expression) -> Concat:
    """A name masked in SQL: its first character and one * per further character."""
    if isinstance(expression, str):
        expression = F(expression)
    return Concat(Substr(expression, 1, 1), Substr(Value("*" * 20), 1, Length(expression) - 1),
                  output_field=CharField())


class JsonBool(Expression):
    """A JSON true/false inside JSONObject on both databases (SQLite would otherwise store 1/0)."""

    output_field = BooleanField()

    def __init__(self, value: bool):
        super().__init__()
        self.value = bool(value)

    def as_sql(self, compiler, connection):
        return ("true" if self.value else "false"), []

    def as_sqlite(self, compiler, connection):
        return ("json('true')" if self.value else "json('false')"), []


def as_text(expression) -> Cast:
    if isinstance(expression, str):
        expression = F(expression)
    return Cast(expression, CharField())


def row_evidence(rows: QuerySet, source: str, import_id, *, order=("id",), **fields) -> Subquery:
    """Evidence of the first matching source row (in `order`): source, import, row id and number, the masked
    name and the given fields (name → expression; subject columns via OuterRef)."""
    payload = JSONObject(source=Value(source), import_id=Value(str(import_id)), row_id=F("id"),
                         row_number=F("row_number"), name=masked("name"), **fields)
    return Subquery(rows.order_by(*order).values(j=payload)[:1], output_field=JSONField())


def hits(queryset: QuerySet, *, ekey, severity, evidence) -> Hits:
    """The Hits of a CheckSubject queryset: one per subject row."""
    if isinstance(ekey, str):
        ekey = Value(ekey)
    if isinstance(severity, str):
        severity = Value(severity)
    return Hits.of(queryset.values(sid=F("id"), ekey=ekey, sev=severity, ev=evidence))


def outer(name: str) -> OuterRef:
    return OuterRef(name)
