#!/usr/bin/env python3
"""Benchmark: chat completions per second through one gateway, and through
the two gateways behind HAProxy, on the converged `scaleout` scenario
(`molecule converge -s scaleout` first), against `mock_response` models.

    python benchmarks/scaleout_throughput.py [--runs 5] [--requests 300] [--concurrency 16]

Each run sends the same number of requests from the same number of client
threads, one gateway and the balancer interleaved; prints the medians and
their ratio as a Markdown table for docs/scaling.md. The clients run on the
controller, which shares its cores with the instances: the ratio says what a
second gateway adds on this machine, not on hosts of their own. Not a test.
"""

import argparse
import json
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

GATEWAY = "http://10.216.0.11:4000"
BALANCER = "http://10.216.0.10:4000"


def master_key():
    text = subprocess.run(["docker", "exec", "scaleout-gw-1", "cat", "/etc/litellm/keys.env"],
                          check=True, capture_output=True, text=True).stdout
    return next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("LITELLM_MASTER_KEY="))


def post(base, path, key, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def run(base, key, requests, concurrency):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(lambda _: post(base, "/v1/chat/completions", key, body)[0], range(requests)))
    elapsed = time.monotonic() - start
    failed = sum(status != 200 for status in statuses)
    if failed:
        raise SystemExit(f"{failed} of {requests} requests to {base} failed")
    return requests / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    status, raw = post(GATEWAY, "/key/generate", master_key(), {"key_alias": f"bench-{int(time.time())}"})
    assert status == 200, raw
    key = json.loads(raw)["key"]
    run(GATEWAY, key, args.concurrency * 2, args.concurrency)  # warm-up: the key in both gateways' caches
    run(BALANCER, key, args.concurrency * 4, args.concurrency)
    one, two = [], []
    for index in range(args.runs):
        one.append(run(GATEWAY, key, args.requests, args.concurrency))
        two.append(run(BALANCER, key, args.requests, args.concurrency))
        print(f"run {index + 1}: one gateway {one[-1]:.1f}/s, two behind HAProxy {two[-1]:.1f}/s", flush=True)
    m1, m2 = statistics.median(one), statistics.median(two)
    print()
    print(f"| path ({args.requests} requests, {args.concurrency} clients, {args.runs} runs) | median req/s | runs |")
    print("|---|---|---|")
    print(f"| one gateway (gw-1 directly) | {m1:.1f} | {', '.join(f'{v:.1f}' for v in one)} |")
    print(f"| two gateways behind HAProxy | {m2:.1f} | {', '.join(f'{v:.1f}' for v in two)} |")
    print(f"| ratio two / one | {m2 / m1:.2f} | |")


if __name__ == "__main__":
    main()
