"""The dynamic providers' AWS clients: the stack's AWS provider's credentials and account, read at run time.

Pulumi configures a Python dynamic provider with the whole stack configuration, keys with their
namespaces, secrets decrypted (`pulumi.dynamic.ResourceProvider.configure`, called once per provider in the
provider host before its first operation; the engine's side: pkg/resource/deploy/target.go
``GetPackageConfig``). `StackAwsProvider.configure` reads the ``aws:`` keys there (`components.settings_aws`)
on every run, so nothing about credentials is in the resources' state: a teammate's ``pulumi destroy`` uses
the teammate's configuration, as the AWS provider does.

The clients act as the AWS provider would: static keys, else the web identity, else the profile and
boto3's chain (environment, shared files, SSO, container and instance credentials, as the AWS provider's
chain); then each of ``aws:assumeRoles`` in order, refreshed before it expires. Before any call a provider
makes, `StackSession.check_account` compares the caller's account (STS GetCallerIdentity, which needs no
permission) with the account the stack's resources were made in and with ``aws:allowedAccountIds`` /
``aws:forbiddenAccountIds``, and stops with one line naming both accounts if they differ.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pulumi.dynamic

from components.provider_errors import OneLineError, show_one_line_errors
from components.settings_aws import StackAws, read_stack_aws

SESSION_NAME_PREFIX = "deep-insight-"
"""Role sessions the AWS provider config names no session for: ``deep-insight-<unix time>``."""


class StackAwsError(OneLineError):
    """The stack's AWS credentials cannot be used, or act in the wrong account."""


def _credentials_from(fetch: Callable[[], Mapping[str, Any]], method: str) -> Any:
    """Credentials that STS gave (AssumeRole*), fetched again by botocore before they expire."""
    from botocore.credentials import RefreshableCredentials  # noqa: PLC0415 - the provider process only

    def metadata() -> dict[str, str]:
        given = fetch()["Credentials"]
        return {
            "access_key": given["AccessKeyId"],
            "secret_key": given["SecretAccessKey"],
            "token": given["SessionToken"],
            "expiry_time": given["Expiration"].isoformat(),
        }

    return RefreshableCredentials.create_from_metadata(metadata(), metadata, method)


def _session_with(credentials: Any) -> Any:
    """A botocore session that signs with ``credentials`` and nothing else (no fallback to the chain)."""
    import botocore.credentials  # noqa: PLC0415
    import botocore.session  # noqa: PLC0415

    class Given(botocore.credentials.CredentialProvider):
        METHOD = CANONICAL_NAME = "deep-insight-stack"

        def load(self) -> Any:
            return credentials

    core = botocore.session.Session()
    core.register_component("credential_provider", botocore.credentials.CredentialResolver([Given()]))
    return core


def _base_session(aws: StackAws) -> Any:
    """The first credentials, before any role: static keys, else the profile and boto3's chain."""
    import botocore.session  # noqa: PLC0415

    core = botocore.session.Session(profile=aws.profile)
    variables = {
        "config_file": aws.shared_config_file and os.path.expanduser(aws.shared_config_file),
        "credentials_file": aws.shared_credentials_file and os.path.expanduser(aws.shared_credentials_file),
        "ec2_metadata_service_endpoint": aws.ec2_metadata_service_endpoint,
        "ec2_metadata_service_endpoint_mode": aws.ec2_metadata_service_endpoint_mode,
    }
    for name, value in variables.items():
        if value is not None:
            core.set_config_variable(name, value)
    if aws.skip_metadata_api_check:
        core.get_component("credential_provider").remove("iam-role")
    if aws.access_key:
        core.set_credentials(aws.access_key, aws.secret_key, aws.token)
    return core


