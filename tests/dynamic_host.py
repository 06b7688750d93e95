"""Pulumi's Python dynamic-provider host as a real process, driven over gRPC the way the engine drives it.

`pulumi up` runs ``python -m pulumi.dynamic`` (the ``pulumi-resource-pulumi-python`` plugin) in the
project's directory, calls ``Configure`` with the whole stack configuration (keys with their namespaces,
each value as text, secrets marked: pkg/resource/deploy/target.go ``GetPackageConfig``), then ``Create``,
``Read``, ``Update`` and ``Delete`` with the resource's properties, ``__provider`` holding the pickled
provider (pulumi/dynamic/dynamic.py ``serialize_provider``). This does the same, so a test sees what
the engine would: the provider's ``configure`` with that configuration, its calls in a process of their
own, and an error as the host reports it (the gRPC status details, which `pulumi up` prints).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

from ops.evaluate import PROJECT_DIR

PROVIDER_KEY = "__provider"
TYPE = "pulumi-python:dynamic:Resource"


class HostError(Exception):
    """An operation the host failed; ``str()`` is what the engine would show (the gRPC details)."""


def secret(value: str) -> dict[str, str]:
    """A configuration value as the engine marks a secret (sdk/go/common/resource/plugin/rpc.go)."""
    return {_special_sig_key: _special_secret_sig, "value": value}


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    return struct


@dataclass
class Host:
    stub: Any

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=120)
        except grpc.RpcError as error:
            raise HostError(error.details()) from None  # type: ignore[attr-defined]

    @staticmethod
    def _properties(provider: Any, props: Mapping[str, Any]) -> struct_pb2.Struct:
        return _struct({**props, PROVIDER_KEY: serialize_provider(provider)})

    def create(self, provider: Any, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        urn = f"urn:pulumi:test::deep-insight::{TYPE}::r"
        answer = self._call("Create", provider_pb2.CreateRequest(urn=urn, properties=self._properties(provider, props)))
        outs = json_format.MessageToDict(answer.properties)
        outs.pop(PROVIDER_KEY, None)
        return answer.id, outs

    def delete(self, provider: Any, id_: str, props: Mapping[str, Any]) -> None:
        urn = f"urn:pulumi:test::deep-insight::{TYPE}::r"
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=urn, properties=self._properties(provider, props)))


@contextlib.contextmanager
def dynamic_host(config: Mapping[str, Any], env: Mapping[str, str | None] = {}) -> Iterator[Host]:
    """A provider host configured with ``config`` (full key -> text, or `secret`), its environment this
    process's with ``env`` applied (None removes a variable)."""
    environment = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi.dynamic"],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Configure(provider_pb2.ConfigureRequest(args=_struct(config), acceptSecrets=True), timeout=60)
            yield Host(stub)
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
