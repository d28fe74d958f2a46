#!/usr/bin/env python3
"""Management API latency: a bounded loop of typical boto3 calls against a fresh `portico serve`.

    .venv/bin/python bench/mgmt_latency.py [--portico target/release/portico] [--n 300]

Prints p50/p99 in milliseconds per operation, measured end to end through boto3 (client time
included), on the embedded SQLite store.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "management"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    os.environ["PORTICO_BIN"] = os.path.abspath(args.portico)
    import conftest  # noqa: E402  (after PORTICO_BIN is set)
    conftest.BIN = os.environ["PORTICO_BIN"]
    p = conftest.Portico()
    try:
        c = boto3.client("apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                         aws_access_key_id="t", aws_secret_access_key="t",
                         config=Config(retries={"max_attempts": 1}))
        api = c.create_rest_api(name="latency")
        root = api["rootResourceId"]
        timings = {"GetRestApi": [], "CreateResource": [], "PutMethod": [], "GetResources": []}
        for i in range(args.n):
            t = time.perf_counter()
            c.get_rest_api(restApiId=api["id"])
            timings["GetRestApi"].append(time.perf_counter() - t)
            t = time.perf_counter()
            r = c.create_resource(restApiId=api["id"], parentId=root, pathPart=f"r{i % 250}") if i < 250 else None
            if r:
                timings["CreateResource"].append(time.perf_counter() - t)
                t = time.perf_counter()
                c.put_method(restApiId=api["id"], resourceId=r["id"], httpMethod="GET", authorizationType="NONE")
                timings["PutMethod"].append(time.perf_counter() - t)
            t = time.perf_counter()
            c.get_resources(restApiId=api["id"], limit=25)
            timings["GetResources"].append(time.perf_counter() - t)
        print("| operation | calls | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|")
        for op, ts in timings.items():
            ts = sorted(ts)
            p50 = statistics.median(ts) * 1000
            p99 = ts[min(len(ts) - 1, int(len(ts) * 0.99))] * 1000
            print(f"| {op} | {len(ts)} | {p50:.2f} | {p99:.2f} |")
    finally:
        p.stop()


if __name__ == "__main__":
    main()