class StackSession:
    """Clients in one region that act as the stack's AWS provider, and the account they act in."""

    def __init__(self, aws: StackAws, region: str, acting: str) -> None:
        self._aws = aws
        self._region = region
        self._acting = acting
        self._lock = threading.Lock()  # a botocore session may make one client at a time
        self._core: Any = None
        self._boto3: Any = None
        self._account: str | None = None

    def _client_options(self) -> dict[str, Any]:
        from botocore.config import Config  # noqa: PLC0415

        aws = self._aws
        options: dict[str, Any] = {}
        if aws.use_fips_endpoint is not None:
            options["use_fips_endpoint"] = aws.use_fips_endpoint
        if aws.use_dualstack_endpoint is not None:
            options["use_dualstack_endpoint"] = aws.use_dualstack_endpoint
        if aws.max_retries is not None or aws.retry_mode is not None:
            options["retries"] = {
                k: v for k, v in (("max_attempts", aws.max_retries), ("mode", aws.retry_mode)) if v is not None
            }
        if aws.s3_use_path_style:
            options["s3"] = {"addressing_style": "path"}
        verify = False if aws.insecure else aws.ca_bundle
        return {"config": Config(**options), **({"verify": verify} if verify is not None else {})}

    def _sts(self, core: Any, *, unsigned: bool = False) -> Any:
        from botocore import UNSIGNED  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        options = self._client_options()
        if unsigned:  # AssumeRoleWithWebIdentity is authenticated by its token, not signed
            options["config"] = options["config"].merge(Config(signature_version=UNSIGNED))
        return core.create_client(
            "sts",
            region_name=self._aws.sts_region or self._region,
            endpoint_url=self._aws.endpoints.get("sts"),
            **options,
        )

    def _build(self) -> None:
        import boto3  # noqa: PLC0415

        aws = self._aws
        core = _base_session(aws)
        web = aws.web_identity
        default_name = f"{SESSION_NAME_PREFIX}{int(time.time())}"
        if web is not None:
            sts = self._sts(_base_session(StackAws()), unsigned=True)

            def with_web_identity() -> Mapping[str, Any]:
                token = web.token if web.token is not None else Path(web.token_file or "").expanduser().read_text()
                request: dict[str, Any] = {
                    "RoleArn": web.role_arn,
                    "RoleSessionName": web.session_name or default_name,
                    "WebIdentityToken": token.strip(),
                }
                optional = {
                    "DurationSeconds": web.duration_seconds,
                    "Policy": web.policy,
                    "PolicyArns": [{"arn": a} for a in web.policy_arns] or None,
                }
                return sts.assume_role_with_web_identity(**request, **{k: v for k, v in optional.items() if v})

            core = _session_with(_credentials_from(with_web_identity, "assume-role-with-web-identity"))
        for role in aws.assume_roles:
            sts = self._sts(core)
            parameters = role.parameters(default_name)
            core = _session_with(_credentials_from(lambda s=sts, p=parameters: s.assume_role(**p), "assume-role"))
        if core.get_credentials() is None:
            raise StackAwsError(
                f"{self._acting}: no AWS credentials found (aws:profile, aws:accessKey, aws:assumeRoles... in the "
                "stack file, or the environment, as the AWS provider reads them)"
            )
        self._core, self._boto3 = core, boto3.Session(botocore_session=core, region_name=self._region)

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` acting as the stack's AWS provider (``aws:endpoints`` honoured)."""
        with self._lock, _as_one_line(self._acting):
            if self._boto3 is None:
                self._build()
            session: Any = self._boto3
            return session.client(service, endpoint_url=self._aws.endpoints.get(service), **self._client_options())

    def account(self) -> str:
        """The account these credentials act in (STS GetCallerIdentity, asked once)."""
        with self._lock, _as_one_line(self._acting):
            if self._account is None:
                if self._core is None:
                    self._build()
                self._account = str(self._sts(self._core).get_caller_identity()["Account"])
            return self._account

    def check_account(self, expected: str | None) -> None:
        """Stop, naming both accounts, unless the credentials act in ``expected`` (the account the stack's
        resources were made in; None for state written before it was recorded) and the allowed accounts."""
        actual, aws, acting = self.account(), self._aws, self._acting
        if expected and actual != expected:
            raise StackAwsError(
                f"{acting}: the stack's AWS credentials act in account {actual}, but its resources are in account "
                f"{expected}; use the credentials of account {expected} (the stack's aws: settings or the environment)"
            )
        if aws.allowed_account_ids and actual not in aws.allowed_account_ids:
            raise StackAwsError(
                f"{acting}: the stack's AWS credentials act in account {actual}, but aws:allowedAccountIds allows "
                f"only {', '.join(aws.allowed_account_ids)}"
            )
        if actual in aws.forbidden_account_ids:
            raise StackAwsError(
                f"{acting}: the stack's AWS credentials act in account {actual}, which aws:forbiddenAccountIds forbids"
            )


@contextlib.contextmanager
def _as_one_line(acting: str) -> Iterator[None]:
    """Credential and STS failures (no credentials, an unknown profile, AssumeRole denied) as one line."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        yield
    except (BotoCoreError, ClientError, OSError) as error:
        raise StackAwsError(f"{acting}: the stack's AWS credentials cannot be used: {error}") from None


class StackAwsProvider(pulumi.dynamic.ResourceProvider):
    """A dynamic provider whose AWS calls act as the stack's AWS provider (see the module)."""

    # Its pickled code (what Pulumi stores as ``__provider``) captures no secret: credentials come from
    # `configure` at run time. Pulumi then stores it in the clear unless a secret Output was captured.
    serialize_as_secret_always = False
    acting: ClassVar[str] = "a dynamic resource"
    """What the provider does, for its messages (``image build``, ``session sweep``, ...)."""

    def configure(self, req: pulumi.dynamic.ConfigureRequest) -> None:
        show_one_line_errors()
        aws, problems = read_stack_aws(req.config.get)
        self._stack_aws: tuple[StackAws, str] = (aws, "; ".join(map(str, problems)))
        self._sessions: dict[str, StackSession] = {}
        self._sessions_lock = threading.Lock()

    def stack_session(self, region: str, account_id: str | None) -> StackSession:
        """Clients for ``region``, once the caller's account is checked against ``account_id`` and the stack's."""
        if not hasattr(self, "_stack_aws"):
            raise StackAwsError(
                f"{self.acting}: Pulumi passed no stack configuration to this provider; use Pulumi 3.139 or newer"
            )
        aws, problems = self._stack_aws
        if problems:
            raise StackAwsError(f"{self.acting}: invalid stack configuration: {problems}")
        with self._sessions_lock:
            session = self._sessions.setdefault(region, StackSession(aws, region, self.acting))
        session.check_account(account_id)
        return session
