"""Monthly cost of a stack, from what the program declares and a table of list prices (pure).

The estimate has two parts because Deep Insight costs money in two ways: what the stack costs while no
one uses it (NAT gateways, interface endpoints, the ALB, stored images: billed by the hour or month), and
what each job adds (a Fargate task, an AgentCore session, traffic, logs, artifacts: billed by use). A
third, outside the month: what a deploy that rebuilds the images costs (CodeBuild minutes, images.build
codebuild).
Prices and assumptions live in ``pricing.json`` beside this file, with their source and date.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

PRICING_FILE = Path(__file__).with_name("pricing.json")

NAT_GATEWAYS, NAT_ADDRESSES, ENDPOINTS, ALB, ECR_IMAGES = (
    "NAT gateways",
    "NAT public IPv4",
    "Interface endpoints",
    "Internal ALB",
    "ECR images",
)
IDLE_LEVERS: Mapping[str, str] = MappingProxyType(
    {
        NAT_GATEWAYS: "network.natGateways: none drops them (every AWS API then gets an endpoint), single keeps one",
        NAT_ADDRESSES: "network.natGateways: one public IPv4 per NAT gateway",
        ENDPOINTS: "network.endpointZones: one puts each endpoint in one AZ; network.natGateways single or perAz "
        "leaves only the executor's three",
        ALB: "no setting: the executor's per-session routing needs it",
        ECR_IMAGES: "no setting: the repositories' lifecycle rule keeps the newest images",
    }
)
"""Each idle line, and the setting that changes it (`plan` names the biggest three)."""

BUILD_INSTANCES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "ARM_CONTAINER": ("arm1.small", "codebuild_arm_small_minute"),
        "LINUX_CONTAINER": ("general1.small", "codebuild_linux_small_minute"),
    }
)
"""Environment type -> CodeBuild's on-demand instance name and its price in pricing.json."""


