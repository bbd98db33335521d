"""The cross-check rule engine (SPEC §3.5, §6).

  catalogue.py   the rules, their default severities and parameters (pure)
  context.py     effective settings per policy, current source imports, what a rule sees
  subjects.py    the generic input: the working set of a run (applications or payment items)
  rules/         one module per rule group; each rule is one set-based SQL statement (ORM or raw SQL)
  writer.py      hits → findings (upsert on the fingerprint), automatic closing, history, counts
  runner.py      evaluates every rule on a working set
  sql.py         the few vendor differences (JSON building, typed parameters)

Services (yikatong.checks.services.runs) create runs and call runner.execute; nothing else writes findings
except the decision services (yikatong.checks.services.findings).
"""
