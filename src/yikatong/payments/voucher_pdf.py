"""The paper forms of a mounted plan as PDF (ReportLab, built-in CJK font STSong-Light, no font files):

- 资金支付申请 and 国库集中支付凭证: one page each, a bordered form of label/value rows with the amount in
  figures and in Chinese uppercase (大写), and the signature/stamp boxes;
- 国库集中支付批量业务支付明细: the summary (count, total, 大写) and the payable items with MASKED accounts.
  A very large plan lists only its first `DETAIL_PDF_LIMIT` items (the PDF is for people to read and sign);
  the complete list with every item is the XLSX of the same number, whose count, total and SHA-256 the PDF
  prints so the two can be matched.

Pure rendering: callers hand in plain values (strings, Decimals, iterables of tuples)."""

import io
from collections.abc import Iterable
from decimal import Decimal
from xml.sax.saxutils import escape

from yikatong.applications.notice_pdf import CJK_FONT, LATIN_FONT, _register_font

DETAIL_PDF_LIMIT = 2000
ROWS_PER_TABLE = 45  # one table per page worth of rows: ReportLab splits long tables slowly
PLATFORM = "惠民惠农财政补贴资金一卡通管理平台"


def money(value) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _styles():
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle

    _register_font()
    base = ParagraphStyle("base", fontName=CJK_FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=24, alignment=TA_CENTER),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13),
        "plain": ParagraphStyle("plain", parent=base, fontSize=8.5, leading=12, wordWrap=None),
    }


def _document(buffer, number: str, title: str):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    return SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
                             bottomMargin=18 * mm, title=f"{title} {number}", author=PLATFORM, creator="yikatong")


def _footer(number: str, title: str):
    from reportlab.lib.units import mm

    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(CJK_FONT, 8)
        canvas.drawString(16 * mm, 10 * mm, f"{title} {number}　第 {doc.page} 页　{PLATFORM}生成")
        canvas.restoreState()

    return draw


def _grid(rows, widths, *, header: bool = False, right_cols=()):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)))
    for col in right_cols:
        style.append(("ALIGN", (col, 1 if header else 0), (col, -1), "RIGHT"))
    table.setStyle(TableStyle(style))
    return table


def render_form_pdf(*, title: str, number: str, fields: list[tuple[str, str]], amount, amount_upper: str,
                    signatures: list[str], note: str = "") -> bytes:
    """A one-form document: `fields` are (label, value) rows; the amount row (figures + 大写) is added."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    st = _styles()
    cell = st["cell"]

    def para(text: str):
        return Paragraph(escape(str(text)), cell)

    story = [Paragraph(escape(title), st["title"]), Spacer(1, 3 * mm),
             Paragraph(f"编号：<font name=\"{LATIN_FONT}\">{escape(number)}</font>", st["base"]), Spacer(1, 2 * mm)]
    rows = [[para(label), para(value)] for label, value in fields]
    rows.append([para("金额（小写）"), para(f"￥{money(amount)}")])
    rows.append([para("金额（大写）"), para(f"人民币{amount_upper}")])
    story.append(_grid(rows, [40 * mm, 138 * mm]))
    if note:
        story += [Spacer(1, 3 * mm), Paragraph(escape(note), st["small"])]
    story.append(Spacer(1, 8 * mm))
    boxes = [[Paragraph(f"{escape(who)}（签章）<br/><br/><br/><br/>年　　月　　日", cell) for who in signatures]]
    width = 178 * mm / max(len(signatures), 1)
    story.append(_grid(boxes, [width] * len(signatures)))
    buffer = io.BytesIO()
    doc = _document(buffer, number, title)
    footer = _footer(number, title)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def render_details_pdf(*, title: str, number: str, facts: list[tuple[str, str]], rows: Iterable[tuple],
                       count: int, total, total_upper: str, xlsx_digest: str = "",
                       limit: int = DETAIL_PDF_LIMIT) -> tuple[bytes, int]:
    """The batch details: summary facts, then at most `limit` rows of (seq, name, bank, masked account,
    region, amount). Returns (pdf bytes, rows listed)."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    st = _styles()
    story = [Paragraph(escape(title), st["title"]), Spacer(1, 3 * mm),
             Paragraph(f"编号：<font name=\"{LATIN_FONT}\">{escape(number)}</font>", st["base"])]
    for label, value in facts:
        story.append(Paragraph(escape(f"{label}：{value}"), st["base"]))
    story.append(Paragraph(escape(f"合计：{count} 笔，金额 {money(total)} 元（人民币{total_upper}）"), st["base"]))
    story.append(Spacer(1, 3 * mm))
    header = ["序号", "收款人", "开户银行", "收款账号（脱敏）", "所在区划", "金额（元）"]
    widths = [14 * mm, 24 * mm, 38 * mm, 40 * mm, 38 * mm, 24 * mm]
    listed, chunk = 0, []
    for row in rows:
        if listed >= limit:
            break
        seq, name, bank, masked, region, amount = row
        chunk.append([str(seq), name, bank, masked, region, money(amount)])
        listed += 1
        if len(chunk) == ROWS_PER_TABLE:
            story.append(_grid([header, *chunk], widths, header=True, right_cols=(5,)))
            chunk = []
    if chunk or listed == 0:
        story.append(_grid([header, *chunk], widths, header=True, right_cols=(5,)))
    story.append(Spacer(1, 3 * mm))
    if listed < count:
        story.append(Paragraph(escape(
            f"本 PDF 仅列示前 {listed} 笔（共 {count} 笔）；完整明细见同编号的 XLSX 文件，"
            "笔数和金额以上述合计为准。"), st["base"]))
    if xlsx_digest:
        story.append(Paragraph("完整明细（XLSX）内容摘要（SHA-256）：", st["small"]))
        story.append(Paragraph(f'<font name="{LATIN_FONT}">{escape(xlsx_digest)}</font>', st["plain"]))
    buffer = io.BytesIO()
    doc = _document(buffer, number, title)
    footer = _footer(number, title)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue(), listed
