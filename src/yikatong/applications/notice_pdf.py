"""The paper version of a public notice (公示) for the village board: a PDF with the masked list, totals,
the notice number, its digest and a QR code of the online copy, so anyone can check the board against the
site [000 §8; 003 §17]. ReportLab with its built-in CJK font STSong-Light (no font files), QR by segno
(drawn as vector squares, no image library). Long lists flow over as many pages as needed, the table
header repeated on each page.
"""

import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings

DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"  # ASCII facts (number, digest, URL) in a standard font: plain text in the PDF


def notice_public_url(number: str) -> str:
    """The URL of a notice's online copy: settings.YIKATONG_PUBLIC_BASE_URL (when set) + /notices/<number>/."""
    base = getattr(settings, "YIKATONG_PUBLIC_BASE_URL", "") or DEFAULT_PUBLIC_BASE_URL
    return f"{str(base).rstrip('/')}/notices/{number}/"


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _qr_flowable(payload: str, size_pt: float):
    import segno
    from reportlab.platypus import Flowable

    matrix = segno.make(payload, error="m").matrix
    modules = len(matrix) + 8  # 4 modules of quiet zone on each side

    class QRCode(Flowable):
        def wrap(self, available_width, available_height):
            return size_pt, size_pt

        def draw(self):
            unit = size_pt / modules
            canvas = self.canv
            canvas.setFillColorRGB(0, 0, 0)
            for row_index, row in enumerate(matrix):
                y = size_pt - (row_index + 5) * unit
                for col_index, dark in enumerate(row):
                    if dark:
                        canvas.rect((col_index + 4) * unit, y, unit, unit, stroke=0, fill=1)

    return QRCode()


def _money(value) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _quantity(value) -> str:
    if value is None:
        return ""
    return f"{Decimal(str(value)).normalize():f}"


def render_notice_pdf(
    *,
    number: str,
    region_name: str,
    policy_name: str,
    policy_code: str,
    period: str,
    round_no: int,
    starts_on: dt.date,
    ends_on: dt.date,
    entries: Iterable,
    total_amount,
    digest: str,
    url: str,
    unit_name: str = "",
    publisher: str = "",
    previous_number: str = "",
) -> bytes:
    """The notice as PDF bytes. `entries` are (seq, masked name, masked id, quantity, amount)."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    base = ParagraphStyle("base", fontName=CJK_FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    title_style = ParagraphStyle("title", parent=base, fontSize=17, leading=24, alignment=TA_CENTER)
    small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=12)
    plain = ParagraphStyle("plain", parent=small, wordWrap=None)  # ASCII facts never broken mid-word

    def latin(text: str) -> str:
        return f'<font name="{LATIN_FONT}">{escape(text)}</font>'

    story = [
        Paragraph(escape(f"关于{policy_name}补贴对象的公示"), title_style),
        Spacer(1, 4 * mm),
        Paragraph(f"公示编号：{latin(number)}" + (f"（第 {round_no} 轮，更正后重新公示，"
                                                 f"原公示 {latin(previous_number)}）" if previous_number else ""), base),
        Paragraph(escape(f"村（社区）：{region_name}"), base),
        Paragraph(f"补贴项目：{escape(policy_name)}（{latin(policy_code)}）　补贴期间：{latin(period)}", base),
        Paragraph(f"公示期：{latin(starts_on.isoformat())} 至 {latin(ends_on.isoformat())}", base),
        Spacer(1, 3 * mm),
    ]
    qty_header = f"补贴数量（{unit_name}）" if unit_name else "补贴数量"
    data = [["序号", "姓名", "身份证号", qty_header, "补贴金额（元）"]]
    count = 0
    for seq, name, id_masked, quantity, amount in entries:
        data.append([str(seq), name, id_masked, _quantity(quantity), _money(amount)])
        count += 1
    data.append(["合计", f"{count} 人", "", "", _money(total_amount)])
    table = Table(data, colWidths=[14 * mm, 30 * mm, 52 * mm, 32 * mm, 40 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
        # Digits and masked IDs in a standard font: the same facts are plain text in the PDF.
        ("FONTNAME", (0, 1), (0, -2), LATIN_FONT),
        ("FONTNAME", (2, 1), (-1, -1), LATIN_FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
        ("ALIGN", (0, 0), (0, -1), "CENTER"),
        ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    story += [table, Spacer(1, 5 * mm)]

    facts = [
        Paragraph("公示期内，对上述补贴对象及金额有异议的，请向村（社区）委员会或乡镇（街道）反映，"
                  "也可通过平台投诉举报渠道反映。", base),
        Spacer(1, 2 * mm),
        Paragraph(f"公示编号：{latin(number)}", small),
        Paragraph("内容摘要（SHA-256）：", small),
        Paragraph(latin(digest), plain),
        Paragraph("网上公示：", small),
        Paragraph(latin(url), plain),
        Paragraph("扫描右侧二维码可查看网上公示，纸质公示与网上公示的编号和摘要应完全一致。", small),
    ]
    if publisher:
        facts.append(Paragraph(escape(f"公示单位：{publisher}"), base))
    qr = _qr_flowable(url, 32 * mm)
    block = Table([[facts, qr]], colWidths=[132 * mm, 36 * mm])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(KeepTogether([block]))

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(CJK_FONT, 8)
        canvas.drawString(18 * mm, 10 * mm, f"公示编号 {number}　第 {doc.page} 页")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
        title=number, subject=url, author=publisher or "惠民惠农财政补贴资金一卡通管理平台", creator="yikatong",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
