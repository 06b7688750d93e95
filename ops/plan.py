"""``deep-insight plan``: evaluate the program for a stack offline, show what it declares and what it costs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ops.console import BAD_INPUT, FAILED, OpsError, console, errors, reports_errors
from ops.plan_layout import kept_on_destroy, zones
from ops.project import PROJECT_DIR

if TYPE_CHECKING:
    from rich.table import Table
    from rich.tree import Tree

    from ops.cost import Estimate, Pricing
    from ops.evaluate import Declared, Evaluation

STACK_TYPE = "pulumi:pulumi:Stack"
# The architecture's order (as __main__.py reads); the engine registers components concurrently.
LAYERS = ("network", "security", "endpoints", "bucket", "image", "cluster", "alb", "sessions", "agent")


def _layer(type_token: str) -> int:
    module = type_token.split(":")[1]
    return LAYERS.index(module) if module in LAYERS else len(LAYERS)


def short_type(type_token: str) -> str:
    """``aws:ec2/subnet:Subnet`` → ``aws:ec2:Subnet``, the way `pulumi preview` shows types."""
    package, module, name = type_token.split(":")
    return f"{package}:{module.split('/')[0]}:{name}"


def component_summary(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Each top-level component with its resources counted by type (nested components inlined)."""

    def counts(node: Declared) -> tuple[Counter[str], dict[str, list[str]], list[dict[str, Any]]]:
        direct: Counter[str] = Counter()
        names: dict[str, list[str]] = {}
        nested: list[dict[str, Any]] = []
        for child in evaluation.children_of(node):
            if child.custom:
                direct[short_type(child.type)] += 1
                names.setdefault(short_type(child.type), []).append(child.name)
            else:
                nested.append(describe(child))
        return direct, names, nested

    def describe(node: Declared) -> dict[str, Any]:
        direct, names, nested = counts(node)
        return {
            "name": node.name,
            "type": node.type,
            "resources": dict(sorted(direct.items())),
            "names": {type_name: sorted(names[type_name]) for type_name in sorted(names)},
            "components": nested,
            "total": sum(direct.values()) + sum(n["total"] for n in nested),
        }

    component_urns = {r.urn for r in evaluation.resources if not r.custom and r.type != STACK_TYPE}
    roots = sorted(
        (r for r in evaluation.resources if r.urn in component_urns and r.parent not in component_urns),
        key=lambda r: (_layer(r.type), r.name),
    )
    summary = [describe(r) for r in roots]
    loose = Counter(short_type(r.type) for r in evaluation.resources if r.custom and r.parent not in component_urns)
    if loose:
        names = {
            t: sorted(
                r.name
                for r in evaluation.resources
                if r.custom and r.parent not in component_urns and short_type(r.type) == t
            )
            for t in loose
        }
        summary.append(
            {
                "name": "(stack)",
                "type": STACK_TYPE,
                "resources": dict(loose),
                "names": names,
                "components": [],
                "total": loose.total(),
            }
        )
    return summary


def _tree(stack: str, summary: list[dict[str, Any]], total: int) -> Tree:
    from rich.tree import Tree  # noqa: PLC0415 - rich loads on first use

    tree = Tree(f"[bold]{stack}[/bold] — {total} resources in {len(summary)} components")

    def add(branch: Tree, node: dict[str, Any]) -> None:
        inner = branch.add(f"[cyan]{node['name']}[/cyan] [dim]{node['type']}[/dim] ({node['total']})")
        for type_name, count in node["resources"].items():
            named = ", ".join(node["names"][type_name])
            inner.add(f"{type_name} ×{count}: [dim]{named}[/dim]" if count > 1 else f"{type_name}: [dim]{named}[/dim]")
        for child in node["components"]:
            add(inner, child)

    for node in summary:
        add(tree, node)
    return tree


def json_error(line: str) -> dict[str, str | None]:
    """One error of `plan --json`: the config key it is about (None for a file-level error) and the message."""
    from components.errors import Problem  # noqa: PLC0415 - the program's package loads when the command runs

    problem = Problem.from_line(line)
    return {"key": problem.key, "message": problem.message} if problem else {"key": None, "message": line.strip()}


def money(usd: float) -> str:
    # Cents for monthly lines; a job's lines are fractions of a cent.
    return f"${usd:,.2f}" if usd >= 0.1 or usd == 0 else f"${usd:.4f}"


