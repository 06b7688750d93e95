"""The report as Markdown for the web (GitHub-flavoured: tables, with a little inline HTML for citations).

It sits beside the charts in ``artifacts/``, so a chart is linked by its file name. Citation marks become
superscript links to the references at the end (``<sup><a href="#ref-1">1</a></sup>``), numeric table
columns are right-aligned, and table cells escape ``|``.
"""

from __future__ import annotations

from deep_insight_agent.report import LABELS, Report, cell_text, summary
from deep_insight_agent.report_content import SPACED_MARK, ReportContent


def _cited(value: str) -> str:
    return SPACED_MARK.sub(lambda m: f'<sup><a href="#ref-{m[1]}">{m[1]}</a></sup>', value)


def _cell(value: str) -> str:
    return _cited(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, content: ReportContent) -> str:
    """Markdown of ``content`` (chart paths as the reporter gave them) with ``report``'s cover and references."""
    labels = LABELS.get(report.language, LABELS["en"])
    out = [f"# {_cited(report.title)}", ""]
    if report.notice:
        out += [f"> **{report.notice}**", ""]
    if report.cover is not None:
        cover = report.cover
        out += [
            f"- {labels['question']}: {cover.question}",
            f"- {labels['data']}: {', '.join(cover.data_files) or '-'}",
            f"- {labels['date']}: {cover.date}",
            f"- {labels['session']}: `{cover.session_id}`",
            "",
        ]
    figures = summary(content.sections)
    if figures:
        out += [f"## {labels['summary']}", ""]
        out += [f"- **{_cited(figure.label)}**: {_cited(figure.value)} ({heading})" for heading, figure in figures]
        out.append("")
    for number, section in enumerate(content.sections, start=1):
        out += [f"## {number}. {_cited(section.heading)}", ""]
        for paragraph in section.paragraphs:
            out += [_cited(paragraph), ""]
        if section.bullets:
            out += [f"- {_cited(bullet)}" for bullet in section.bullets] + [""]
        for table in section.tables:
            numeric = table.numeric_columns()
            out.append("| " + " | ".join(_cell(name) for name in table.header) + " |")
            out.append("|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|")
            out += ["| " + " | ".join(_cell(cell_text(cell)) for cell in row) + " |" for row in table.rows]
            # A blank line first: a line right under a table would be read as one more row.
            out += [""] + ([f"*{_cited(table.caption)}*", ""] if table.caption else [])
        for chart in section.charts:
            name = chart.path.rsplit("/", 1)[-1]
            out += [f"![{chart.caption}]({name})", "", f"*{_cited(chart.caption)}*", ""]
    if report.citations:
        out += [f"## {labels['references']}", ""]
        out += [
            f'<a id="ref-{c.number}"></a>[{c.number}] {c.value} (`{c.calculation_id}`): {c.derivation}  '
            for c in report.citations
        ]
        out.append("")
    return "\n".join(out)
