"""THE BANK SIMULATOR — a stand-in paying bank for demos and tests. It is NOT bank integration code.

A real bank talks to the platform through the bank API (banks/api.py) or exchanges files (banks/formats.py and
the result import of the payments app). This module plays the bank's side so that the demo and the tests can
run a batch end to end without a bank: it fetches the batch, "pays" each open attempt, fails a configurable
share with the realistic reasons of SPEC §5.3 and processing dates within the bank's 2 working days, and posts
the results back. Nothing here writes to the database directly: in API mode it goes through the HTTP API like
any bank (over HTTP with urllib, or in process through Django's test client); in file mode it only reads a
payment file and writes a result file.

    yikatong bank-sim --url http://127.0.0.1:8000 --key KEY [--fail-share 0.05] [--seed 7] [--once | --loop]
    yikatong bank-sim --file PAYMENT.csv --out RESULT.csv [--fail-share 0.05] [--seed 7]

    simulate_batch("PB2026031000001", fail_share=0.2, seed=1, key=key)      # in process (tests, demo loader)

Deterministic with a seed: the outcome of a batch depends only on (seed, batch number, its open sequence
numbers), the same in API and file mode. The number of failures is exactly round(open items × share),
spread at random over the batch (selection sampling, streaming: memory does not grow with the batch).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from yikatong.core import clock, workdays

SUCCESS, FAILURE = "成功", "失败"
FAILURE_REASONS = ("账户不存在", "户名不符", "账户冻结", "账户已销户", "社保卡未激活金融功能", "其他")
# How often each reason comes up among failures (roughly what county banks report).
REASON_WEIGHTS = (3, 3, 2, 2, 3, 1)
RESULT_HEADERS = ("批次号", "序号", "收款账号", "金额", "处理结果", "失败原因", "处理日期")
API_PREFIX = "/api/bank"
TODO_STATUSES = ("released", "fetched", "partial")
PAGE_SIZE = 5000
BANK_PAYMENT_STEP = "bank_payment"


class SimulatorError(Exception):
    """The simulator cannot go on (server unreachable, refused key, bad input file)."""


# -- the bank's decisions -----------------------------------------------------------------------------------
def processing_days(start: dt.date, *, deadline: dt.date | None = None, today: dt.date | None = None) -> list[dt.date]:
    """Working days on which the bank may have processed a batch it received on `start`: from `start` to its
    deadline (2 working days, core.workdays), never after today. At least one day."""
    today = today or clock.today()
    deadline = deadline or workdays.deadline_for(BANK_PAYMENT_STEP, start)
    end = min(deadline, today)
    days, day = [], start
    while day <= end:
        if workdays.is_working_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days or [max(start, end)]


def failure_count(total: int, share: float) -> int:
    return int(Decimal(str(total * share)).quantize(Decimal("1"), rounding="ROUND_HALF_UP"))


class Decider:
    """The fate of each open line of ONE batch, decided in sequence order.

    Without `fail_seqs`, exactly failure_count(total, share) of the `total` lines fail, chosen uniformly at
    random (Knuth's selection sampling, one pass); with `fail_seqs` (a set of sequence numbers, or a mapping
    seq → reason) exactly those fail. Reasons are drawn from FAILURE_REASONS and dates from `days`."""

    def __init__(self, *, batch_number: str, total: int, fail_share: float = 0.0, seed: int | None = None,
                 fail_seqs: Iterable[int] | Mapping[int, str] | None = None, days: list[dt.date]):
        if not 0 <= fail_share <= 1:
            raise SimulatorError(f"失败比例须在 0 到 1 之间：{fail_share}")
        self.rng = random.Random(f"{seed}:{batch_number}") if seed is not None else random.Random()
        self.fail_seqs = None if fail_seqs is None else (
            dict(fail_seqs) if isinstance(fail_seqs, Mapping) else {int(s): "" for s in fail_seqs})
        self.left = max(0, total)
        self.to_fail = min(self.left, failure_count(self.left, fail_share))
        self.days = sorted(days)

    def decide(self, seq: int) -> tuple[bool, str, dt.date]:
        """(paid?, failure reason, processing date) of the next line."""
        if self.fail_seqs is not None:
            failed = int(seq) in self.fail_seqs
            reason = self.fail_seqs.get(int(seq)) or ""
        else:
            failed = self.left > 0 and self.rng.random() * self.left < self.to_fail
            self.left = max(0, self.left - 1)
            self.to_fail -= failed
            reason = ""
        if failed and not reason:
            reason = self.rng.choices(FAILURE_REASONS, weights=REASON_WEIGHTS)[0]
        day = self.rng.choice(self.days)
        return (not failed), (reason if failed else ""), day


def result_row(batch_number: str, seq, account: str, amount, decision: tuple[bool, str, dt.date]) -> dict:
    ok, reason, day = decision
    return {"批次号": batch_number, "序号": str(seq), "收款账号": account, "金额": _money(amount),
            "处理结果": SUCCESS if ok else FAILURE, "失败原因": reason, "处理日期": day.isoformat()}


def _money(value) -> str:
    return f"{Decimal(str(value)):.2f}"


# -- file mode ----------------------------------------------------------------------------------------------
@dataclass
class FileRun:
    lines: int = 0
    paid: int = 0
    failed: int = 0
    batches: list[str] = field(default_factory=list)


def _payment_lines(path) -> Iterable[dict]:
    """Data lines of a payment file (CSV or XLSX, SPEC §5.3), without the control line."""
    from yikatong.core.errors import DomainError
    from yikatong.core.tabular import open_table

    try:
        with open_table(path, required=["批次号", "序号", "收款账号", "金额"],
                        optional=["收款人姓名", "开户银行", "补贴项目", "补贴期间", "摘要"]) as table:
            for row_number, row in table:
                if row["批次号"] == "合计" or not row["序号"].isdigit():
                    continue  # the control line (合计, count, total) and anything that is not a payment line
                row["_row"] = row_number
                yield row
    except DomainError as exc:
        raise SimulatorError(f"付款文件无法读取：{exc.message}") from None


def simulate_file(source, out, *, fail_share: float = 0.0, seed: int | None = None,
                  fail_seqs: Iterable[int] | Mapping[int, str] | None = None, start: dt.date | None = None,
                  today: dt.date | None = None) -> FileRun:
    """Read a payment file, "pay" every line, write the result file (`out`: a path ending .csv or .xlsx).

    The bank received the file on `start` (default today); processing dates fall on its working days up to the
    2-working-day deadline and never after today. Two passes over the file: count, then decide."""
    from yikatong.core.tabular import write_csv, xlsx_writer

    today = today or clock.today()
    start = start or today
    totals: dict[str, int] = {}
    for row in _payment_lines(source):
        totals[row["批次号"]] = totals.get(row["批次号"], 0) + 1
    if not totals:
        raise SimulatorError("付款文件中没有代发明细行。")
    days = processing_days(start, today=today)
    deciders = {number: Decider(batch_number=number, total=n, fail_share=fail_share, seed=seed,
                                fail_seqs=fail_seqs, days=days) for number, n in totals.items()}
    run = FileRun(batches=list(totals))

    def rows():
        for row in _payment_lines(source):
            decision = deciders[row["批次号"]].decide(int(row["序号"]))
            run.lines += 1
            run.paid += decision[0]
            run.failed += not decision[0]
            yield result_row(row["批次号"], row["序号"], row["收款账号"], row["金额"], decision)

    if str(out).lower().endswith(".xlsx"):
        with xlsx_writer(out, RESULT_HEADERS, sheet_title="回盘") as writer:
            writer.write_rows(rows())
    else:
        with open(out, "wb") as fh:
            write_csv(rows(), RESULT_HEADERS, fh)
    return run


# -- API mode: transports -----------------------------------------------------------------------------------
class HttpTransport:
    """The bank API over HTTP (standard library urllib)."""

    def __init__(self, base_url: str, key: str, *, timeout: float = 120):
        self.base = base_url.rstrip("/") + API_PREFIX
        self.key, self.timeout = key, timeout

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None):
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "X-API-Key": self.key, "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - operator's URL
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"null")
            except ValueError:
                return exc.code, {"detail": raw.decode("utf-8", "replace")[:300]}
        except (urllib.error.URLError, OSError) as exc:
            raise SimulatorError(f"无法连接平台 {self.base}：{exc}") from None


class DjangoTransport:
    """The bank API in process through Django's test client (tests, the demo loader): no server needed."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None):
        headers = {"X-API-Key": self.key}
        if method == "GET":
            response = self.client.get(API_PREFIX + path, params or {}, headers=headers)
        else:
            response = self.client.post(API_PREFIX + path, json.dumps(body, ensure_ascii=False),
                                        content_type="application/json", headers=headers)
        try:
            payload = json.loads(response.content or b"null")
        except ValueError:
            payload = {"detail": response.content.decode("utf-8", "replace")[:300]}
        return response.status_code, payload


