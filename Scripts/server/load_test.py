#!/usr/bin/env python3
"""Load test for `kiln serve`: N concurrent streaming clients for T seconds.

    python3 Scripts/server/load_test.py --base-url http://127.0.0.1:8000 --model NAME --clients 256 --duration 60

Each client sends streaming chat completions (stream_options.include_usage) one after the
other until the time is up; requests still running then get --grace seconds to finish.
With --disconnect-fraction F, a share F of the requests hang up after their first token (a
client going away mid-stream; counted apart, not as errors). Reports errors by kind, lost requests (started, never ended with `data: [DONE]`), request and
token throughput, time to first token and inter-token latency percentiles, and checks that
/metrics shows zero KV blocks used once the load is gone. Plain asyncio: HTTP/1.1 over
asyncio streams, no third-party package needed. Exits 1 when any request failed or was lost,
or blocks stay used.
"""
import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from urllib.parse import urlparse

QUESTIONS = [
    "What is a kiln?", "How hot does a pottery kiln get?", "Write a haiku about clay.", "Why does glaze crack?",
    "Explain bisque firing in one sentence.", "Name three kinds of clay.", "What is the capital of France?",
    "Give me a tip for throwing a bowl.", "What is raku?", "Describe stoneware.", "How long does a firing take?",
    "What is cone 6?",
]


class Stats:
    def __init__(self):
        self.started = 0
        self.completed = 0
        self.disconnected = 0
        self.errors = Counter()
        self.ttft = []
        self.itl = []
        self.latency = []
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.in_flight = set()


async def http_request(host, port, method, path, body=None, headers=None, timeout=600):
    """Opens a connection, sends one request, returns (status, headers, reader, writer)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=30)
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", f"Content-Length: {len(data)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=timeout)
    if not status_line:
        raise ConnectionError("connection closed before the status line")
    status = int(status_line.split()[1])
    response_headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode().partition(":")
        response_headers[name.strip().lower()] = value.strip()
    return status, response_headers, reader, writer


async def body_chunks(reader, headers):
    """The response body as it arrives (chunked transfer encoding or until close)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = await reader.readline()
            if not size_line:
                raise ConnectionError("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readline()
                return
            chunk = await reader.readexactly(size)
            await reader.readexactly(2)
            yield chunk
    elif "content-length" in headers:
        yield await reader.readexactly(int(headers["content-length"]))
    else:
        while chunk := await reader.read(65536):
            yield chunk


async def get(args, path):
    status, headers, reader, writer = await http_request(args.host, args.port, "GET", path, headers=args.auth)
    body = b"".join([c async for c in body_chunks(reader, headers)])
    writer.close()
    return status, body.decode()


async def one_request(args, stats, client_id, number):
    body = {
        "model": args.model, "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": random.choice(QUESTIONS)}],
        "max_tokens": args.max_tokens, "temperature": args.temperature, "ignore_eos": args.ignore_eos,
    }
    key = (client_id, number)
    # a share of the clients hang up after their first token: their blocks must come back
    hang_up = random.random() < args.disconnect_fraction
    stats.started += 1
    stats.in_flight.add(key)
    start = time.perf_counter()
    first, last, done, usage = None, None, False, None
    writer = None
    try:
        status, headers, reader, writer = await http_request(args.host, args.port, "POST", "/v1/chat/completions", body, args.auth)
        if status != 200:
            text = b"".join([c async for c in body_chunks(reader, headers)]).decode(errors="replace")
            try:
                code = json.loads(text)["error"].get("code")
            except Exception:
                code = None
            stats.errors[f"http {status}" + (f" {code}" if code else "")] += 1
            return
        buffer = b""
        async for chunk in body_chunks(reader, headers):
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                if not event.startswith(b"data: "):
                    continue
                payload = event[6:]
                if payload == b"[DONE]":
                    done = True
                    continue
                message = json.loads(payload)
                if "error" in message:
                    stats.errors["stream error " + str(message["error"].get("code"))] += 1
                    return
                if message.get("usage"):
                    usage = message["usage"]
                for choice in message.get("choices", []):
                    if choice.get("delta", {}).get("content"):
                        now = time.perf_counter()
                        if first is None:
                            first = now
                            stats.ttft.append(now - start)
                            if hang_up:
                                stats.disconnected += 1
                                return
                        else:
                            stats.itl.append(now - last)
                        last = now
        if not done:
            stats.errors["stream ended without [DONE]"] += 1
            return
        stats.completed += 1
        stats.latency.append(time.perf_counter() - start)
        if usage:
            stats.prompt_tokens += usage["prompt_tokens"]
            stats.completion_tokens += usage["completion_tokens"]
    except Exception as error:  # noqa: BLE001 - every failure is counted by kind
        stats.errors[type(error).__name__] += 1
    finally:
        stats.in_flight.discard(key)
        if writer is not None:
            writer.close()


