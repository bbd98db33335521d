"""`yikatong rotate-keys`: rotate the personal-data encryption key. See docs/personal-data.md.

  yikatong rotate-keys --status
  yikatong rotate-keys --new-data-key
  yikatong rotate-keys --reencrypt app_label.Model field [field …] [--batch-size 5000]
"""

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from yikatong.core import crypto
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.core.services.pii import REENCRYPT_BATCH, pii_reencrypt


class Command(BaseCommand):
    help = "个人信息加密密钥轮换：新增数据密钥，或用当前密钥重新加密指定模型的加密字段。"

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--status", action="store_true", help="显示数据密钥来源、编号和当前加密密钥")
        group.add_argument("--new-data-key", action="store_true", help="在密钥文件中新增一把数据密钥（成为当前密钥）")
        group.add_argument(
            "--reencrypt", nargs="+", metavar="ARG",
            help="app_label.Model 字段 [字段 …]：用当前数据密钥重新加密这些加密字段（BinaryField）",
        )
        parser.add_argument(
            "--batch-size", type=int, default=REENCRYPT_BATCH, help=f"每批处理的行数（默认 {REENCRYPT_BATCH}）"
        )

    def handle(self, *args, status=False, new_data_key=False, reencrypt=None, batch_size=REENCRYPT_BATCH, **options):
        try:
            if status:
                self._status()
            elif new_data_key:
                self._new_data_key()
            else:
                self._reencrypt(reencrypt, batch_size)
        except (ImproperlyConfigured, crypto.CryptoError, DomainError) as exc:
            raise CommandError(str(exc)) from exc

    def _status(self):
        ring = crypto.keyring()
        where = "环境变量 YIKATONG_DATA_KEY" if ring.source == "env" else f"密钥文件 {ring.path}"
        ids = "、".join(str(key_id) for key_id in sorted(ring.ciphers))
        self.stdout.write(f"数据密钥来源：{where}；已有密钥编号：{ids}；当前加密密钥：{ring.current_id}")

    def _new_data_key(self):
        ring = crypto.keyring()
        if ring.source == "env":
            raise CommandError(
                "数据密钥来自环境变量 YIKATONG_DATA_KEY，本命令不修改环境变量。请在 YIKATONG_DATA_KEY 末尾追加"
                f"“,{ring.current_id + 1}:<64位十六进制>”（可用 python -c \"import secrets;print(secrets.token_hex(32))\" "
                "生成；旧密钥保留），重启全部 web 和 worker 进程后，再执行 "
                "yikatong rotate-keys --reencrypt app_label.Model 字段 …"
            )
        new_id = crypto.add_data_key()
        self.stdout.write(f"已在 {ring.path} 中新增数据密钥 {new_id}，今后新加密的数据使用该密钥；旧密钥仍用于解密。")
        self.stdout.write("下一步：")
        self.stdout.write("  1. 备份密钥文件（与数据库备份分开保管）；")
        self.stdout.write("  2. 重启全部 web 和 worker 进程（未重启的进程遇到新密钥的密文时会自动重读密钥文件）；")
        self.stdout.write("  3. 对每个含加密字段的模型执行 yikatong rotate-keys --reencrypt app_label.Model 字段 …；")
        self.stdout.write("  4. 全部重新加密并确认备份后，旧密钥才可以从密钥文件中删除。")

    def _reencrypt(self, arguments, batch_size):
        if len(arguments) < 2:
            raise CommandError("用法：--reencrypt app_label.Model 字段 [字段 …]（至少一个字段）")
        if batch_size < 1:
            raise CommandError("--batch-size 必须是正整数。")
        label, fields = arguments[0], arguments[1:]
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError) as exc:
            raise CommandError(f"找不到模型 {label}：请写成 app_label.Model，如 registry.Beneficiary") from exc

        def progress(examined: int, changed: int, total: int) -> None:
            self.stdout.write(f"已处理 {examined}/{total} 行，重新加密 {changed} 行…")

        current = crypto.keyring().current_id
        examined, changed = pii_reencrypt(
            actor=Scope.system(reason="rotate-keys"), model=model, fields=fields,
            batch_size=batch_size, progress=progress,
        )
        self.stdout.write(
            f"完成：{label} 的字段 {', '.join(fields)} 共 {examined} 行，其中 {changed} 行已改用数据密钥 {current} 加密。"
        )
