"""`yikatong create-apikey`: issue an API credential to an outside system (a bank, the data-sharing
exchange). The key is printed once; only its digest is stored.

  yikatong create-apikey --org WZ-CRCB --name 农商行代发接口 --interface bank --expires 2027-12-31
  yikatong create-apikey --revoke 12 --reason 密钥泄露
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from yikatong.core.errors import DomainError
from yikatong.core.roles import API_INTERFACES
from yikatong.core.scope import Scope
from yikatong.core.services.apikeys import apikey_create, apikey_revoke


class Command(BaseCommand):
    help = "发放（或吊销）外部系统的接口凭证。"

    def add_arguments(self, parser):
        parser.add_argument("--org", default="", help="机构编码")
        parser.add_argument("--name", default="", help="凭证名称，如“农商行代发接口”")
        parser.add_argument("--interface", action="append", default=[], choices=sorted(API_INTERFACES),
                            help="可用接口，可重复给出")
        parser.add_argument("--expires", default="", help="有效期至（YYYY-MM-DD，含当日）；不填为长期有效")
        parser.add_argument("--revoke", type=int, default=None, help="吊销指定编号的凭证")
        parser.add_argument("--reason", default="", help="吊销原因")

    def handle(self, *args, **options):
        actor = Scope.system(reason="create-apikey")
        try:
            if options["revoke"] is not None:
                cred = apikey_revoke(actor=actor, key_id=options["revoke"], reason=options["reason"])
                self.stdout.write(self.style.SUCCESS(f"已吊销接口凭证 {cred.pk}（{cred.key_prefix}…）。"))
                return
            if not options["org"] or not options["name"]:
                raise CommandError("发放凭证需要 --org（机构编码）和 --name（凭证名称）。")
            expires = None
            if options["expires"]:
                try:
                    expires = dt.date.fromisoformat(options["expires"])
                except ValueError:
                    raise CommandError(f"有效期“{options['expires']}”无效：格式应为 YYYY-MM-DD。") from None
            cred, key = apikey_create(actor=actor, organization_code=options["org"], name=options["name"],
                                      interfaces=options["interface"], expires_at=expires)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(
            f"已为 {cred.organization.name} 发放接口凭证 {cred.pk}（可用接口：{'、'.join(cred.interfaces)}）。"
        ))
        self.stdout.write("凭证只显示这一次，请立即妥善交付（请求头 X-API-Key）：")
        self.stdout.write(key)
