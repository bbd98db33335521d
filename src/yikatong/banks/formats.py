"""Bank payment files (代发明细) of one batch, SPEC §5.3: CSV, XLSX and ISO 20022 pain.001.001.03 XML.

Every writer streams the batch's attempts from a server-side cursor in chunks (ordered by seq), decrypts the
account numbers chunk by chunk and writes rows as it goes: memory does not grow with the batch. The account
number is written IN FULL — the file is for the paying bank; who generated it is audited by the caller
(services.batch_files.payment_files_generate). Each writer returns a `FileTotals(count, total)` computed from
the rows it wrote; the caller checks them against the batch totals.

CSV / XLSX layout (the contract with the banks and the bank simulator; see docs/payments.md):
  header  批次号,序号,收款人姓名,收款账号,开户银行,金额,补贴项目,补贴期间,摘要
  rows    one per attempt, ordered by 序号 (1..n); 金额 with two decimals, no grouping
  control the LAST line, aligned with the headers: 批次号 = "合计", 序号 = item count, 金额 = total,
          摘要 = "控制行"; other cells empty. e.g.  合计,3,,,,900.00,,,控制行
CSV is UTF-8 with a BOM, comma separated, CRLF line ends (csv module defaults), no formula escaping (the file is
read by bank software, and every cell must stay byte-exact).

pain.001.001.03: one GrpHdr (MsgId = batch number, NbOfTxs, CtrlSum), one PmtInf (TRF, CNY, ReqdExctnDt = the
release date, Dbtr = the competent department, DbtrAgt = the paying bank), one CdtTrfTxInf per attempt with
EndToEndId "<batch number>-<seq>", InstdAmt Ccy="CNY", CdtrAgt/FinInstnId/Nm = 开户银行, Cdtr/Nm = 收款人姓名,
CdtrAcct/Id/Othr/Id = 收款账号, RmtInf/Ustrd = 摘要. `validate_pain001` checks a file against the XSD
(vendored from the sepaxml package under banks/xsd/) with xmlschema, offline.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from xml.sax.saxutils import escape

from yikatong.core import crypto
from yikatong.core.errors import DomainError

HEADERS = ("批次号", "序号", "收款人姓名", "收款账号", "开户银行", "金额", "补贴项目", "补贴期间", "摘要")
CONTROL_MARK = "合计"
CONTROL_NOTE = "控制行"
CHUNK = 10000
PAIN001_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
PAIN001_XSD = "pain.001.001.03.xsd"
XLSX_MAX_ROWS = 1_048_576 - 2  # one sheet: header + rows + control line
CENT = Decimal("0.01")


@dataclass(frozen=True)
class FileTotals:
    count: int
    total: Decimal


def batch_summary(batch) -> str:
    """The 摘要 of every row: policy, period and kind, e.g. "WZ-001 高龄津贴 2026-03 首次发放"."""
    return f"{batch.policy.code} {batch.policy.name} {batch.period} {batch.get_kind_display()}"[:140]


def _decryptor():
    """A decrypt for one blob: the keyring's ciphers looked up once; anything unusual (an unknown key, a bad
    header) goes through core.crypto.decrypt_text, which raises the proper error."""
    ring = crypto.keyring()
    ciphers = ring.ciphers
    header, nonce_end = crypto.HEADER_SIZE, crypto.HEADER_SIZE + crypto.NONCE_SIZE

    def decrypt(blob) -> str:
        blob = bytes(blob)
        cipher = ciphers.get(blob[1]) if len(blob) >= crypto.MIN_BLOB_SIZE and blob[0] == crypto.VERSION else None
        if cipher is None:
            return crypto.decrypt_text(blob)
        try:
            return cipher.decrypt(blob[header:nonce_end], blob[nonce_end:], blob[:header]).decode()
        except Exception:  # noqa: BLE001 - let decrypt_text raise its readable CryptoError
            return crypto.decrypt_text(blob)

    return decrypt


def _bulk_decryptor():
    """Decrypt a list of blobs at once (core.crypto's format: version, key id, nonce, AES-GCM ciphertext; the
    2-byte header is the associated data). Fast path: every blob of the list with the cipher and header of the
    first blob — a blob of another key, another version or a damaged one fails authentication, and then the whole
    list goes blob by blob through `_decryptor` (other keys, or decrypt_text's readable error)."""
    ciphers = crypto.keyring().ciphers
    one = _decryptor()
    h, n = crypto.HEADER_SIZE, crypto.HEADER_SIZE + crypto.NONCE_SIZE

    def decrypt_all(blobs: list) -> list[str]:
        if not blobs:
            return []
        first = blobs[0]
        cipher = ciphers.get(first[1]) if len(first) >= h and first[0] == crypto.VERSION else None
        if cipher is not None:
            # The associated data is the FIRST blob's header for every blob: a blob with another header (key,
            # version) fails authentication like a damaged one, and the list goes one by one.
            dec, head = cipher.decrypt, bytes(first[:h])
            try:
                return [dec(b[h:n], b[n:], head).decode() for b in blobs]
            except Exception:  # noqa: BLE001 - mixed keys or a bad blob: one by one below
                pass
        return [one(b) for b in blobs]

    return decrypt_all


def fen_text(fen: int) -> str:
    """Integer fen as yuan with two decimals: 30050 -> "300.50" (amounts are positive: a check constraint)."""
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def fen_decimal(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


def _fen_sql(column: str) -> str:
    """The amount as integer fen, computed by the database: exact on PostgreSQL (numeric); on SQLite (stored as
    a float when not whole) rounded to the nearest fen."""
    return f"CAST(ROUND({column} * 100) AS BIGINT)"


_COLUMN_GETTERS = tuple(itemgetter(i) for i in range(5))


def iter_columns(batch, *, chunk_size: int = CHUNK):
    """Chunks of the batch's attempts in seq order as COLUMNS: (seqs, payee_names, accounts, bank_names, fens),
    read with a server-side cursor (PostgreSQL; SQLite steps through its result) `chunk_size` rows at a time,
    accounts decrypted per chunk, amounts as integer fen. Withdrawn attempts (a cancelled batch) are not part of
    any file. Memory does not grow with the batch."""
    from django.db import connection

    from yikatong.payments.models import AttemptStatus, PaymentAttempt

    decrypt_all = _bulk_decryptor()
    table = connection.ops.quote_name(PaymentAttempt._meta.db_table)
    sql = (f"SELECT seq, payee_name, account_enc, bank_name, {_fen_sql('amount')} FROM {table} "
           "WHERE batch_id = %s AND status <> %s ORDER BY seq")
    connection.ensure_connection()
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql, [batch.pk, AttemptStatus.WITHDRAWN])
        while True:
            rows = cursor.fetchmany(chunk_size)
            if not rows:
                return
            seqs, names, blobs, banks, fens = (list(map(get, rows)) for get in _COLUMN_GETTERS)
            del rows
            yield seqs, names, decrypt_all(blobs), banks, list(map(int, fens))
    finally:
        cursor.close()


def iter_chunks(batch, *, chunk_size: int = CHUNK):
    """Lists of (seq, payee_name, account, bank_name, amount: Decimal) of the batch's attempts in seq order."""
    money: dict[int, Decimal] = {}
    for seqs, names, accounts, banks, fens in iter_columns(batch, chunk_size=chunk_size):
        for fen in set(fens).difference(money):
            money[fen] = fen_decimal(fen)
        yield list(zip(seqs, names, accounts, banks, map(money.__getitem__, fens), strict=True))


def iter_rows(batch, *, chunk_size: int = CHUNK):
    """(seq, payee_name, account, bank_name, amount) of the batch's attempts in seq order, streamed."""
    for chunk in iter_chunks(batch, chunk_size=chunk_size):
        yield from chunk


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def control_row(count: int, total: Decimal) -> list[str]:
    return [CONTROL_MARK, str(count), "", "", "", _money(total), "", "", CONTROL_NOTE]


# -- CSV -----------------------------------------------------------------------------------------------------
_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def csv_cell(value) -> str:
    """One cell as csv.writer writes it (QUOTE_MINIMAL, doubled quotes): quoted only when it holds a comma, a
    quote or a line break."""
    value = "" if value is None else str(value)
    return '"' + value.replace('"', '""') + '"' if _CSV_SPECIAL.search(value) else value


def write_payment_csv(batch, fileobj) -> FileTotals:
    """Write the CSV payment file of `batch` to the binary `fileobj` (left open); byte for byte what csv.writer
    writes. Column-wise per chunk: accounts decrypted in bulk, amounts formatted from integer fen (each distinct
    amount once); the batch's constant cells are quoted once, so a row is one str.format of its five varying
    cells — unless a name, account or bank of the chunk needs quoting, then csv.writer writes that chunk. The
    chunk is encoded and written at once."""
    number, policy, period, summary = batch.number, batch.policy.name, batch.period, batch_summary(batch)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    fileobj.write(codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8"))
    buffer.seek(0)
    buffer.truncate()

    def braces(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    line = (braces(csv_cell(number)) + ",{},{},{},{},{}," + braces(
        ",".join(map(csv_cell, (policy, period, summary)))) + "\r\n").format
    count = total = 0
    texts: dict[int, str] = {}
    for seqs, names, accounts, banks, fens in iter_columns(batch):
        for fen in set(fens).difference(texts):
            texts[fen] = fen_text(fen)
        n = len(seqs)
        money = map(texts.__getitem__, fens)
        if any(_CSV_SPECIAL.search("".join(column)) for column in (names, accounts, banks)):
            writer.writerows(zip(repeat(number, n), seqs, names, accounts, banks, money,
                                 repeat(policy, n), repeat(period, n), repeat(summary, n), strict=True))
            chunk = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        else:
            chunk = "".join(map(line, seqs, names, accounts, banks, money))
        fileobj.write(chunk.encode("utf-8"))
        count += n
        total += sum(fens)
    writer.writerow([CONTROL_MARK, str(count), "", "", "", fen_text(total), "", "", CONTROL_NOTE])
    fileobj.write(buffer.getvalue().encode("utf-8"))
    return FileTotals(count, fen_decimal(total))


# -- XLSX ----------------------------------------------------------------------------------------------------
def write_payment_xlsx(batch, fileobj) -> FileTotals:
    """Write the XLSX payment file (one sheet 代发明细; every cell text except 序号 and 金额) to `fileobj`."""
    from yikatong.core.tabular import XlsxWriter

    if batch.item_count > XLSX_MAX_ROWS:
        raise DomainError(f"批次 {batch.number} 共 {batch.item_count} 笔，超过 XLSX 单表行数上限，"
                          "请使用 CSV 或 pain.001 文件。", code="too_many_rows")
    widths = {"批次号": 20, "收款人姓名": 14, "收款账号": 24, "开户银行": 22, "补贴项目": 24, "摘要": 40}
    out = XlsxWriter(fileobj, HEADERS, sheet_title="代发明细", column_widths=widths)
    number, policy, period, summary = batch.number, batch.policy.name, batch.period, batch_summary(batch)
    count, total = 0, Decimal("0.00")
    for seq, name, account, bank_name, amount in iter_rows(batch):
        out.write((number, seq, name, account, bank_name, amount, policy, period, summary))
        count += 1
        total += amount
    out.write((CONTROL_MARK, count, "", "", "", total, "", "", CONTROL_NOTE))
    out.close()
    return FileTotals(count, total)


# -- ISO 20022 pain.001.001.03 -------------------------------------------------------------------------------
def _text(value, limit: int) -> str:
    """Max<limit>Text: trimmed, at least one character, at most `limit`."""
    value = " ".join(str(value or "").split())[:limit]
    return escape(value or "-")


def end_to_end_id(batch_number: str, seq: int) -> str:
    return f"{batch_number}-{seq}"


def write_payment_pain001(batch, fileobj, *, created_at: dt.datetime | None = None,
                          execution_date: dt.date | None = None) -> FileTotals:
    """Write the pain.001.001.03 credit-transfer initiation of `batch` to the binary `fileobj`. The group header
    carries NbOfTxs and CtrlSum, which are only known after the rows: the batch's database totals are written
    there and the rows are checked against them at the end (a mismatch raises)."""
    from django.utils import timezone

    from yikatong.core import clock

    created_at = created_at or timezone.now()
    execution_date = execution_date or (timezone.localdate(batch.released_at) if batch.released_at
                                        else clock.today())
    number = batch.number
    org = batch.plan.organization
    bank = batch.bank
    summary = _text(batch_summary(batch), 140)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{PAIN001_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<CstmrCdtTrfInitn><GrpHdr>"
        f"<MsgId>{_text(number, 35)}</MsgId>"
        f"<CreDtTm>{created_at.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S')}</CreDtTm>"
        f"<NbOfTxs>{batch.item_count}</NbOfTxs><CtrlSum>{_money(batch.total_amount)}</CtrlSum>"
        f"<InitgPty><Nm>{_text(org.name, 140)}</Nm></InitgPty></GrpHdr>"
        f"<PmtInf><PmtInfId>{_text(number, 35)}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg>"
        f"<NbOfTxs>{batch.item_count}</NbOfTxs><CtrlSum>{_money(batch.total_amount)}</CtrlSum>"
        f"<ReqdExctnDt>{execution_date.isoformat()}</ReqdExctnDt>"
        f"<Dbtr><Nm>{_text(org.name, 140)}</Nm></Dbtr>"
        f"<DbtrAcct><Id><Othr><Id>{_text(org.credit_code or org.code, 34)}</Id></Othr></Id><Ccy>CNY</Ccy>"
        f"<Nm>{_text(org.name, 70)}</Nm></DbtrAcct>"
        f"<DbtrAgt><FinInstnId><Nm>{_text(bank.name, 140)}</Nm></FinInstnId></DbtrAgt>"
        "<ChrgBr>SLEV</ChrgBr>\n"
    )
    out = io.TextIOWrapper(fileobj, encoding="utf-8", newline="\n", write_through=False)
    try:
        out.write(head)
        count = total = 0
        texts: dict[int, str] = {}
        for seqs, names, accounts, banks, fens in iter_columns(batch):
            for fen in set(fens).difference(texts):
                texts[fen] = fen_text(fen)
            parts = []
            for seq, name, account, bank_name, fen in zip(seqs, names, accounts, banks, fens, strict=True):
                account = "".join(account.split())
                if not account or len(account) > 34:
                    raise DomainError(f"批次 {number} 序号 {seq} 的收款账号长度不符合 pain.001 要求（1-34 位）。",
                                      code="bad_account")
                parts.append(
                    f"<CdtTrfTxInf><PmtId><EndToEndId>{number}-{seq}</EndToEndId></PmtId>"
                    f'<Amt><InstdAmt Ccy="CNY">{texts[fen]}</InstdAmt></Amt>'
                    f"<CdtrAgt><FinInstnId><Nm>{_text(bank_name, 140)}</Nm></FinInstnId></CdtrAgt>"
                    f"<Cdtr><Nm>{_text(name, 140)}</Nm></Cdtr>"
                    f"<CdtrAcct><Id><Othr><Id>{escape(account)}</Id></Othr></Id></CdtrAcct>"
                    f"<RmtInf><Ustrd>{summary}</Ustrd></RmtInf></CdtTrfTxInf>\n")
            count += len(seqs)
            total += sum(fens)
            out.write("".join(parts))
        out.write("</PmtInf></CstmrCdtTrfInitn></Document>\n")
        out.flush()
    finally:
        out.detach()
    total = fen_decimal(total)
    if count != batch.item_count or total != batch.total_amount:
        raise DomainError(f"批次 {number} 的明细（{count} 笔，{_money(total)} 元）与批次合计（{batch.item_count} 笔，"
                          f"{_money(batch.total_amount)} 元）不符，未生成 pain.001 文件。", code="totals_mismatch")
    if count == 0:
        raise DomainError(f"批次 {number} 没有明细，不能生成 pain.001 文件。", code="empty")
    return FileTotals(count, total)


def xsd_path() -> Path:
    """The vendored pain.001.001.03 XSD (a copy of the one sepaxml ships); sepaxml's own copy as a fallback."""
    vendored = Path(__file__).resolve().parent / "xsd" / PAIN001_XSD
    if vendored.exists():
        return vendored
    import sepaxml

    return Path(sepaxml.__file__).resolve().parent / "schemas" / PAIN001_XSD


@functools.lru_cache(maxsize=1)
def pain001_schema():
    import xmlschema

    return xmlschema.XMLSchema(str(xsd_path()))


def pain001_errors(source, *, limit: int = 10) -> list[str]:
    """Up to `limit` XSD validation errors of a pain.001 document (path, file object or bytes); [] = valid.
    Offline: the schema is a local file and no import is fetched."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    errors = []
    try:
        for error in pain001_schema().iter_errors(source):
            errors.append(f"{error.path or ''}: {error.reason or error.message}".strip())
            if len(errors) >= limit:
                break
    except Exception as exc:  # noqa: BLE001 - malformed XML is an error of the document, not of the platform
        errors.append(f"XML 无法解析：{exc}")
    return errors


def validate_pain001(source) -> None:
    """Raise a DomainError naming the first problems when `source` is not a valid pain.001.001.03 document."""
    errors = pain001_errors(source)
    if errors:
        raise DomainError("pain.001 文件未通过 XSD 校验：" + "；".join(errors[:3]), code="xsd_invalid")


def read_control_line(cells: list[str]) -> FileTotals | None:
    """The (count, total) of a CSV/XLSX control line (first cell "合计"), else None — for readers of the file."""
    if not cells or str(cells[0]).strip() != CONTROL_MARK:
        return None
    return FileTotals(int(str(cells[1]).strip()), Decimal(str(cells[5]).strip()))
