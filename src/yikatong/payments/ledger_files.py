"""Files of clearing and reconciliation: the reconciliation report (XLSX, PDF) and the clearing voucher (清算凭证,
PDF). ReportLab with its built-in CJK font (applications.notice_pdf), openpyxl for the workbook. Pure rendering:
the services decide what goes in and keep the files."""

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from yikatong.applications.notice_pdf import CJK_FONT, LATIN_FONT, _register_font
from yikatong.core.money import format_yuan, to_chinese_uppercase

PDF_DIFF_LIMIT = 300
FIGURE_HEADERS = ("挂接金额", "释放挂接", "未拨付", "在途", "失败待退回", "发放成功", "退回国库")
FIGURE_KEYS = ("committed", "released", "unsent", "in_flight", "awaiting_return", "paid", "returned")


def _text(value) -> str:
    if isinstance(value, Decimal):
        return format_yuan(value)
    return "" if value is None else str(value)


# -- reconciliation: XLSX -------------------------------------------------------------------------------------------
def reconciliation_xlsx(report: dict, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    bold, red = Font(bold=True), PatternFill("solid", fgColor="FFE0E0")
    ws = wb.active
    ws.title = "方案汇总"
    ws.append([title])
    ws.append(["结论", "平衡" if report["balanced"] else f"不平衡：差异 {len(report['differences'])} 项"])
    ws.append(["方案编号", "方案名称", *FIGURE_HEADERS, "平衡"])
    for cell in ws[3]:
        cell.font = bold
    for p in report["plans"]:
        ws.append([p["number"], p["title"], *[p["figures"][k] for k in FIGURE_KEYS], "是" if p["balanced"] else "否"])
        if not p["balanced"]:
            for cell in ws[ws.max_row]:
                cell.fill = red
    ws.append(["合计", "", *[report["totals"][k] for k in FIGURE_KEYS], ""])
    bs = wb.create_sheet("批次")
    bs.append(["批次号", "方案", "状态", "笔数", "平台拨付", "台账拨付", "平台成功", "台账成功", "平台失败", "台账失败",
               "平台退回", "台账退回", "平衡"])
    for b in report["batches"]:
        e, led = b["platform"]["expected"], b["ledger"]
        bs.append([b["number"], b["plan"], b["status"], b["count"], e["sent"], led["sent"], e["paid"], led["paid"],
                   e["failed"], led["failed"], e["returned"], led["returned"], "是" if b["balanced"] else "否"])
        if not b["balanced"]:
            for cell in bs[bs.max_row]:
                cell.fill = red
    ds = wb.create_sheet("差异")
    ds.append(["层级", "方案", "批次", "序号", "项目", "一方", "金额", "另一方", "金额", "差额", "说明"])
    for d in report["differences"]:
        ds.append([d["level"], d["plan"], d["batch"], d["seq"], d["label"], d["left_label"], _cell(d["left"]),
                   d["right_label"], _cell(d["right"]), _cell(d["delta"]), d["message"]])
    for sheet in (ws, bs, ds):
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = 16
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(value):
    return value if isinstance(value, (Decimal, int)) or value is None else str(value)


# -- PDFs -------------------------------------------------------------------------------------------------------------
def _styles():
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle

    _register_font()
    base = ParagraphStyle("base", fontName=CJK_FONT, fontSize=10, leading=14, wordWrap="CJK")
    return {"base": base, "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, alignment=TA_CENTER),
            "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11)}


def _table(data, widths, *, highlight_rows=()):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(data, colWidths=widths, repeatRows=1)
    style = [("FONTNAME", (0, 0), (-1, -1), CJK_FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
             ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
             ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    style += [("BACKGROUND", (0, r), (-1, r), colors.Color(1, 0.88, 0.88)) for r in highlight_rows]
    table.setStyle(TableStyle(style))
    return table


def _build(story, number: str, landscape_page: bool = False) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(CJK_FONT, 8)
        canvas.drawString(15 * mm, 8 * mm, f"{number}　第 {doc.page} 页")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4) if landscape_page else A4, leftMargin=15 * mm,
                            rightMargin=15 * mm, topMargin=14 * mm, bottomMargin=15 * mm, title=number,
                            author="惠民惠农财政补贴资金一卡通管理平台", creator="yikatong")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def reconciliation_pdf(report: dict, *, number: str, title: str) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    st = _styles()
    verdict = "平衡（平台、银行回盘、发放台账、指标台账一致到分）" if report["balanced"] else \
        f"不平衡：差异 {len(report['differences'])} 项，见差异明细"
    story = [Paragraph(escape(title), st["title"]), Spacer(1, 3 * mm),
             Paragraph(f"报告编号：<font name='{LATIN_FONT}'>{escape(number)}</font>　生成时间："
                       f"{escape(str(report['generated_at'])[:19])}", st["base"]),
             Paragraph(escape(f"结论：{verdict}"), st["base"]), Spacer(1, 3 * mm)]
    data = [["方案编号", *FIGURE_HEADERS, "平衡"]]
    bad = []
    for i, p in enumerate(report["plans"], start=1):
        data.append([p["number"], *[_text(p["figures"][k]) for k in FIGURE_KEYS], "是" if p["balanced"] else "否"])
        if not p["balanced"]:
            bad.append(i)
    data.append(["合计", *[_text(report["totals"][k]) for k in FIGURE_KEYS], ""])
    story += [_table(data, [36 * mm] + [30 * mm] * 7 + [14 * mm], highlight_rows=bad), Spacer(1, 4 * mm)]
    if report["differences"]:
        story.append(Paragraph("差异明细", st["base"]))
        rows = [["方案", "批次", "序号", "项目", "一方", "另一方", "差额"]]
        for d in report["differences"][:PDF_DIFF_LIMIT]:
            rows.append([d["plan"], d["batch"], _text(d["seq"]), d["label"], f"{d['left_label']} {_text(d['left'])}",
                         f"{d['right_label']} {_text(d['right'])}", _text(d["delta"])])
        story.append(_table(rows, [34 * mm, 34 * mm, 14 * mm, 30 * mm, 56 * mm, 56 * mm, 24 * mm]))
        if len(report["differences"]) > PDF_DIFF_LIMIT:
            story.append(Paragraph(f"其余 {len(report['differences']) - PDF_DIFF_LIMIT} 项见 XLSX 报告。", st["small"]))
    return _build(story, number, landscape_page=True)


def clearing_voucher_pdf(*, number: str, batch, plan, payer: str, payee_bank: str, figures: dict,
                         made_by: str, made_on) -> bytes:
    """清算凭证 of one batch: paid to beneficiaries, returned to the treasury, amounts in words."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    st = _styles()
    story = [Paragraph("财政补贴资金代发清算凭证", st["title"]), Spacer(1, 4 * mm),
             Paragraph(f"凭证编号：<font name='{LATIN_FONT}'>{escape(number)}</font>　"
                       f"日期：<font name='{LATIN_FONT}'>{made_on.isoformat()}</font>", st["base"]),
             Paragraph(escape(f"代发批次：{batch.number}（{batch.get_kind_display()}）　发放方案：{plan.number} "
                              f"{plan.title}"), st["base"]),
             Paragraph(escape(f"补贴项目：{plan.policy.name}（{plan.policy.code}）　补贴期间：{plan.period}　"
                              f"国库集中支付凭证号：{batch.voucher_number or '—'}"), st["base"]),
             Spacer(1, 3 * mm)]
    rows = [["项目", "笔数", "金额（元）", "大写金额"]]
    for label, key in (("拨付银行（代发总额）", "sent"), ("支付给补贴对象（发放成功）", "paid"),
                       ("发放失败", "failed"), ("退回国库", "returned"), ("失败待退回", "awaiting_return"),
                       ("在途（未回盘）", "in_flight")):
        count, amount = figures[key]
        rows.append([label, str(count), format_yuan(amount), to_chinese_uppercase(amount)])
    story += [_table(rows, [52 * mm, 18 * mm, 36 * mm, 74 * mm]), Spacer(1, 4 * mm)]
    acct = [["", "单位名称", "账户"],
            ["付款人", payer, "国库单一账户"],
            ["收款人（代发）", payee_bank, "财政补贴代发资金账户"],
            ["退回收款人", payer, "国库单一账户"]]
    story += [_table(acct, [32 * mm, 78 * mm, 70 * mm]), Spacer(1, 6 * mm),
              Paragraph(escape(f"制单：{made_by}　　复核：＿＿＿＿　　财政部门（盖章）　　代发银行（盖章）"), st["base"])]
    return _build(story, number)
