"""Turning rule hits into findings, set-based: one upsert per hit query, one update to close what no longer
holds, one insert of history events per kind of change. Never a Python loop per person.

Upsert on the unique fingerprint "<rule>|<subject key>|<evidence key>":
- new → a finding `open`, first_run = last_seen_run = this run;
- already there → last_seen_run = this run; an open (or automatically closed) finding takes the current
  severity and evidence; an automatically closed one opens again; a decided one (confirmed, cleared) stays
  exactly as decided.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from ..models import CheckRun, CheckSubject, Finding, FindingEvent
from .sql import Hits, execute, table, text_param

REOPENED_NOTE = "复核时再次命中，已重新打开"


def _now(moment: dt.datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def upsert(run: CheckRun, rule: str, hits: Hits, now: dt.datetime) -> None:
    f, s = table(Finding), table(CheckSubject)
    sql = f"""
        INSERT INTO {f} (fingerprint, rule, severity, status, subject_key, application_id, ref_type, ref_id,
            beneficiary_id, policy_id, business_line, period, region_id, evidence_key, evidence, note, decision,
            decision_reason, decided_by, decided_at, first_run_id, last_seen_run_id, status_run_id,
            created_at, updated_at)
        SELECT {text_param()} || '|' || s.subject_key || '|' || h.ekey, {text_param()}, h.sev, 'open', s.subject_key,
            CASE WHEN s.ref_type = '' THEN s.application_id END, s.ref_type, s.ref_id, s.beneficiary_id, s.policy_id, s.business_line, s.period,
            s.region_id, h.ekey, h.ev, '', '', '', '', NULL, %s, %s, NULL, %s, %s
        FROM ({hits.sql}) h JOIN {s} s ON s.id = h.sid
        WHERE 1 = 1
        ON CONFLICT (fingerprint) DO UPDATE SET
            last_seen_run_id = excluded.last_seen_run_id,
            updated_at = excluded.updated_at,
            severity = CASE WHEN {f}.status IN ('open', 'closed_auto') THEN excluded.severity ELSE {f}.severity END,
            evidence = CASE WHEN {f}.status IN ('open', 'closed_auto') THEN excluded.evidence ELSE {f}.evidence END,
            status_run_id = CASE WHEN {f}.status = 'closed_auto' THEN excluded.last_seen_run_id
                                 ELSE {f}.status_run_id END,
            note = CASE WHEN {f}.status = 'closed_auto' THEN '{REOPENED_NOTE}' ELSE {f}.note END,
            status = CASE WHEN {f}.status = 'closed_auto' THEN 'open' ELSE {f}.status END
    """
    stamp = _now(now)
    execute(sql, [rule, rule, run.pk, run.pk, stamp, stamp, *hits.params])


@dataclass(frozen=True)
class Reach:
    """Which findings a run speaks for. Applications of a policy and period in a region: the findings with that
    period, a region in the subtree and an application (rejected or withdrawn applications are swept before
    the rules run). Items: the findings of the run's items (ref_type and ref_id among the working set)."""

    period: str = ""
    region_lo: str = ""
    region_hi: str = ""
    item_type: str = ""

    def sql(self, run: CheckRun, f: str, s: str) -> tuple[str, list]:
        if self.item_type:
            return (f"{f}.ref_type = %s AND {f}.ref_id IN (SELECT s.ref_id FROM {s} s WHERE s.run_id = %s)",
                    [self.item_type, run.pk])
        return (f"{f}.application_id IS NOT NULL AND {f}.period = %s AND {f}.region_id BETWEEN %s AND %s",
                [self.period, self.region_lo, self.region_hi])


def close_missing(run: CheckRun, rule: str, policy_ids, note: str, now: dt.datetime, reach: Reach) -> None:
    """Close the open findings of `rule` within the run's reach (of the given policies) that the run did not
    see again."""
    if not policy_ids:
        return
    f, s = table(Finding), table(CheckSubject)
    ids = ", ".join(["%s"] * len(policy_ids))
    where, params = reach.sql(run, f, s)
    sql = f"""
        UPDATE {f} SET status = 'closed_auto', status_run_id = %s, note = %s, updated_at = %s
        WHERE {f}.rule = %s AND {f}.status = 'open' AND {f}.last_seen_run_id <> %s AND {f}.policy_id IN ({ids})
          AND {where}
    """
    execute(sql, [run.pk, note[:300], _now(now), rule, run.pk, *policy_ids, *params])


def record_events(run: CheckRun, rule: str, actor: str, now: dt.datetime) -> None:
    """History rows for what this run did to the findings of `rule`: opened, reopened, closed automatically."""
    f, e = table(Finding), table(FindingEvent)
    stamp = _now(now)
    head = f"INSERT INTO {e} (finding_id, action, from_status, to_status, run_id, actor, at, reason)"
    execute(f"""{head} SELECT id, 'opened', '', 'open', %s, %s, %s, '' FROM {f}
                WHERE rule = %s AND first_run_id = %s""", [run.pk, actor, stamp, rule, run.pk])
    execute(f"""{head} SELECT id, 'reopened', 'closed_auto', 'open', %s, %s, %s, note FROM {f}
                WHERE rule = %s AND status_run_id = %s AND status = 'open' AND first_run_id <> %s""",
            [run.pk, actor, stamp, rule, run.pk, run.pk])
    execute(f"""{head} SELECT id, 'closed_auto', 'open', 'closed_auto', %s, %s, %s, note FROM {f}
                WHERE rule = %s AND status_run_id = %s AND status = 'closed_auto'""",
            [run.pk, actor, stamp, rule, run.pk])


def counts(run: CheckRun, rule: str) -> dict:
    """What this run found for `rule`: hits (findings seen), new, reopened, closed, and how many of the hits
    are open blocking / open review findings."""
    f = table(Finding)
    sql = f"""
        SELECT
            SUM(CASE WHEN last_seen_run_id = %s THEN 1 ELSE 0 END),
            SUM(CASE WHEN first_run_id = %s THEN 1 ELSE 0 END),
            SUM(CASE WHEN status_run_id = %s AND status = 'open' AND first_run_id <> %s THEN 1 ELSE 0 END),
            SUM(CASE WHEN status_run_id = %s AND status = 'closed_auto' THEN 1 ELSE 0 END),
            SUM(CASE WHEN last_seen_run_id = %s AND status = 'open' AND severity = 'block' THEN 1 ELSE 0 END),
            SUM(CASE WHEN last_seen_run_id = %s AND status = 'open' AND severity = 'review' THEN 1 ELSE 0 END)
        FROM {f}
        WHERE rule = %s AND (last_seen_run_id = %s OR status_run_id = %s)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [run.pk] * 7 + [rule, run.pk, run.pk])
        row = cursor.fetchone() or ()
    keys = ("hits", "new", "reopened", "closed", "open_block", "open_review")
    return {key: int(value or 0) for key, value in zip(keys, row, strict=False)}
