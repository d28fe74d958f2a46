"""Shared fixtures: a real `portico serve` on 127.0.0.1:0 ports with a temp data dir, and a real
boto3 `apigateway` client pointed at its management listener."""
import os
import re
import subprocess
import tempfile
import threading
import time

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("PORTICO_BIN", os.path.join(ROOT, "target", "debug", "portico"))


def error_of(excinfo):
    """(status, AWS error code, message) of a botocore `ClientError` caught by `pytest.raises`."""
    err = excinfo.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


class Portico:
    """`extra` replaces the default `--access-log off`; with `--tls-listen` among it, `self.https`
    is the HTTPS listener's address; `env` is added to the environment; with
    `stderr` (a file object) the logs are kept; stdout lines are kept in `self.stdout`;
    `reload_ms` is how often the change feed is polled; `data_dir` reuses the data directory of
    an earlier (stopped) instance instead of a fresh one."""

    def __init__(self, extra=("--access-log", "off"), env=None, stderr=subprocess.DEVNULL,
                 reload_ms=50, data_dir=None):
        self.data = data_dir or tempfile.mkdtemp(prefix="portico-mgmt-")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--data-dir", self.data, "--reload-interval-ms", str(reload_ms), *extra],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "PORTICO_LOG": "warn", **(env or {})},
        )
        self.stdout = []
        self.data_plane = self.admin = self.https = None
        # With `--tls-listen`, the `https://` line (printed after the others) is waited for too.
        tls = "--tls-listen" in extra
        deadline = time.time() + 30
        while (self.data_plane is None or self.admin is None or (tls and self.https is None)) \
                and time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.stdout.append(line)
            m = re.match(r"portico: data plane listening on http://(\S+)", line)
            if m:
                self.data_plane = m.group(1)
            m = re.match(r"portico: data plane listening on https://(\S+)", line)
            if m:
                self.https = m.group(1)
            m = re.match(r"portico: management listening on http://(\S+)", line)
            if m:
                self.admin = m.group(1)
        if self.admin is None or (tls and self.https is None):
            self.proc.kill()
            raise RuntimeError("portico did not start")
        self.reader = threading.Thread(target=lambda: self.stdout.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    def invoke_url(self, api_id, stage, path):
        return f"http://{self.data_plane}/restapis/{api_id}/{stage}/_user_request_{path}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
            self.reader.join(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def portico():
    p = Portico(extra=("--access-log", "off", "--tls-listen", "127.0.0.1:0"))
    yield p
    p.stop()


@pytest.fixture(scope="session")
def apigw(portico):
    return boto3.client(
        "apigateway",
        endpoint_url=f"http://{portico.admin}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
