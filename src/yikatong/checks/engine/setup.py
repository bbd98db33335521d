"""Called from ChecksConfig.ready(): the engine's permissions and its approval gate."""

from yikatong.core.models import Role
from yikatong.core.roles import register_permissions

PERMISSIONS = {
    # findings lists, evidence, runs, rule settings
    "finding.view": {Role.DEPARTMENT, Role.FINANCE, Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN},
    # confirm / clear / decide (department of the policy's business line, in its region)
    "finding.decide": {Role.DEPARTMENT},
    # start a check run (department for its line; finance when it reviews payment data)
    "check.run": {Role.DEPARTMENT, Role.FINANCE},
    # rule settings per policy (department of the policy's line at the policy's level)
    "check.configure": {Role.DEPARTMENT},
}


def install_engine() -> None:
    from yikatong.applications.services import register_findings_gate
    from yikatong.checks.selectors_findings import open_block_findings

    register_permissions(PERMISSIONS)
    register_findings_gate(open_block_findings)
