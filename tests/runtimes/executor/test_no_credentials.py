"""User code must learn no secret of the server — neither the executor token nor the way to cloud
credentials — in both of the server's modes. In the non-root mode (the image's) user code runs as the
server's own uid: the case where /proc/<server>/environ is readable unless the server forbids it. The credentials
endpoint is a fake one on 127.0.0.1, given to the server the way ECS gives it (a secret path in
AWS_CONTAINER_CREDENTIALS_FULL_URI); it records every request it gets."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from tests.runtimes.executor.conftest import SERVER_UID, TOKEN, Executor, StartExecutor, run, start_in_mode

# The test's own boto3 (pure Python, like its dependencies), offered to user code: the executor's image has
# none, but an attacker could bring one; it must find no credentials either.
BOTO3_SITE = str(Path(boto3.__file__).parents[1])

# User code: read every /proc/<pid>/environ and cmdline it can, and its own environment; write all of it
# to loot.txt in the workspace (the test reads it back through the files API), print what it could read.
READ_EVERY_ENVIRON = """
import json, os
found, readable = [], []
for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self']:
    for name in ('environ', 'cmdline'):
        try:
            with open(f'/proc/{pid}/{name}', 'rb') as source:
                found.append(source.read().decode('utf-8', 'replace'))
            readable.append(f'{pid}/{name}')
        except OSError:
            pass
    try:
        with open(f'/proc/{pid}/mem', 'rb') as source:
            source.read(1)
        readable.append(f'{pid}/mem')
    except (OSError, ValueError):
        pass
found.append(json.dumps(dict(os.environ)))
open('loot.txt', 'w').write('\\n'.join(found))
print(json.dumps({'readable': readable, 'own': os.getpid()}))
"""

# User code: every ordinary way to cloud credentials (boto3's whole credential chain; the container
# credentials endpoint from the environment, by hand; the ECS addresses) — and report what it got.
FIND_CREDENTIALS = """
import json, os, sys, urllib.request
got = {}
sys.path.append(BOTO3_SITE)
import boto3
got['boto3'] = boto3.__file__
credentials = boto3.Session().get_credentials()
got['boto3 credentials'] = None if credentials is None else credentials.access_key
for name in ('AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'):
    value = os.environ.get(name)
    got[name] = value
    if value:
        url = value if value.startswith('http') else 'http://169.254.170.2' + value
        try:
            got[name + ' answer'] = urllib.request.urlopen(url, timeout=3).read().decode()
        except Exception as error:
            got[name + ' answer'] = f'failed: {type(error).__name__}'
got['aws'] = sorted(k for k in os.environ if k.startswith(('AWS_', 'ECS_')) or 'TOKEN' in k)
print(json.dumps(got))
"""


class FakeCredentialsEndpoint:
    """The container credentials endpoint: answers credentials at its secret path, records every path asked."""

    def __init__(self) -> None:
        self.secret = f"creds-{secrets.token_hex(16)}"
        self.access_key = f"ASIA{secrets.token_hex(8).upper()}"
        self.requests: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.requests.append(self.path)
                if self.path != f"/{endpoint.secret}":
                    self.send_error(404)
                    return
                body = json.dumps({
                    "AccessKeyId": endpoint.access_key, "SecretAccessKey": "s", "Token": "t",
                    "Expiration": "2099-01-01T00:00:00Z",
                }).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{self.secret}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def credentials_endpoint() -> Iterator[FakeCredentialsEndpoint]:
    endpoint = FakeCredentialsEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="module")
def server(start_executor: StartExecutor, mode: str, credentials_endpoint: FakeCredentialsEndpoint) -> Executor:
    """A server given the container credentials the way ECS gives a task role's (and static keys too)."""
    return start_in_mode(
        start_executor,
        mode,
        AWS_CONTAINER_CREDENTIALS_FULL_URI=credentials_endpoint.url,
        AWS_CONTAINER_AUTHORIZATION_TOKEN=f"auth-{credentials_endpoint.secret}",
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=f"/v2/credentials/{credentials_endpoint.secret}",
        ECS_CONTAINER_METADATA_URI_V4=f"http://169.254.170.2/v4/{credentials_endpoint.secret}",
        AWS_ACCESS_KEY_ID=credentials_endpoint.access_key,
        AWS_SECRET_ACCESS_KEY=f"secret-{credentials_endpoint.secret}",
        AWS_REGION="us-east-1",
    )


def test_user_codes_uid_is_the_modes(server, mode):
    """The premise of the tests below. Non-root: user code is the server's own uid, so without the server's
    protection its /proc files would be readable. Root: user code is a uid of its own."""
    with server.client() as client:
        result = run(client, "premise", "import os\nprint(os.getuid())")
        uid = int(result["stdout"])
        assert uid == SERVER_UID if mode == "non-root" else uid not in (0, SERVER_UID), result
        assert run(client, "premise", "import os\nprint(os.getppid())")["stdout"] != "1\n"


@pytest.mark.parametrize("language", ["python", "bash"])
def test_no_proc_file_gives_away_the_token_or_the_credentials_path(server, credentials_endpoint, language):
    secret, token = credentials_endpoint.secret, TOKEN
    with server.client() as client:
        if language == "python":
            result = run(client, "reader", READ_EVERY_ENVIRON)
            assert result["status"] == "ok", result
            report = json.loads(result["stdout"])
            assert "self/environ" in report["readable"]  # the attack works where it may: it reads its own
            loot = client.get("/v1/sessions/reader/files/loot.txt").text
        else:
            script = "for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat $f 2>/dev/null; echo; done; env"
            result = run(client, "reader", script, language="bash")
            loot = result["stdout"]
        assert loot
        assert token not in loot
        assert secret not in loot
        assert credentials_endpoint.access_key not in loot
        assert "AWS_CONTAINER_" not in loot
        assert "ECS_CONTAINER_METADATA" not in loot


def test_the_server_cannot_be_inspected_by_its_uid(server):
    with server.client() as client:
        result = run(
            client,
            "inspect",
            f"import os\nserver = [p for p in os.listdir('/proc') if p.isdigit() and int(p) == {server.process.pid}]\n"
            "print(server)\n"
            "for name in ('environ', 'mem', 'cmdline'):\n"
            "    try:\n"
            "        open(f'/proc/{server[0]}/' + name, 'rb').read(1)\n"
            "        print(name, 'readable')\n"
            "    except (OSError, ValueError) as error:\n"
            "        print(name, type(error).__name__)\n",
        )
        lines = result["stdout"].splitlines()
        assert lines[0] == f"['{server.process.pid}']", result  # user code sees the server's pid…
        assert lines[1] == "environ PermissionError"  # …but not its environment
        assert lines[2] == "mem PermissionError"


def test_no_way_to_cloud_credentials(server, credentials_endpoint):
    with server.client() as client:
        result = run(client, "creds", f"BOTO3_SITE = {BOTO3_SITE!r}\n{FIND_CREDENTIALS}")
        assert result["status"] == "ok", result
        got = json.loads(result["stdout"])
    assert got["boto3"].startswith(BOTO3_SITE), got  # the attack ran with a real boto3…
    assert got["boto3 credentials"] is None, got  # …which found nothing in any of its places
    assert got["AWS_CONTAINER_CREDENTIALS_FULL_URI"] is None
    assert got["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] is None
    assert got["aws"] == []
    assert credentials_endpoint.access_key not in result["stdout"]
    assert credentials_endpoint.requests == []  # nobody asked the endpoint anything, at any path
