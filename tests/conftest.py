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


class Portico:
    def __init__(self):
        self.data = tempfile.mkdtemp(prefix="portico-mgmt-")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--data-dir", self.data, "--reload-interval-ms", "50", "--access-log", "off"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, PORTICO_LOG="warn"),
        )
        self.data_plane = self.admin = None
        deadline = time.time() + 30
        while (self.data_plane is None or self.admin is None) and time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"portico: data plane listening on http://(\S+)", line)
            if m:
                self.data_plane = m.group(1)
            m = re.match(r"portico: management listening on http://(\S+)", line)
            if m:
                self.admin = m.group(1)
        if self.admin is None:
            self.proc.kill()
            raise RuntimeError("portico did not start")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def invoke_url(self, api_id, stage, path):
        return f"http://{self.data_plane}/restapis/{api_id}/{stage}/_user_request_{path}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def portico():
    p = Portico()
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
