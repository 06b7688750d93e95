"""``deep-insight plan --stack A --stack B``: two stacks' estimates side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ops.console import console

if TYPE_CHECKING:
    from ops.plan import Planned

NOT_PRICED = "—"


def print_comparison(planned: list[Planned], jobs: int) -> None:
    from rich.table import Table  # noqa: PLC0415 - rich loads on first use

    from ops.cost import biggest_idle  # noqa: PLC0415
    from ops.plan import money  # noqa: PLC0415

    for plan in planned:
        state = f"{len(plan.violations)} policy violations" if plan.violations else "policy rules pass"
        console.print(f"[green]✓[/green] stack {plan.stack} is valid ({plan.region}), {state}")
    table = Table(title="Monthly cost estimate, side by side", title_justify="left")
    table.add_column("item")
    for plan in planned:
        table.add_column(plan.stack, justify="right")
    items = list(dict.fromkeys(line.item for plan in planned if plan.cost for line in plan.cost.idle_monthly))

    def row(label: str, value) -> None:
        table.add_row(label, *(money(value(plan.cost)) if plan.cost else NOT_PRICED for plan in planned))

    for item in items:
        row(f"idle: {item}", lambda cost, item=item: sum(line.usd for line in cost.idle_monthly if line.item == item))
    row("idle, per month", lambda cost: cost.idle_monthly_usd)
    row("per job", lambda cost: cost.per_job_usd)
    row("per deploy rebuilding the images", lambda cost: cost.per_deploy_usd)
    row(f"{jobs} jobs a month", lambda cost: cost.monthly_usd(jobs))
    console.print(table)
    for plan in planned:
        if plan.cost is None:
            console.print(f"{plan.stack}: [yellow]{plan.refusal}[/yellow]", soft_wrap=True)
            continue
        console.print(f"{plan.stack}: biggest idle items, and what changes them:")
        for line, lever in biggest_idle(plan.cost):
            console.print(f"  {line.item} {money(line.usd)}: {lever}", soft_wrap=True)
