"""Bulk roster import (花名册): see service.py and docs/roster-import.md.

    from yikatong.applications.roster import roster_import_start, roster_import_run
"""

from .service import actor_for, roster_import_create, roster_import_run, roster_import_start

__all__ = ["actor_for", "roster_import_create", "roster_import_run", "roster_import_start"]
