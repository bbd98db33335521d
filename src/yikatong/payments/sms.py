"""Pluggable SMS senders. The platform never talks to a phone network itself: in production the province's
SMS gateway is reached through `HttpGatewaySender`; on a desk or in tests messages go to a file or the console.

A sender takes (phone, text, reference) and returns None on success or raises SmsError with the reason."""

import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from yikatong.core import clock

log = logging.getLogger("yikatong.sms")


class SmsError(Exception):
    pass


class ConsoleSender:
    name = "console"

    def send(self, phone: str, text: str, reference: str) -> None:
        print(f"[短信] {phone} {text} ({reference})")


class FileSender:
    """Appends one JSON line per message to <YIKATONG_HOME>/sms/outbox.jsonl (the default)."""

    name = "file"

    def __init__(self, path: Path | None = None):
        self.path = Path(path or settings.HOME / "sms" / "outbox.jsonl")

    def send(self, phone: str, text: str, reference: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": clock.now().isoformat(), "phone": phone, "text": text, "ref": reference},
                          ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class HttpGatewaySender:
    """POSTs {"phone", "text", "ref"} as JSON to the gateway URL with a bearer token; any 2xx is success."""

    name = "http"

    def __init__(self, url: str, token: str = "", timeout: float = 10.0):
        if not url:
            raise SmsError("未配置短信网关地址（YIKATONG_SMS_URL）。")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, phone: str, text: str, reference: str) -> None:
        body = json.dumps({"phone": phone, "text": text, "ref": reference}, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                if not 200 <= response.status < 300:
                    raise SmsError(f"短信网关返回 {response.status}")
        except urllib.error.HTTPError as exc:
            raise SmsError(f"短信网关返回 {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsError(f"短信网关不可达：{exc}") from exc


def get_sender():
    kind = getattr(settings, "YIKATONG_SMS_SENDER", "file") or "file"
    if kind == "console":
        return ConsoleSender()
    if kind == "http":
        return HttpGatewaySender(settings.YIKATONG_SMS_URL, settings.YIKATONG_SMS_TOKEN)
    if kind == "file":
        return FileSender()
    raise SmsError(f"未知的短信发送通道：{kind}（可选 file、console、http）")
