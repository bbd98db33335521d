"""The quarterly statement slip (明白条) [003 §11(三)]: per beneficiary, the name, the policies paid, amounts,
dates and the total, one slip per page so a village prints them all at once. ReportLab + built-in CJK font."""

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from yikatong.applications.notice_pdf import CJK_FONT, _register_font
from yikatong.core.money import to_chinese_uppercase


def render_slips(people, *, year: int, quarter: int) -> bytes:
    """`people`: iterable of (name, masked ID, region name, [(policy, period, amount, paid on, department)])."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    base = ParagraphStyle("base", fontName=CJK_FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=16, leading=22, alignment=TA_CENTER)
    story = []
    for index, (name, id_masked, region, rows) in enumerate(people):
        if index:
            story.append(PageBreak())
        story += [
            Paragraph(escape(f"惠民惠农财政补贴资金明白条（{year}年第{quarter}季度）"), title),
            Spacer(1, 4 * mm),
            Paragraph(escape(f"姓名：{name}　　身份证号：{id_masked}　　所在地：{region}"), base),
            Spacer(1, 3 * mm),
        ]
        data = [["序号", "补贴项目", "补贴期间", "发放金额（元）", "到账日期", "发放单位"]]
        total = Decimal("0.00")
        for seq, (policy, period, amount, paid_on, department) in enumerate(rows, start=1):
            data.append([str(seq), Paragraph(escape(policy), base), period, f"{amount:,.2f}",
                         paid_on.isoformat() if paid_on else "", Paragraph(escape(department), base)])
            total += amount
        data.append(["合计", f"{len(rows)} 笔", "", f"{total:,.2f}", "", ""])
        table = Table(data, colWidths=[12 * mm, 50 * mm, 20 * mm, 28 * mm, 24 * mm, 40 * mm], repeatRows=1)
        table.setStyle(TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 9.5),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
            ("ALIGN", (3, 1), (3, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        story += [table, Spacer(1, 3 * mm),
                  Paragraph(escape(f"本季度合计：{total:,.2f} 元（大写：{to_chinese_uppercase(total)}）"), base),
                  Spacer(1, 3 * mm),
                  Paragraph("补贴资金通过社会保障卡（或经批准的其他账户）直接发放。如对发放项目或金额有疑问，请向所在"
                            "乡镇（街道）或补贴主管部门咨询，也可通过平台投诉举报渠道反映。", base)]
    if not story:
        story.append(Paragraph("本季度无发放记录。", base))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"明白条 {year}Q{quarter}", creator="yikatong")
    doc.build(story)
    return buffer.getvalue()
