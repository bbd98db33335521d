"""Shared-data sources (SPEC §3.5, §5.2): the file contract (spec), set-based loading (load) and the
services (service). Import from here:

    from yikatong.checks.sources import source_import_start, source_import_run, source_current, source_rows
"""

from .service import (
    importable_sources,
    require_import,
    source_current,
    source_import_run,
    source_import_start,
    source_rows,
)
from .spec import SPECS, SourceSpec, spec_for

__all__ = [
    "SPECS",
    "SourceSpec",
    "importable_sources",
    "require_import",
    "source_current",
    "source_import_run",
    "source_import_start",
    "source_rows",
    "spec_for",
]