class BankApi:
    """The calls the simulated bank makes; any non-2xx answer raises SimulatorError with the server's reason."""

    def __init__(self, transport):
        self.transport = transport

    def _call(self, method: str, path: str, **kwargs):
        status, payload = self.transport.request(method, path, **kwargs)
        if not 200 <= status < 300:
            detail = payload.get("detail") if isinstance(payload, dict) else payload
            raise SimulatorError(f"平台拒绝 {method} {path}（HTTP {status}）：{detail}")
        return payload

    def batches(self, statuses: Iterable[str] = TODO_STATUSES) -> list[dict]:
        return self._call("GET", "/batches", params={"status": ",".join(statuses)})

    def batch(self, number: str) -> dict:
        return self._call("GET", f"/batches/{urllib.parse.quote(number)}")

    def items(self, number: str, *, after_seq: int, limit: int) -> dict:
        return self._call("GET", f"/batches/{urllib.parse.quote(number)}/items",
                          params={"after_seq": after_seq, "limit": limit})

    def post_results(self, number: str, results: list[dict]) -> dict:
        return self._call("POST", "/results", body={"batch": number, "results": results})


# -- API mode: paying batches -------------------------------------------------------------------------------
@dataclass
class BatchRun:
    batch: str
    open_items: int = 0
    paid: int = 0
    failed: int = 0
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    imports: list[str] = field(default_factory=list)