def _cost_table(title: str, lines: list, total: float) -> Table:
    from rich.table import Table  # noqa: PLC0415 - rich loads on first use

    table = Table(title=title, title_justify="left", show_footer=True)
    table.add_column("item", footer="total")
    table.add_column("quantity")
    table.add_column("USD", justify="right", footer=money(total))
    for line in lines:
        table.add_row(line.item, line.quantity, money(line.usd))
    return table


def _print_cost(cost: Estimate, pricing: Pricing, jobs: int) -> None:
    from ops.cost import biggest_idle  # noqa: PLC0415

    console.print()
    console.print(
        f"[bold]Monthly cost estimate[/bold] ({pricing.currency}, {pricing.region} list prices as of {pricing.as_of},"
        " ops/pricing.json)"
    )
    console.print(
        _cost_table("Idle, per month (billed whether or not jobs run)", cost.idle_monthly, cost.idle_monthly_usd)
    )
    job_minutes = pricing.assumptions["job_minutes"]
    console.print(_cost_table(f"Per job (a {job_minutes:g}-minute job)", cost.per_job, cost.per_job_usd))
    if cost.per_deploy:
        console.print(
            _cost_table(
                "Per deploy that rebuilds both images (images.build codebuild)", cost.per_deploy, cost.per_deploy_usd
            )
        )
    console.print(
        f"Idle {money(cost.idle_monthly_usd)}/month + {money(cost.per_job_usd)} per job"
        f" → {jobs} jobs/month ≈ [bold]{money(cost.monthly_usd(jobs))}[/bold]"
        " (Bedrock model tokens not included)"
    )
    console.print("Biggest idle items, and what changes them:")
    for line, lever in biggest_idle(cost):
        console.print(f"  {line.item} {money(line.usd)}: {lever}", soft_wrap=True)
    console.print("Assumptions:", style="dim")
    for assumption in cost.assumptions:
        console.print(f"  {assumption.name} = {assumption.value:g}: {assumption.why}", style="dim", soft_wrap=True)


def _cost_document(cost: Estimate | None, pricing: Pricing, jobs: int, refusal: str | None) -> dict[str, Any]:
    from ops.cost import biggest_idle  # noqa: PLC0415

    if cost is None:
        return {"cost": None, "costNotEstimated": refusal}
    return {
        "cost": {
            **cost.as_dict(),
            "jobsPerMonth": jobs,
            "monthlyUsd": round(cost.monthly_usd(jobs), 2),
            "currency": pricing.currency,
            "pricing": {"region": pricing.region, "asOf": pricing.as_of, "source": pricing.source},
            "biggestIdle": [
                {"item": line.item, "usd": round(line.usd, 2), "setting": lever} for line, lever in biggest_idle(cost)
            ],
        }
    }


@dataclass
class Planned:
    """One stack, evaluated and estimated."""

    stack: str
    evaluation: Evaluation
    region: str
    violations: list
    pricing: Pricing
    cost: Estimate | None
    """None when the table has no prices for the stack's region (``refusal`` says so)."""
    refusal: str | None


def _plan(stack: str, as_json: bool, cwd: Path) -> Planned:
    """Evaluate ``stack``; an invalid configuration prints its one-line errors and exits 2."""
    from components.settings_schema import REGION_KEY  # noqa: PLC0415
    from ops.config_file import ConfigFileError  # noqa: PLC0415
    from ops.cost import estimate, footprint, load_pricing, unpriced  # noqa: PLC0415
    from ops.evaluate import evaluate  # noqa: PLC0415
    from policy.offline import run_policies  # noqa: PLC0415

    try:
        if as_json:
            evaluation = evaluate(stack, project_dir=cwd.resolve())
        else:
            with errors.status(f"Evaluating the program for stack {stack}…"):
                evaluation = evaluate(stack, project_dir=cwd.resolve())
    except ConfigFileError as error:
        if as_json:
            console.print_json(json.dumps({"stack": stack, "valid": False, "errors": [json_error(str(error))]}))
            raise typer.Exit(BAD_INPUT) from None
        raise OpsError(str(error)) from None

    if evaluation.error is not None:
        problems = [line for line in evaluation.error.splitlines()[1:] if line.strip()] or [evaluation.error]
        if as_json:
            document = {"stack": stack, "valid": False, "errors": [json_error(p) for p in problems]}
            console.print_json(json.dumps(document))
        else:
            errors.print(f"[red]error:[/red] invalid stack configuration in Pulumi.{stack}.yaml:")
            for problem in problems:
                errors.print(f"  {problem}", soft_wrap=True, markup=False)
        raise typer.Exit(BAD_INPUT)

    # The policy pack's rules, run offline on what the program declares: what `pulumi preview
    # --policy-pack policy` would refuse shows up here first.
    violations = run_policies(evaluation.resources)
    pricing = load_pricing()
    region = str(evaluation.outputs.get("region", evaluation.config.get(REGION_KEY, "")))
    refusal = unpriced(region, pricing)
    cost = None if refusal else estimate(footprint(evaluation.resources), pricing)
    return Planned(stack, evaluation, region, violations, pricing, cost, refusal)