class Resource(Protocol):
    """What the estimate reads of a declared resource (ops.evaluate.Declared has it)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Pricing:
    region: str
    currency: str
    as_of: str
    source: str
    note: str
    hours_per_month: float
    prices: Mapping[str, float]
    assumptions: Mapping[str, float]
    explanations: Mapping[str, str]

    def __getitem__(self, name: str) -> float:
        return self.prices[name]


def load_pricing(path: Path = PRICING_FILE) -> Pricing:
    document = json.loads(path.read_text(encoding="utf-8"))
    return Pricing(
        region=document["region"],
        currency=document["currency"],
        as_of=document["as_of"],
        source=document["source"],
        note=document["note"],
        hours_per_month=float(document["hours_per_month"]),
        prices={name: float(item["usd"]) for name, item in document["prices"].items()},
        assumptions={name: float(item["value"]) for name, item in document["assumptions"].items()},
        explanations={name: item["why"] for name, item in document["assumptions"].items()},
    )


@dataclass(frozen=True)
class Footprint:
    """The billable parts of a stack, counted from its declared resources."""

    nat_gateways: int
    public_ips: int
    interface_endpoint_azs: int
    """Interface endpoints × the AZs each has an ENI in: the unit PrivateLink bills by the hour."""
    load_balancers: int
    executor_vcpu: float
    executor_memory_gb: float
    executor_architecture: str
    """``arm64`` or ``x86_64``."""
    repositories: tuple[str, ...]
    """``executor`` / ``agent``: the images this stack stores in its own ECR repositories."""
    images_kept: int
    image_builds: tuple[tuple[str, str], ...] = ()
    """(runtime, CodeBuild environment type) of each image CodeBuild builds (images.build codebuild)."""


def footprint(resources: Iterable[Resource]) -> Footprint:
    resources = list(resources)

    def of(type_token: str) -> list[Resource]:
        return [r for r in resources if r.type == type_token]

    task_definitions = of("aws:ecs/taskDefinition:TaskDefinition")
    if len(task_definitions) != 1:
        raise ValueError(f"expected one executor task definition, found {len(task_definitions)}")
    task = task_definitions[0].inputs
    architecture = (task.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    interface_endpoints = [
        r for r in of("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs.get("vpcEndpointType") == "Interface"
    ]
    repositories = tuple(
        runtime
        for r in of("aws:ecr/repository:Repository")
        for runtime in ("executor", "agent")
        if r.name.startswith(f"{runtime}-")
    )
    kept = [
        rule["selection"]["countNumber"]
        for r in of("aws:ecr/lifecyclePolicy:LifecyclePolicy")
        for rule in json.loads(r.inputs["policy"])["rules"]
        if rule["selection"].get("countType") == "imageCountMoreThan"
    ]
    image_builds = tuple(  # sorted: the program declares the two projects in either order
        sorted((r.name.split("-", 1)[0], r.inputs["environment"]["type"]) for r in of("aws:codebuild/project:Project"))
    )
    return Footprint(
        image_builds=image_builds,
        nat_gateways=len(of("aws:ec2/natGateway:NatGateway")),
        public_ips=len(of("aws:ec2/eip:Eip")),
        interface_endpoint_azs=sum(len(r.inputs.get("subnetIds") or []) for r in interface_endpoints),
        load_balancers=len(of("aws:lb/loadBalancer:LoadBalancer")),
        executor_vcpu=int(task["cpu"]) / 1024,
        executor_memory_gb=int(task["memory"]) / 1024,
        executor_architecture="arm64" if architecture == "ARM64" else "x86_64",
        repositories=repositories,
        images_kept=max(kept, default=1),
    )


@dataclass(frozen=True)
class Line:
    item: str
    quantity: str
    usd: float


@dataclass(frozen=True)
class Assumption:
    """One figure the estimate assumes (``pricing.json``'s ``assumptions``), with why it is that."""

    name: str
    value: float
    why: str


@dataclass(frozen=True)
class Estimate:
    idle_monthly: list[Line]
    per_job: list[Line]
    assumptions: list[Assumption] = field(default_factory=list)
    per_deploy: list[Line] = field(default_factory=list)
    """A ``pulumi up`` that rebuilds every image (a change to both runtimes); none outside images.build codebuild."""

    @property
    def idle_monthly_usd(self) -> float:
        return sum(line.usd for line in self.idle_monthly)

    @property
    def per_job_usd(self) -> float:
        return sum(line.usd for line in self.per_job)

    @property
    def per_deploy_usd(self) -> float:
        return sum(line.usd for line in self.per_deploy)

    def monthly_usd(self, jobs_per_month: int) -> float:
        return self.idle_monthly_usd + jobs_per_month * self.per_job_usd

    def as_dict(self) -> dict[str, Any]:
        # Rounded as `plan` prints them: a month to the cent, a job (fractions of a cent) to 1/100 cent.
        return {
            "idleMonthlyUsd": round(self.idle_monthly_usd, MONTH_DIGITS),
            "perJobUsd": round(self.per_job_usd, JOB_DIGITS),
            "idleMonthly": [_rounded(line, MONTH_DIGITS) for line in self.idle_monthly],
            "perJob": [_rounded(line, JOB_DIGITS) for line in self.per_job],
            "perDeployUsd": round(self.per_deploy_usd, JOB_DIGITS),
            "perDeploy": [_rounded(line, JOB_DIGITS) for line in self.per_deploy],
            "assumptions": [{"name": a.name, "value": _number(a.value), "why": a.why} for a in self.assumptions],
        }


MONTH_DIGITS, JOB_DIGITS = 2, 4


def _rounded(line: Line, digits: int) -> dict[str, Any]:
    return asdict(line) | {"usd": round(line.usd, digits)}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def estimate(stack: Footprint, pricing: Pricing) -> Estimate:
    p, a, hours = pricing, pricing.assumptions, pricing.hours_per_month
    idle = [
        Line(NAT_GATEWAYS, f"{stack.nat_gateways} × {hours:g} h", stack.nat_gateways * hours * p["nat_gateway_hour"]),
        Line(NAT_ADDRESSES, f"{stack.public_ips} × {hours:g} h", stack.public_ips * hours * p["public_ipv4_hour"]),
        Line(
            ENDPOINTS,
            f"{stack.interface_endpoint_azs} endpoint-AZs × {hours:g} h",
            stack.interface_endpoint_azs * hours * p["interface_endpoint_az_hour"],
        ),
        Line(
            ALB,
            f"{stack.load_balancers} × {hours:g} h, {a['idle_lcu']:g} LCU",
            stack.load_balancers * hours * (p["alb_hour"] + a["idle_lcu"] * p["alb_lcu_hour"]),
        ),
    ]
    stored_gb = sum(a[f"{runtime}_image_gb"] for runtime in stack.repositories) * stack.images_kept
    if stack.repositories:
        idle.append(
            Line(
                ECR_IMAGES,
                f"{stored_gb:.1f} GB ({stack.images_kept} kept per repository)",
                stored_gb * p["ecr_storage_gb_month"],
            )
        )

    job_hours = a["job_minutes"] / 60
    arch = stack.executor_architecture
    agent_cpu_hours = a["agent_vcpu"] * a["agent_cpu_active_share"] * job_hours
    per_job = [
        Line(
            f"Fargate executor ({arch})",
            f"{stack.executor_vcpu:g} vCPU + {stack.executor_memory_gb:g} GB × {job_hours:g} h",
            job_hours
            * (
                stack.executor_vcpu * p[f"fargate_{arch}_vcpu_hour"]
                + stack.executor_memory_gb * p[f"fargate_{arch}_gb_hour"]
            ),
        ),
        Line(
            "AgentCore session",
            f"{agent_cpu_hours:g} vCPU-h + {a['agent_memory_gb']:g} GB × {job_hours:g} h",
            agent_cpu_hours * p["agentcore_vcpu_hour"] + a["agent_memory_gb"] * job_hours * p["agentcore_gb_hour"],
        ),
        Line(
            "ALB capacity",
            f"{a['alb_lcu_per_job']:g} LCU × {job_hours:g} h",
            a["alb_lcu_per_job"] * job_hours * p["alb_lcu_hour"],
        ),
        Line(
            "Endpoint traffic",
            f"{a['endpoint_gb_per_job']:g} GB",
            a["endpoint_gb_per_job"] * p["interface_endpoint_gb"],
        ),
        Line(
            "CloudWatch Logs",
            f"{a['log_gb_per_job']:g} GB ingested",
            a["log_gb_per_job"] * p["cloudwatch_logs_ingest_gb"],
        ),
        Line(
            "S3 artifacts",
            f"{a['artifact_gb_per_job']:g} GB-month, {a['s3_puts_per_job']:g} PUT + {a['s3_gets_per_job']:g} GET",
            a["artifact_gb_per_job"] * p["s3_standard_gb_month"]
            + a["s3_puts_per_job"] / 1000 * p["s3_put_1000"]
            + a["s3_gets_per_job"] / 1000 * p["s3_get_1000"],
        ),
    ]
    per_deploy = [
        Line(
            f"CodeBuild {runtime} image ({BUILD_INSTANCES[kind][0]})",
            f"{a['image_build_minutes']:g} min",
            a["image_build_minutes"] * p[BUILD_INSTANCES[kind][1]],
        )
        for runtime, kind in stack.image_builds
    ]
    assumptions = [Assumption(name, a[name], why) for name, why in pricing.explanations.items()]
    return Estimate(idle_monthly=idle, per_job=per_job, assumptions=assumptions, per_deploy=per_deploy)


def biggest_idle(cost: Estimate, count: int = 3) -> list[tuple[Line, str]]:
    """The ``count`` costliest idle lines (free ones left out), each with the setting that changes it."""
    ranked = sorted((line for line in cost.idle_monthly if line.usd > 0), key=lambda line: line.usd, reverse=True)
    return [(line, IDLE_LEVERS[line.item]) for line in ranked[:count]]


def unpriced(region: str, pricing: Pricing) -> str | None:
    """Why a stack in ``region`` gets no estimate (one line), or None if the table has its prices.

    Regional prices differ by item and region (no single factor), and AWS's pages render them per region
    on request, so the table holds only the region it was written down for.
    """
    if region == pricing.region:
        return None
    return (
        f"cost not estimated: ops/pricing.json holds {pricing.region} list prices only (as of {pricing.as_of}), "
        f"and prices in {region} differ item by item; add {region}'s prices there, each with its page, to price it"
    )