def _received_on(header: dict, today: dt.date) -> dt.date:
    from django.utils import timezone

    text = header.get("released_at") or ""
    if not text:
        return today
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def pay_batch(api: BankApi, number: str, *, fail_share: float = 0.0, seed: int | None = None,
              fail_seqs: Iterable[int] | Mapping[int, str] | None = None, report_seqs: Iterable[int] | None = None,
              post: bool = True, page_size: int = PAGE_SIZE, today: dt.date | None = None,
              log: Callable[[str], None] | None = None) -> BatchRun:
    """Fetch one batch page by page, decide each OPEN attempt (status sent) and post the page's results.

    `report_seqs` limits what is posted (the others stay open: a partial batch); `post=False` only fetches
    (the batch becomes "fetched"). Results are posted once per page (one result import each)."""
    today = today or clock.today()
    header = api.batch(number)
    deadline = dt.date.fromisoformat(header["pay_deadline"]) if header.get("pay_deadline") else None
    days = processing_days(_received_on(header, today), deadline=deadline, today=today)
    run = BatchRun(batch=number, open_items=int(header.get("open_count", header["item_count"])))
    decider = Decider(batch_number=number, total=run.open_items, fail_share=fail_share, seed=seed,
                      fail_seqs=fail_seqs, days=days)
    wanted = None if report_seqs is None else {int(s) for s in report_seqs}
    after_seq = 0
    while True:
        page = api.items(number, after_seq=after_seq, limit=page_size)
        items = page["items"]
        results = []
        for item in items:
            if item["status"] != "sent":
                continue
            ok, reason, day = decider.decide(item["seq"])
            if wanted is not None and item["seq"] not in wanted:
                continue
            run.paid += ok
            run.failed += not ok
            results.append({"seq": item["seq"], "account": item["account"], "amount": _money(item["amount"]),
                            "outcome": SUCCESS if ok else FAILURE, "reason": reason,
                            "processed_on": day.isoformat()})
        if results and post:
            answer = api.post_results(number, results)
            run.applied += answer["applied_count"]
            run.duplicates += answer["duplicate_count"]
            run.rejected += answer["rejected_count"]
            run.imports.append(str(answer["id"]))
        if page.get("next_after_seq") is None:
            break
        after_seq = page["next_after_seq"]
    if log:
        verb = "已回传" if post else "仅下载，未回传"
        log(f"批次 {number}：待处理 {run.open_items} 笔，成功 {run.paid} 笔，失败 {run.failed} 笔（{verb}；"
            f"入账 {run.applied}，重复 {run.duplicates}，拒收 {run.rejected}）。")
    return run


