"""The reference job's report (the data set's categories and total), as both renderers get it."""

from __future__ import annotations

import io

import pandas as pd
from deep_insight_agent.report import Citation, Cover, Report, Section, find_font
from deep_insight_agent.report_content import KeyFigure, Table
from matplotlib import font_manager
from matplotlib import pyplot as plt

from tests.runtimes.conftest import DATA


def chart_png(totals: pd.Series) -> bytes:
    font_manager.fontManager.addfont(str(find_font()))  # the chart's Korean labels need the same font
    name = font_manager.FontProperties(fname=str(find_font())).get_name()
    plt.rcParams["font.family"] = [name]
    figure, axis = plt.subplots(figsize=(5, 3))
    totals.plot.bar(ax=axis)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def reference_report() -> Report:
    sales = pd.read_csv(DATA)
    totals = sales.groupby("카테고리")["금액"].sum().sort_values(ascending=False)
    lines = tuple(f"{category}: {int(amount):,}원" for category, amount in totals.items())
    return Report(
        title="신선식품 매출 분석",
        sections=(
            Section(
                "요약",
                (f"총 매출은 {int(sales['금액'].sum()):,}원입니다 [1].",),
                key_figures=(KeyFigure("총 매출", "157,685,452원 [1]"),),
            ),
            Section(
                "카테고리별 매출",
                lines,
                bullets=("다섯 카테고리",),
                tables=(
                    Table(
                        header=("카테고리", "금액"),
                        rows=tuple((str(category), int(amount)) for category, amount in totals.items()),
                        caption="카테고리별 금액 합계",
                    ),
                ),
                charts=((chart_png(totals), "카테고리별 매출 막대그래프"),),
            ),
        ),
        citations=(Citation(1, "calc-total-sales", "157,685,452", "sum of 금액 over 2,726 rows"),),
        cover=Cover("카테고리별 매출을 분석해줘", ("fresh-food-sales.csv",), "2026-12-07", "session-0123"),
    )
