"""`yikatong create-user`: create a staff account from the command line (acts as the platform itself).

  yikatong create-user --username zhangsan --org WZ-CZJ --role finance --full-name 张三
  yikatong create-user --username admin --org PLAT-YYZX --role admin \
      --new-org-name 一卡通平台运营中心 --new-org-kind admin --new-org-region 500000000000

The password comes from --password, the YIKATONG_PASSWORD environment variable, or is asked for
(twice) when the terminal is interactive. With --new-org-*, the organization is created first when it
does not exist yet (to set up the very first administrator).
"""

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from yikatong.core.errors import DomainError
from yikatong.core.models import Organization, OrgKind, Role
from yikatong.core.scope import Scope
from yikatong.core.services.orgs import organization_create
from yikatong.core.services.users import user_create


class Command(BaseCommand):
    help = "新建用户账号（以平台身份执行，不受区划范围限制）。"

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True, help="用户名（登录用）")
        parser.add_argument("--org", required=True, help="所属机构编码")
        parser.add_argument("--role", required=True, choices=Role.values, help="角色")
        parser.add_argument("--full-name", default="", help="姓名")
        parser.add_argument("--phone", default="", help="办公电话")
        parser.add_argument("--password", default=None,
                            help="初始密码（不建议在命令行给出；可用环境变量 YIKATONG_PASSWORD 或交互输入）")
        staff = parser.add_mutually_exclusive_group()
        staff.add_argument("--staff", dest="is_staff", action="store_true", default=None,
                           help="允许登录 Django 后台（默认仅管理员）")
        staff.add_argument("--no-staff", dest="is_staff", action="store_false")
        parser.add_argument("--new-org-name", default="", help="机构不存在时先新建：机构名称")
        parser.add_argument("--new-org-kind", default="", choices=["", *OrgKind.values], help="新建机构的类型")
        parser.add_argument("--new-org-region", default="", help="新建机构的区划代码")
        parser.add_argument("--new-org-line", default="", help="新建机构的业务条线（主管部门必填）")

    def handle(self, *args, **options):
        password = self._password(options["password"])
        actor = Scope.system(reason="create-user")
        try:
            with transaction.atomic():
                if options["new_org_name"] and not Organization.objects.filter(code=options["org"]).exists():
                    if not options["new_org_kind"] or not options["new_org_region"]:
                        raise CommandError("新建机构需要同时给出 --new-org-kind 和 --new-org-region。")
                    org = organization_create(
                        actor=actor, code=options["org"], name=options["new_org_name"],
                        kind=options["new_org_kind"], region_code=options["new_org_region"],
                        business_line=options["new_org_line"],
                    )
                    self.stdout.write(f"已新建机构 {org.code}（{org.name}）。")
                user = user_create(
                    actor=actor, username=options["username"], password=password,
                    organization_code=options["org"], role=options["role"], full_name=options["full_name"],
                    phone=options["phone"], is_staff=options["is_staff"],
                )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(
            f"已新建用户 {user.username}（{user.organization.name}，{user.get_role_display()}）。"
        ))

    def _password(self, given: str | None) -> str:
        if given:
            return given
        from_env = os.environ.get("YIKATONG_PASSWORD", "")
        if from_env:
            return from_env
        if not sys.stdin.isatty():
            raise CommandError("请用 --password 或环境变量 YIKATONG_PASSWORD 提供初始密码。")
        first = getpass.getpass("初始密码：")
        second = getpass.getpass("再次输入：")
        if first != second:
            raise CommandError("两次输入的密码不一致。")
        return first
