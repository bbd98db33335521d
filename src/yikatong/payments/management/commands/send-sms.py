"""yikatong send-sms [--limit N]: send the queued credit SMS through the configured sender
(YIKATONG_SMS_SENDER = file | console | http)."""

from django.core.management.base import BaseCommand, CommandError

from yikatong.payments.services.notices import sms_dispatch
from yikatong.payments.sms import SmsError


class Command(BaseCommand):
    help = "发送待发的到账短信（通道由 YIKATONG_SMS_SENDER 配置：file、console 或 http）。"

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100000, help="本次最多发送的条数")

    def handle(self, *args, limit, **options):
        try:
            counts = sms_dispatch(limit=limit)
        except SmsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"发送成功 {counts['sent']} 条，失败 {counts['failed']} 条，无手机号 {counts['no_phone']} 条。")
        if counts["failed"]:
            raise CommandError("部分短信发送失败，请查看到账短信页面的失败原因。")
