"""What a rule sees while it runs: the run, its working set, the current import of each source, and the
effective setting of the rule for each policy in the working set (grouped, so one statement serves every
policy that shares a severity and parameters)."""

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db.models import QuerySet

from yikatong.checks.models import CheckRun, CheckSubject, RuleConfig, SourceState
from yikatong.policies.models import Policy

from . import catalogue


@dataclass(frozen=True)
class Group:
    """Policies of the working set for which a rule is enabled with the same severity and parameters."""

    rule: str
    policy_ids: tuple[int, ...]
    severity: str
    params: dict = field(hash=False, compare=False)

    def param(self, name):
        return self.params.get(name)


@dataclass(frozen=True)
class Period:
    period: str
    first_day: dt.date
    last_day: dt.date


@dataclass
class RuleContext:
    run: CheckRun
    imports: dict[str, object]  # source code → current SourceImport id (missing when never imported)
    periods: list[Period]
    today: dt.date

    def subjects(self, group: Group) -> QuerySet:
        return CheckSubject.objects.filter(run_id=self.run.pk, policy_id__in=group.policy_ids)

    def current_import(self, source: str):
        return self.imports.get(source)


def current_imports() -> dict[str, object]:
    return {
        state.source: state.current_import_id
        for state in SourceState.objects.filter(current_import__isnull=False).only("source", "current_import_id")
    }


def settings_by_policy(policy_ids) -> dict[int, dict[str, catalogue.Setting]]:
    """{policy id: {rule code: effective Setting}} for the given policies."""
    policies = {p.pk: p for p in Policy.objects.filter(pk__in=list(policy_ids))
                .only("id", "means_tested", "min_age", "max_age")}
    rows: dict[tuple[int, str], RuleConfig] = {
        (row.policy_id, row.rule): row for row in RuleConfig.objects.filter(policy_id__in=list(policies))
    }
    result = {}
    for pk, policy in policies.items():
        result[pk] = {
            rule.code: catalogue.effective(rule, means_tested=policy.means_tested, min_age=policy.min_age,
                                           max_age=policy.max_age, row=rows.get((pk, rule.code)))
            for rule in catalogue.RULES
        }
    return result


def groups_for(rule: str, settings: dict[int, dict[str, catalogue.Setting]]) -> tuple[list[Group], list[int]]:
    """(groups of policies where `rule` is enabled, ids of policies where it is disabled)."""
    buckets: dict[tuple[str, str], list[int]] = {}
    params_of: dict[tuple[str, str], dict] = {}
    disabled = []
    for pk, by_rule in sorted(settings.items()):
        setting = by_rule[rule]
        if not setting.enabled:
            disabled.append(pk)
            continue
        key = (setting.severity, json.dumps(setting.params, sort_keys=True, default=str))
        buckets.setdefault(key, []).append(pk)
        params_of[key] = setting.params
    groups = [Group(rule, tuple(ids), key[0], params_of[key]) for key, ids in buckets.items()]
    return groups, disabled
