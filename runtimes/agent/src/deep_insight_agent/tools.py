"""The agents' tools: code in the session's executor (coder, validator), the report (reporter), and the
validator's way to send the coder back. What a call's result tells the model is ``tool_results.py``'s."""

from __future__ import annotations

from typing import Any

from deep_insight_contract.executor import Language
from strands import tool

from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.report_content import parse_report
from deep_insight_agent.tool_results import summarize


def executor_tools(executor: ExecutorClient, report_holder: dict[str, Any]) -> dict[str, list[Any]]:
    @tool
    async def python(code: str) -> str:
        """Run Python in the session's notebook-like worker (variables persist; inputs are in data/).

        Args:
            code: Python source to run.
        """
        return summarize(await executor.execute(code))

    @tool
    async def bash(command: str) -> str:
        """Run a shell command in the session's workspace.

        Args:
            command: the command line.
        """
        return summarize(await executor.execute(command, language=Language.BASH))

    @tool
    def write_report(title: str, sections: list[dict[str, Any]]) -> str:
        """Write the final report. Any text, table cell or key figure may end a figure with a citation
        mark [n] from artifacts/citations.json.

        Args:
            title: the report's title.
            sections: a list of {"heading": str, "paragraphs": [str], "bullets": [str],
                "tables": [{"header": [str], "rows": [[str or number]], "caption": str}],
                "charts": [{"path": "artifacts/<file>.png", "caption": str}],
                "keyFigures": [{"label": str, "value": str}]}; only "heading" is required.
        """
        content, problems = parse_report(title, sections)
        if content is None:
            return "The report was not recorded. Fix these and call write_report again:\n" + "\n".join(
                f"- {problem}" for problem in problems
            )
        report_holder["content"] = content
        return f"report with {len(content.sections)} sections recorded"

    @tool
    def send_back(discrepancies: list[dict[str, Any]]) -> str:
        """Send the coder back to fix calculations your recomputation disagrees with; you check again after.

        Args:
            discrepancies: a list of {"calculationId": str, "recorded": str, "recomputed": str, "note": str}.
        """
        problems = [
            f"discrepancies[{i}] needs a calculationId and what you recomputed"
            for i, item in enumerate(discrepancies)
            if not isinstance(item, dict) or not item.get("calculationId") or "recomputed" not in item
        ]
        if problems or not discrepancies:
            return "Nothing was sent back. " + ("; ".join(problems) or "Give at least one discrepancy.")
        report_holder.setdefault("discrepancies", []).extend(discrepancies)
        return f"{len(discrepancies)} discrepancy(ies) recorded: the coder fixes them, then you check again"

    return {"planner": [], "coder": [python, bash], "validator": [python, send_back], "reporter": [write_report]}
