"""Running the rules of the catalogue on a working set, rule after rule, each rule in its own transaction.

    run = CheckRun(...)                         # created by the service
    execute(run, lambda run: subjects.fill(...), progress=...)

For each rule: the policies of the working set where it is enabled are grouped by severity and parameters;
each group's hit queries are upserted as findings; open findings of the rule on the run's subjects that were
not seen again are closed automatically ("复核时已不再命中：…"), as are those of policies where the rule is now
disabled; history events and counts are written. A rule whose source has never been imported is skipped and
its findings are left as they are (nothing could be checked). The working set is deleted at the end.
"""

import datetime as dt
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from yikatong.core import clock
from yikatong.core.jobs import no_progress

from ..models import CheckRun, CheckSubject
from . import catalogue, sql, subjects, writer
from .context import Period, RuleContext, current_imports, groups_for, settings_by_policy
from .rules import REGISTRY

SOURCE_LABELS = {
    "household": "户籍", "death": "死亡/殡葬", "ssc_card": "社保卡", "public_staff": "财政供养人员",
    "vehicle": "车辆", "enterprise": "工商登记", "real_estate": "不动产", "cadre_relative": "村干部及近亲属",
}


def closed_note(rule: catalogue.Rule, run: CheckRun, today: dt.date) -> str:
    return f"复核时已不再命中：{rule.code} {rule.label}（核查批次 {run.pk}，{today.isoformat()}）"


def disabled_note(rule: catalogue.Rule, run: CheckRun, today: dt.date) -> str:
    return f"复核时已不再命中：{rule.code} {rule.label} 已对该补贴项目停用（核查批次 {run.pk}，{today.isoformat()}）"


def run_periods(run: CheckRun) -> list[Period]:
    rows = (CheckSubject.objects.filter(run_id=run.pk).values_list("period", "first_day", "last_day")
            .distinct().order_by("period"))
    return [Period(*row) for row in rows]


def _session(*, start: bool) -> None:
    """PostgreSQL settings of the connection while the engine runs: no JIT (compiling each rule's plan costs
    more than running it) and enough work memory for the hash joins over a million rows to stay in memory
    (settings.YIKATONG_CHECKS_WORK_MEM, default 128MB; the server's default of 4MB spills them to disk)."""
    if not sql.is_postgres():
        return
    if start:
        work_mem = str(getattr(settings, "YIKATONG_CHECKS_WORK_MEM", "128MB"))
        sql.execute("SET jit = off")
        sql.execute("SELECT set_config('work_mem', %s, false)", [work_mem])
    else:
        sql.execute("RESET jit")
        sql.execute("RESET work_mem")


def execute(run: CheckRun, fill: Callable[[CheckRun], int], *, reach: writer.Reach,
            progress=no_progress) -> CheckRun:
    """Fill the working set with `fill(run)`, evaluate every rule, finish the run (status, counts, times).
    `reach` says which existing findings the run speaks for (those it may close). On an error the run is
    marked failed with the message and the error is raised again."""
    steps = len(catalogue.RULES) + 1
    today = clock.today()
    try:
        started = time.perf_counter()
        _session(start=True)
        subjects.open_working_set()
        with transaction.atomic():
            run.subjects = fill(run)
        fill_seconds = round(time.perf_counter() - started, 3)
        progress(1, steps)
        policy_ids = list(CheckSubject.objects.filter(run_id=run.pk).values_list("policy_id", flat=True)
                          .distinct().order_by())
        settings = settings_by_policy(policy_ids)
        ctx = RuleContext(run=run, imports=current_imports(), periods=run_periods(run), today=today)
        run.rules, run.counts = {"_subjects": {"seconds": fill_seconds}}, {}
        for index, rule in enumerate(catalogue.RULES, start=2):
            if not run.subjects:
                run.rules[rule.code] = {"label": rule.label, "skipped": "没有需要核查的对象"}
                continue
            run.rules[rule.code], counts = _run_rule(ctx, rule, settings, today, reach)
            if counts is not None:
                run.counts[rule.code] = counts
            progress(index, steps)
        run.status = CheckRun.Status.SUCCEEDED
    except Exception as exc:
        run.status = CheckRun.Status.FAILED
        run.message = getattr(exc, "message", "") or "核查失败：内部错误，已记录日志"
        raise
    finally:
        subjects.clear(run)
        _session(start=False)
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "message", "subjects", "rules", "counts", "finished_at"])
    return run


def _run_rule(ctx: RuleContext, rule: catalogue.Rule, settings, today, reach) -> tuple[dict, dict | None]:
    groups, disabled = groups_for(rule.code, settings)
    registered = REGISTRY[rule.code]
    info = {"label": rule.label, "groups": [{"severity": g.severity, "policies": len(g.policy_ids),
                                             "params": g.params} for g in groups], "disabled": len(disabled)}
    if groups and rule.source and registered.needs_source and ctx.current_import(rule.source) is None:
        info["skipped"] = f"数据源“{SOURCE_LABELS.get(rule.source, rule.source)}”尚未导入，未核查"
        return info, None
    now, started = timezone.now(), time.perf_counter()
    with transaction.atomic():
        for group in groups:
            for hits in registered.function(ctx, group):
                writer.upsert(ctx.run, rule.code, hits, now)
        enabled_ids = [pk for group in groups for pk in group.policy_ids]
        writer.close_missing(ctx.run, rule.code, enabled_ids, closed_note(rule, ctx.run, today), now, reach)
        writer.close_missing(ctx.run, rule.code, disabled, disabled_note(rule, ctx.run, today), now, reach)
        writer.record_events(ctx.run, rule.code, ctx.run.started_by, now)
    if not groups:
        info["skipped"] = "该补贴项目未启用此规则"
    info["seconds"] = round(time.perf_counter() - started, 3)
    return info, writer.counts(ctx.run, rule.code)