def run_once(api: BankApi, *, batch: str = "", log: Callable[[str], None] | None = None, **options) -> list[BatchRun]:
    """Pay one named batch, or every batch of the bank that still has open attempts."""
    if batch:
        return [pay_batch(api, batch, log=log, **options)]
    todo = [b["number"] for b in api.batches(TODO_STATUSES) if b.get("open_count", 1) > 0]
    if not todo and log:
        log("没有待处理的批次。")
    return [pay_batch(api, number, log=log, **options) for number in reversed(todo)]  # oldest first


def run_loop(api: BankApi, *, interval: float, log: Callable[[str], None] | None = None,
             rounds: int | None = None, sleep: Callable[[float], None] = time.sleep, **options) -> None:
    """run_once every `interval` seconds (forever, or `rounds` times); a failing round is logged, not fatal."""
    done = 0
    while rounds is None or done < rounds:
        try:
            run_once(api, log=log, **options)
        except SimulatorError as exc:
            if log:
                log(str(exc))
        done += 1
        if rounds is None or done < rounds:
            sleep(interval)


# -- in process (tests, demo loader) ------------------------------------------------------------------------
def simulator_key(bank_code: str, *, name: str = "银行模拟器") -> str:
    """Issue a bank credential for the simulator to `bank_code` (through the credential service, audited) and
    return the plain key. For the demo and tests; production banks get theirs from an administrator."""
    from yikatong.core.scope import Scope
    from yikatong.core.services.apikeys import apikey_create

    return apikey_create(actor=Scope.system(reason="bank-sim"), organization_code=bank_code, name=name,
                         interfaces=["bank"])[1]


def simulate_batch(batch_number: str, *, fail_share: float = 0.0, seed: int | None = None,
                   fail_seqs: Iterable[int] | Mapping[int, str] | None = None,
                   report_seqs: Iterable[int] | None = None, post: bool = True, client=None, key: str = "",
                   today: dt.date | None = None) -> BatchRun:
    """Drive the bank API in process for one batch: `client` is a BankApi, a transport, a django.test.Client
    (with `key`), or None (a new django.test.Client with `key`)."""
    if isinstance(client, BankApi):
        api = client
    elif hasattr(client, "request") and not hasattr(client, "get"):
        api = BankApi(client)
    else:
        if not key:
            raise SimulatorError("进程内模拟需要银行接口凭证（key），可用 simulator_key(银行机构编码) 发放。")
        if client is None:
            from django.test import Client

            client = Client()
        api = BankApi(DjangoTransport(client, key))
    return pay_batch(api, batch_number, fail_share=fail_share, seed=seed, fail_seqs=fail_seqs,
                     report_seqs=report_seqs, post=post, today=today)
