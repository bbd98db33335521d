"""Writes of the rule engine: check runs and rule configuration (runs.py), decisions on findings (findings.py).

    from yikatong.checks.services.runs import check_run_applications, check_run_items, rule_config_set
    from yikatong.checks.services.findings import finding_confirm, finding_clear, finding_decide_review
"""
