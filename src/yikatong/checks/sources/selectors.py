"""Reads of the shared-data sources for the pages and the API (permission "source.view").

Sources are the platform's own reference data (one import in force per source, not per region):
whoever may view sources sees every source's imports, counts and refusals — refusals show masked IDs
and accounts only. Original files are downloaded through core's file view, which checks the region.
"""

from __future__ import annotations

from django.db.models import QuerySet

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from ..models import SourceImport, SourceImportError, SourceState
from .service import importable_sources
from .spec import SPECS, spec_for


def source_overview(scope: Scope) -> list[dict]:
    """Each source with the import in force, the latest import (maybe still loading or failed) and
    whether the reader may import it."""
    scope.require("source.view")
    states = {s.source: s for s in SourceState.objects.select_related("current_import", "current_import__file")}
    latest: dict[str, SourceImport] = {}
    for code in SPECS:
        latest[code] = (SourceImport.objects.select_related("file").filter(source=code)
                        .order_by("-created_at").first())
    importable = set(importable_sources(scope))
    overview = []
    for code, spec in SPECS.items():
        state = states.get(code)
        overview.append({
            "spec": spec,
            "current": state.current_import if state else None,
            "switched_at": state.switched_at if state else None,
            "latest": latest[code],
            "can_import": code in importable,
        })
    return overview


def source_imports(scope: Scope, source: str) -> QuerySet[SourceImport]:
    scope.require("source.view")
    spec_for(source)
    return SourceImport.objects.select_related("file", "job").filter(source=source).order_by("-created_at")


def source_import_get(scope: Scope, pk) -> SourceImport:
    scope.require("source.view")
    imp = SourceImport.objects.select_related("file", "job").filter(pk=pk).first()
    if imp is None:
        raise DomainError("导入记录不存在。", code="not_found")
    return imp


def source_import_errors(scope: Scope, imp: SourceImport) -> QuerySet[SourceImportError]:
    scope.require("source.view")
    return SourceImportError.objects.filter(source_import_id=imp.pk).order_by("row_number", "id")
