"""Executor cluster checks: the ECS cluster, the task definition and the image it runs."""

from __future__ import annotations

from components.settings import DIGEST_URI_PATTERN, Architecture
from ops.verify.context import CheckList, Context, Result, listing, short_digest, verdict

CHECKS = CheckList()
check = CHECKS.add


@check("ECS cluster")
def ecs_cluster(ctx: Context) -> Result:
    described = ctx.client("ecs").describe_clusters(clusters=[ctx.outputs["clusterArn"]], include=["SETTINGS"])
    if not described.get("clusters"):
        reason = listing(f.get("reason", "?") for f in described.get("failures", []))
        return False, f"{ctx.outputs['clusterName']} not found ({reason})"
    cluster = described["clusters"][0]
    insights = next((s.get("value") for s in cluster.get("settings", []) if s.get("name") == "containerInsights"), None)
    problems: list[str] = []
    if cluster.get("status") != "ACTIVE":
        problems.append(f"status {cluster.get('status')}, expected ACTIVE")
    # "enhanced" is Container Insights with enhanced observability: more, not less.
    if insights not in ("enabled", "enhanced"):
        problems.append(f"Container Insights {insights or 'not set'}, expected enabled")
    return verdict(problems, f"{cluster.get('clusterName')} is ACTIVE with Container Insights {insights}")


@check("Task definition")
def task_definition(ctx: Context) -> Result:
    definition = ctx.task_definition
    executor = ctx.settings.executor
    architecture = "ARM64" if executor.architecture is Architecture.ARM64 else "X86_64"
    actual_architecture = definition.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64")  # AWS's default
    problems: list[str] = []
    if definition.get("status") != "ACTIVE":
        problems.append(f"status {definition.get('status')}, expected ACTIVE")
    if definition.get("family") != ctx.outputs["executorTaskFamily"]:
        problems.append(f"family {definition.get('family')}, expected {ctx.outputs['executorTaskFamily']}")
    if actual_architecture != architecture:
        problems.append(
            f"cpu architecture {actual_architecture}, expected {architecture} "
            f"(executor.architecture {executor.architecture.value})"
        )
    if (str(definition.get("cpu")), str(definition.get("memory"))) != (str(executor.cpu), str(executor.memory)):
        problems.append(
            f"cpu/memory {definition.get('cpu')}/{definition.get('memory')}, expected {executor.cpu}/{executor.memory} "
            "(executor.cpu, executor.memory)"
        )
    if "FARGATE" not in definition.get("requiresCompatibilities", []) or definition.get("networkMode") != "awsvpc":
        problems.append("not a Fargate awsvpc task definition")
    names = [c.get("name") for c in definition.get("containerDefinitions", [])]
    if ctx.outputs["executorContainerName"] not in names:
        problems.append(f"no container {ctx.outputs['executorContainerName']} (has {listing(names)})")
    return verdict(
        problems,
        f"{definition.get('family')}:{definition.get('revision')} ACTIVE, {architecture}, "
        f"{executor.cpu} CPU / {executor.memory} MiB",
    )


@check("Executor image")
def executor_image(ctx: Context) -> Result:
    definition = ctx.task_definition
    name = ctx.outputs["executorContainerName"]
    container = next((c for c in definition.get("containerDefinitions", []) if c.get("name") == name), None)
    if container is None:
        return False, f"the task definition has no container {name}"
    image = str(container.get("image", ""))
    if not DIGEST_URI_PATTERN.match(image):
        return False, f"container {name} runs {image}, which is not digest-pinned (…@sha256:…); a tag can move"
    if image != ctx.outputs["executorImageUri"]:
        return False, f"container {name} runs {image}, but executorImageUri is {ctx.outputs['executorImageUri']}"
    return True, f"container {name} runs executorImageUri, pinned to {short_digest(image)}"
