"""Appliers for the services: S3, ECR and image pushes, logs, IAM, ECS, the internal ALB."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.remote_build import TAG_VARIABLE, upload_source
from tests.ops.translate import Applier, Step, aws_shape, number, tag_list


def manifest(name: str) -> str:
    """A Docker image manifest with one layer of its own, so each image gets its own digest."""
    layer = "sha256:" + hashlib.sha256(f"{name}-layer".encode()).hexdigest()
    config = "sha256:" + hashlib.sha256(f"{name}-config".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469, "digest": config},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 28, "digest": layer}],
        }
    )


# --- S3: the bucket, then one resource per bucket setting ---


def bucket(step: Step) -> Mapping[str, Any]:
    s3, inputs = step.client("s3"), step.inputs
    inputs.ignore("forceDestroy")  # what `pulumi destroy` does with objects left in it
    name = inputs.get("bucket") or inputs["bucketPrefix"] + step.aws.unique_suffix()
    s3.create_bucket(Bucket=name)  # us-east-1: no location constraint
    if tags := inputs.get("tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
    return {"id": name, "bucket": name, "arn": f"arn:{step.aws.partition}:s3:::{name}"}


def bucket_setting(call: str, argument: str, shape: Any) -> Applier:
    """A bucket resource that is one ``Put*`` call: ``shape`` makes the argument from the inputs."""

    def apply(step: Step) -> Mapping[str, Any]:
        name = step.inputs["bucket"]
        getattr(step.client("s3"), call)(Bucket=name, **{argument: shape(step.inputs)})
        return {"id": name}

    return apply


def ownership(inputs: Mapping[str, Any]) -> Any:
    return {"Rules": [aws_shape(inputs["rule"])]}


def public_access(inputs: Mapping[str, Any]) -> Any:
    flags = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
    return {flag[:1].upper() + flag[1:]: bool(inputs.get(flag, False)) for flag in flags}


def encryption(inputs: Mapping[str, Any]) -> Any:
    return {"Rules": aws_shape(inputs["rules"], sseAlgorithm="SSEAlgorithm", kmsMasterKeyId="KMSMasterKeyID")}


def lifecycle(inputs: Mapping[str, Any]) -> Any:
    return {"Rules": aws_shape(inputs["rules"], id="ID")}


def versioning(inputs: Mapping[str, Any]) -> Any:
    return aws_shape(inputs["versioningConfiguration"])


def policy(inputs: Mapping[str, Any]) -> Any:
    return inputs["policy"]


# --- ECR: repositories, lifecycle policies, and the images pulumi-docker pushes ---


def repository(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    inputs.ignore("forceDelete")  # what `pulumi destroy` does with images left in it
    found = step.client("ecr").create_repository(
        repositoryName=step.autoname(),
        imageTagMutability=inputs.get("imageTagMutability", "MUTABLE"),
        imageScanningConfiguration=inputs.get("imageScanningConfiguration", {"scanOnPush": False}),
        encryptionConfiguration=(inputs.get("encryptionConfigurations") or [{"encryptionType": "AES256"}])[0],
        tags=tag_list(inputs.get("tags")),
    )["repository"]
    return {
        "id": found["repositoryName"],
        "name": found["repositoryName"],
        "arn": found["repositoryArn"],
        "registryId": found["registryId"],
        "repositoryUrl": found["repositoryUri"],
    }


def lifecycle_policy(step: Step) -> Mapping[str, Any]:
    name = step.inputs["repository"]
    step.client("ecr").put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=step.inputs["policy"])
    return {"id": name}


def image(step: Step) -> Mapping[str, Any]:
    """pulumi-docker builds locally and pushes ``imageName``; here the push is an ECR PutImage of a manifest.

    moto's ECR digest is a hash of the layer digests, not of the manifest: ``repoDigest`` is the digest ECR
    reports, as pulumi-docker's is.
    """
    inputs = step.inputs
    # How the image is built and the push credentials: the stand-in manifest holds no build (its platform
    # would be in the image config, which no check reads).
    inputs.ignore("build", "buildOnPreview", "registry")
    repository_url, _, tag = str(inputs["imageName"]).rpartition(":")
    if inputs.get("skipPush"):
        return {"id": inputs["imageName"], "imageName": inputs["imageName"]}
    name = repository_url.split("/", 1)[1]
    pushed = step.client("ecr").put_image(repositoryName=name, imageManifest=manifest(name), imageTag=tag)["image"]
    digest = f"{repository_url}@{pushed['imageId']['imageDigest']}"
    return {"id": digest, "imageName": inputs["imageName"], "repoDigest": digest}


def codebuild_project(step: Step) -> Mapping[str, Any]:
    inputs, name = step.inputs, step.autoname()
    source, environment = inputs["source"], inputs["environment"]
    step.client("codebuild").create_project(
        name=name,
        description=inputs.get("description", ""),
        source={"type": source["type"], "location": source["location"], "buildspec": source["buildspec"]},
        artifacts={"type": inputs["artifacts"]["type"]},
        environment={
            "type": environment["type"],
            "image": environment["image"],
            "computeType": environment["computeType"],
            "privilegedMode": environment["privilegedMode"],
            "imagePullCredentialsType": environment["imagePullCredentialsType"],
        },
        serviceRole=inputs["serviceRole"],
        timeoutInMinutes=number(inputs["buildTimeout"]),
        queuedTimeoutInMinutes=number(inputs["queuedTimeout"]),
        logsConfig={
            "cloudWatchLogs": aws_shape(inputs["logsConfig"]["cloudwatchLogs"], groupName="groupName", status="status")
        },
        tags=tag_list(inputs.get("tags"), "key", "value"),
    )
    aws = step.aws
    return {"id": name, "name": name, "arn": f"arn:{aws.partition}:codebuild:{aws.region}:{aws.account}:project/{name}"}


def remote_image_build(step: Step) -> Mapping[str, Any]:
    """What `RemoteImageBuild` and CodeBuild do together: the provider uploads the archive and starts the
    build (both real calls to moto here); CodeBuild runs the buildspec, whose push is an ECR PutImage of a
    manifest (as for pulumi-docker above). The provider's own waiting and failure handling is tested
    against moto in tests/components/test_remote_build.py."""
    inputs = step.inputs
    inputs.ignore("__provider", "region", "account_id", "archive_sha256", "buildspec", "environment", "quota")
    inputs.ignore("build_id", "digest", "image_uri")  # outputs, declared empty
    bucket, key = inputs["bucket"], inputs["key"]
    s3 = step.client("s3")
    # moto evaluates a bucket policy's Deny without its Condition (moto/s3/responses.py, get_permission), so
    # the TLS-only policy denies every PutObject that AWS, over HTTPS as boto3 always is, allows: the upload
    # happens with the policy lifted, and the policy is put back as it was.
    held = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    try:
        upload_source(s3, bucket=bucket, key=key, content=Path(inputs["archive_path"]).read_bytes())
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=held)
    build = step.client("codebuild").start_build(
        projectName=inputs["project"],
        sourceTypeOverride="S3",
        sourceLocationOverride=f"{bucket}/{key}",
        environmentVariablesOverride=[{"name": TAG_VARIABLE, "value": inputs["tag"], "type": "PLAINTEXT"}],
    )["build"]
    repository_url = str(inputs["repository_url"])
    name = repository_url.split("/", 1)[1]
    pushed = step.client("ecr").put_image(repositoryName=name, imageManifest=manifest(name), imageTag=inputs["tag"])
    digest = pushed["image"]["imageId"]["imageDigest"]
    return {
        "id": f"{inputs['project']}:{inputs['tag']}",
        "build_id": build["id"],
        "digest": digest,
        "image_uri": f"{repository_url}@{digest}",
    }


# --- logs, IAM ---


def log_group(step: Step) -> Mapping[str, Any]:
    logs, inputs, name = step.client("logs"), step.inputs, step.autoname()
    logs.create_log_group(logGroupName=name, **({"tags": dict(tags)} if (tags := inputs.get("tags")) else {}))
    if days := inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=number(days))
    aws = step.aws
    return {"id": name, "name": name, "arn": f"arn:{aws.partition}:logs:{aws.region}:{aws.account}:log-group:{name}"}


def role(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    made = step.client("iam").create_role(
        RoleName=step.autoname(),
        Path=inputs.get("path", "/"),
        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        Description=inputs.get("description", ""),
        MaxSessionDuration=number(inputs.get("maxSessionDuration", 3600)),  # IAM's default
        Tags=tag_list(inputs.get("tags")),
    )["Role"]
    return {"id": made["RoleName"], "name": made["RoleName"], "arn": made["Arn"], "uniqueId": made["RoleId"]}


def managed_policy(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    name = inputs.get("name") or f"{inputs['namePrefix']}{step.autoname()[-7:]}"
    made = step.client("iam").create_policy(
        PolicyName=name,
        PolicyDocument=inputs["policy"],
        Description=inputs.get("description", ""),
        Tags=tag_list(inputs.get("tags")),
    )["Policy"]
    return {"id": made["Arn"], "arn": made["Arn"], "name": made["PolicyName"], "policyId": made["PolicyId"]}


def role_policy(step: Step) -> Mapping[str, Any]:
    role_name, name = step.inputs["role"], step.autoname()
    step.client("iam").put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=step.inputs["policy"])
    return {"id": f"{role_name}:{name}", "name": name}


# --- ECS ---


def cluster(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    made = step.client("ecs").create_cluster(
        clusterName=step.autoname(),
        settings=inputs.get("settings", []),
        tags=tag_list(inputs.get("tags"), "key", "value"),
    )["cluster"]
    return {"id": made["clusterArn"], "arn": made["clusterArn"], "name": made["clusterName"]}


def capacity_providers(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    step.client("ecs").put_cluster_capacity_providers(
        cluster=inputs["clusterName"],
        capacityProviders=inputs["capacityProviders"],
        defaultCapacityProviderStrategy=[
            {
                "capacityProvider": s["capacityProvider"],
                "weight": number(s.get("weight", 0)),
                "base": number(s.get("base", 0)),
            }
            for s in inputs.get("defaultCapacityProviderStrategies", [])
        ],
    )
    return {"id": inputs["clusterName"]}


def task_definition(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    inputs.ignore("skipDestroy")  # `pulumi destroy` leaves the revision registered
    made = step.client("ecs").register_task_definition(
        family=inputs["family"],
        containerDefinitions=json.loads(inputs["containerDefinitions"]),
        requiresCompatibilities=inputs.get("requiresCompatibilities", []),
        networkMode=inputs["networkMode"],
        cpu=inputs["cpu"],
        memory=inputs["memory"],
        runtimePlatform=inputs.get("runtimePlatform", {}),
        executionRoleArn=inputs["executionRoleArn"],
        **({"taskRoleArn": inputs["taskRoleArn"]} if "taskRoleArn" in inputs else {}),
        volumes=inputs.get("volumes", []),
        tags=tag_list(inputs.get("tags"), "key", "value"),
    )["taskDefinition"]
    arn = made["taskDefinitionArn"]
    return {"id": made["family"], "arn": arn, "arnWithoutRevision": arn.rpartition(":")[0]}


# --- the internal ALB ---


def load_balancer(step: Step) -> Mapping[str, Any]:
    elbv2, inputs = step.client("elbv2"), step.inputs
    found = elbv2.create_load_balancer(
        Name=step.autoname(),
        Subnets=inputs["subnets"],
        SecurityGroups=inputs["securityGroups"],
        Scheme="internal" if inputs.get("internal") else "internet-facing",
        Type=inputs.get("loadBalancerType", "application"),
        Tags=tag_list(inputs.get("tags")),
    )["LoadBalancers"][0]
    attributes = {
        "idle_timeout.timeout_seconds": str(number(inputs.get("idleTimeout", 60))),
        "routing.http.drop_invalid_header_fields.enabled": str(bool(inputs.get("dropInvalidHeaderFields"))).lower(),
        "deletion_protection.enabled": str(bool(inputs.get("enableDeletionProtection"))).lower(),
    }
    if logs := inputs.get("accessLogs"):
        attributes |= {
            "access_logs.s3.enabled": str(bool(logs.get("enabled"))).lower(),
            "access_logs.s3.bucket": logs["bucket"],
            "access_logs.s3.prefix": logs.get("prefix", ""),
        }
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=found["LoadBalancerArn"], Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()]
    )
    arn = found["LoadBalancerArn"]
    return {"id": arn, "arn": arn, "name": found["LoadBalancerName"], "dnsName": found["DNSName"]}


def listener(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    made = step.client("elbv2").create_listener(
        LoadBalancerArn=inputs["loadBalancerArn"],
        Protocol=inputs["protocol"],
        Port=number(inputs["port"]),
        DefaultActions=aws_shape(inputs["defaultActions"], fixedResponse="FixedResponseConfig"),
        Tags=tag_list(inputs.get("tags")),
    )["Listeners"][0]
    return {"id": made["ListenerArn"], "arn": made["ListenerArn"]}


APPLIERS: dict[str, Applier] = {
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": bucket_setting(
        "put_bucket_ownership_controls", "OwnershipControls", ownership
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": bucket_setting(
        "put_public_access_block", "PublicAccessBlockConfiguration", public_access
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": bucket_setting(
        "put_bucket_encryption", "ServerSideEncryptionConfiguration", encryption
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": bucket_setting(
        "put_bucket_lifecycle_configuration", "LifecycleConfiguration", lifecycle
    ),
    "aws:s3/bucketVersioning:BucketVersioning": bucket_setting(
        "put_bucket_versioning", "VersioningConfiguration", versioning
    ),
    "aws:s3/bucketPolicy:BucketPolicy": bucket_setting("put_bucket_policy", "Policy", policy),
    "aws:ecr/repository:Repository": repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": lifecycle_policy,
    "docker:index/image:Image": image,
    "aws:codebuild/project:Project": codebuild_project,
    "pulumi-python:dynamic/images:RemoteImageBuild": remote_image_build,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:iam/policy:Policy": managed_policy,
    "aws:ecs/cluster:Cluster": cluster,
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": capacity_providers,
    "aws:ecs/taskDefinition:TaskDefinition": task_definition,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:lb/listener:Listener": listener,
}