def _document(planned: Planned, jobs: int) -> dict[str, Any]:
    from policy.rules import POLICIES  # noqa: PLC0415

    evaluation = planned.evaluation
    return {
        "stack": planned.stack,
        "region": planned.region,
        "valid": True,
        "errors": [],
        "warnings": evaluation.warnings,
        "resourceCount": sum(1 for r in evaluation.resources if r.custom),
        "policy": {
            "rules": [p.name for p in POLICIES],
            "violations": [{"rule": v.policy, "urn": v.urn, "message": v.message} for v in planned.violations],
        },
        "components": component_summary(evaluation),
        "zones": zones(evaluation),
        **kept_on_destroy(evaluation),
        **_cost_document(planned.cost, planned.pricing, jobs, planned.refusal),
    }


def _print_plan(planned: Planned, jobs: int) -> None:
    from rich.markup import escape  # noqa: PLC0415

    from policy.rules import POLICIES  # noqa: PLC0415

    evaluation = planned.evaluation
    console.print(f"[green]✓[/green] configuration of stack {planned.stack} is valid ({planned.region})")
    for warning in evaluation.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    if planned.violations:
        for v in planned.violations:
            console.print(f"[red]✗[/red] policy {v.policy}: {escape(v.urn)}: {escape(v.message)}", soft_wrap=True)
    else:
        console.print(f"[green]✓[/green] the policy pack's {len(POLICIES)} mandatory rules pass")
    console.print(_tree(planned.stack, component_summary(evaluation), sum(1 for r in evaluation.resources if r.custom)))
    console.print("Availability zones (AZ IDs) and subnet CIDRs:")
    for zone in zones(evaluation):
        console.print(f"  {zone['azId']}: " + ", ".join(f"{t} {c}" for t, c in zone["subnets"].items()), soft_wrap=True)
    kept = kept_on_destroy(evaluation)
    console.print("On `pulumi destroy`:")
    console.print(
        f"  protected (destroy stops until unprotected): {', '.join(kept['protected']) or 'none'}", soft_wrap=True
    )
    console.print(f"  left in AWS (retainOnDelete): {', '.join(kept['retainedOnDelete']) or 'none'}", soft_wrap=True)
    if planned.cost is None:
        console.print(f"[yellow]{planned.refusal}[/yellow]", soft_wrap=True)
    else:
        _print_cost(planned.cost, planned.pricing, jobs)


@reports_errors
def command(
    stack: Annotated[
        list[str],
        typer.Option("--stack", "-s", help="Stack name: reads Pulumi.<stack>.yaml. Twice to compare two stacks."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="Jobs per month for the total.")] = 100,
    cwd: Annotated[
        Path, typer.Option("--cwd", "-C", help="The Pulumi project directory (as in `pulumi -C`).")
    ] = PROJECT_DIR,
) -> None:
    """Check a stack's configuration and show its resources and monthly cost, offline.

    Runs the real program under Pulumi's mock runtime: no AWS credentials, no Pulumi CLI, nothing
    created, then the policy pack's rules over what it declares. Invalid configuration prints the
    program's own one-line errors and exits 2; a policy violation exits 1.

    Example: deep-insight plan --stack dev (twice, --stack dev --stack prod, puts the costs side by side)
    """
    from ops.plan_compare import print_comparison  # noqa: PLC0415

    if len(stack) > 2:
        raise OpsError(f"plan compares two stacks at most, got {len(stack)} (--stack {' --stack '.join(stack)})")
    planned = [_plan(name, as_json, cwd) for name in dict.fromkeys(stack)]
    if as_json:
        documents = [_document(p, jobs) for p in planned]
        console.print_json(json.dumps(documents[0] if len(documents) == 1 else {"stacks": documents}))
    elif len(planned) == 1:
        _print_plan(planned[0], jobs)
    else:
        print_comparison(planned, jobs)
    if any(p.violations for p in planned):
        raise typer.Exit(FAILED)