async def client(args, stats, client_id, deadline):
    number = 0
    # spread the clients' first requests over a second, as real clients arrive
    await asyncio.sleep(random.random())
    while time.perf_counter() < deadline:
        await one_request(args, stats, client_id, number)
        number += 1


def percentiles(values, scale=1000.0):
    if not values:
        return {"p50": None, "p90": None, "p99": None, "mean": None}
    ordered = sorted(values)

    def at(q):
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * scale, 2)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "mean": round(sum(values) / len(values) * scale, 2)}


def metric(text, name):
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        parts = line.split(" ")
        if len(parts) == 2 and (parts[0] == name or parts[0].startswith(name + "{")):
            total += float(parts[1])
            found = True
    return total if found else None


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", required=True)
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--grace", type=float, default=120, help="seconds requests still running at the end get to finish")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--ignore-eos", action="store_true", help="always generate max-tokens")
    parser.add_argument("--disconnect-fraction", type=float, default=0.0,
                        help="share of requests whose client closes the connection after the first token")
    parser.add_argument("--api-key")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    url = urlparse(args.base_url)
    args.host, args.port = url.hostname, url.port or 80
    args.auth = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}

    status, _ = await get(args, "/health")
    if status != 200:
        sys.exit(f"load test: GET /health answered {status}; is the model loaded?")
    stats = Stats()
    begin = time.perf_counter()
    deadline = begin + args.duration
    tasks = [asyncio.create_task(client(args, stats, i, deadline)) for i in range(args.clients)]
    done, pending = await asyncio.wait(tasks, timeout=args.duration + args.grace)
    lost = len(stats.in_flight)
    for task in pending:
        task.cancel()
    elapsed = time.perf_counter() - begin

    # once the load is gone every KV block must be free again
    blocks_used = running = None
    for _ in range(50):
        _, text = await get(args, "/metrics")
        blocks_used, running = metric(text, "kiln_kv_blocks_used"), metric(text, "kiln_requests_running")
        if blocks_used == 0 and running == 0:
            break
        await asyncio.sleep(0.1)

    report = {
        "clients": args.clients, "duration_s": args.duration, "elapsed_s": round(elapsed, 1), "max_tokens": args.max_tokens,
        "requests_started": stats.started, "requests_completed": stats.completed,
        "requests_disconnected": stats.disconnected, "errors": sum(stats.errors.values()),
        "errors_by_kind": dict(stats.errors), "lost_requests": lost,
        "requests_per_s": round(stats.completed / elapsed, 2), "output_tokens": stats.completion_tokens,
        "output_tokens_per_s": round(stats.completion_tokens / elapsed, 1), "prompt_tokens": stats.prompt_tokens,
        "ttft_ms": percentiles(stats.ttft), "itl_ms": percentiles(stats.itl), "latency_ms": percentiles(stats.latency),
        "kv_blocks_used_after": blocks_used, "requests_running_after": running,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.clients} clients for {args.duration:.0f} s ({elapsed:.1f} s with the drain), max_tokens {args.max_tokens}")
        print(f"requests: {stats.started} started, {stats.completed} completed, {stats.disconnected} hung up by their client, "
              f"{report['errors']} errors {dict(stats.errors)}, {lost} lost")
        print(f"throughput: {report['requests_per_s']} requests/s, {report['output_tokens_per_s']} output tok/s "
              f"({stats.completion_tokens} output, {stats.prompt_tokens} prompt tokens)")
        for name in ("ttft_ms", "itl_ms", "latency_ms"):
            p = report[name]
            print(f"{name[:-3].upper():8} ms: p50 {p['p50']}  p90 {p['p90']}  p99 {p['p99']}  mean {p['mean']}")
        print(f"after the load: kiln_kv_blocks_used {blocks_used}, kiln_requests_running {running}")
    ok = report["errors"] == 0 and lost == 0 and blocks_used == 0
    if not ok:
        print("load test: FAILED (errors, lost requests or KV blocks still used)", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
