"""Fuzz, fault and disconnect run of the routing server, all on loopback, bounded.

1. **Fuzz**: schemathesis (if installed; ``pip install schemathesis`` in any environment, or
   ``--schemathesis PATH``) generates requests from the server's own ``/schema/openapi.json``;
   reported: cases sent and answers with a 5xx status (expected 0: the fake upstream is healthy,
   so any 5xx is the server's fault).
2. **Upstream fault matrix**: every fault below x both upstream transports x stream on/off, with
   retries and fallback off; each answer must be OpenAI-shaped JSON (or, for a stream already begun,
   end with an SSE error event) and never the server's own 500.
3. **Client disconnects**: non-streaming requests abandoned while the upstream works (each must be
   cancelled upstream, counted as 499), and streams abandoned after the first chunk.
4. **Slow clients**: half-sent requests, each closed by ``server.request_timeout``.

    python benchmarks/server_faults.py                     # writes results/server_faults.json
    python benchmarks/server_faults.py --examples 500 --disconnects 500
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pytest_routellm import SlowUpstream, openai_upstream, raw_upstream, routing_server, serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
STRONG = "gpt-4-1106-preview"
MESSAGES = [{"role": "user", "content": "hello there, this is a fault test"}]


def _http(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{head}connection: close\r\n\r\n".encode() + body


RAW_FAULTS = {
    "not_http": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "gzip_claimed_plain_body": _http(b'{"id":"x","choices":[]}', "content-type: application/json", "content-encoding: gzip"),
    "200_not_json": _http(b"<html>oops</html>", "content-type: application/json"),
    "200_binary": _http(gzip.compress(b"x" * 5000), "content-type: application/json"),
    "truncated_body": b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ncontent-type: application/json\r\n\r\n{\"id\":",
    "empty_reply": b"",
    "huge_body": _http(b'{"id":"' + b"x" * 300_000 + b'"}', "content-type: application/json"),
}
STATUS_FAULTS = {"500": 500, "502": 502, "503": 503, "429": 429, "400": 400, "404": 404}


def classify(response: httpx.Response, text: str) -> str:
    """``openai_error``, ``sse_error`` (a stream ending with an error event), ``ok`` or ``malformed``."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return "sse_error" if '"error"' in text else "ok"
    try:
        body = json.loads(text)
    except ValueError:
        return "malformed"
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and "message" in body["error"]:
        return "openai_error"
    return "ok" if response.status_code == 200 and isinstance(body, dict) else "malformed"


def call(base: str, stream: bool) -> tuple[int, str, str]:
    body = {"model": "router-random-0", "messages": MESSAGES, "stream": stream}
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=15) as r:
        text = r.read().decode("utf-8", "replace")
    internal = r.status_code == 500 and "internal server error" in text
    return r.status_code, classify(r, text), "server_500" if internal else ""


def fault_matrix(repeat: int) -> list[dict]:
    rows = []
    server = {"retries": 0, "fallback": False, "max_response_bytes": 200_000, "timeouts": {"read": 1.0}}
    for transport in ("aiohttp", "httpx"):
        opts = {**server, "http_transport": transport}
        for name, answer in RAW_FAULTS.items():
            with raw_upstream(answer) as url, routing_server(url, server=opts) as (base, _):
                for stream in (False, True):
                    rows += [_row(name, transport, stream, call(base.removesuffix("/v1"), stream)) for _ in range(repeat)]
        with openai_upstream() as up, routing_server(up.base_url, server=opts) as (base, _):
            base = base.removesuffix("/v1")
            for name, status in STATUS_FAULTS.items():
                for stream in (False, True):
                    for _ in range(repeat):
                        up.fail(status, retry_after=0 if status == 429 else None)
                        rows.append(_row(f"status_{name}", transport, stream, call(base, stream)))
            for stream in (False, True):
                up.delay = 1.5  # past the 1 s read timeout
                rows += [_row("slow_beyond_read_timeout", transport, stream, call(base, stream)) for _ in range(repeat)]
                up.delay = 0.0
                up.drop_after = 1
                rows += [_row("drop_mid_stream", transport, stream, call(base, stream)) for _ in range(repeat)]
                up.drop_after = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
        with routing_server(dead, server=opts) as (base, _):
            for stream in (False, True):
                rows += [_row("connection_refused", transport, stream, call(base.removesuffix("/v1"), stream)) for _ in range(repeat)]
    return rows


def _row(fault: str, transport: str, stream: bool, result: tuple[int, str, str]) -> dict:
    status, shape, internal = result
    return {"fault": fault, "transport": transport, "stream": stream, "status": status, "shape": shape, "internal": internal}


async def _abandon(base: str, count: int, concurrency: int = 50) -> int:
    timeouts = 0
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=0.3, limits=httpx.Limits(max_connections=concurrency)) as c:

        async def one() -> None:
            nonlocal timeouts
            async with limit:
                try:
                    await c.post("/v1/chat/completions", json={"model": "router-random-0", "messages": MESSAGES})
                except httpx.TimeoutException:
                    timeouts += 1

        await asyncio.gather(*(one() for _ in range(count)))
    return timeouts


def disconnects(count: int) -> dict:
    slow = SlowUpstream(delay=3.0)
    with serve_in_thread(slow) as up, routing_server(f"{up}/v1", server={"retries": 0}) as (base, _):
        base = base.removesuffix("/v1")
        abandoned = asyncio.run(_abandon(base, count))
        deadline = time.monotonic() + 10
        while slow.abandoned + slow.finished < abandoned and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3.5)  # anything not cancelled finishes by now
        metrics = httpx.get(f"{base}/metrics").text
    result = {
        "abandoned_by_client": abandoned,
        "cancelled_upstream": slow.abandoned,
        "finished_upstream": slow.finished,
        "counted_499": _metric(metrics, 'routellm_requests_total{model="-",router="-",status="499"}'),
        "counted_disconnects": _metric(metrics, f'routellm_client_disconnects_total{{model="{STRONG}"}}'),
    }
    with openai_upstream() as up, routing_server(up.base_url) as (base, _):
        up.chunk_delay = 0.05
        streams = max(1, count // 10)
        for _ in range(streams):
            body = {"model": "router-random-0", "messages": [{"role": "user", "content": "a b c d e f g h"}], "stream": True}
            with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=5) as r:
                next(r.iter_raw())
        deadline = time.monotonic() + 5
        while up.disconnects < streams and time.monotonic() < deadline:
            time.sleep(0.05)
        result |= {"streams_abandoned": streams, "streams_closed_upstream": up.disconnects, "streams_completed_upstream": up.completed_streams}
    return result


def _metric(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


def slow_clients(count: int) -> dict:
    with openai_upstream() as up, routing_server(up.base_url, server={"request_timeout": 1.0}) as (base, _):
        host, port = base.removeprefix("http://").removesuffix("/v1").split(":")
        socks = []
        for i in range(count):
            s = socket.create_connection((host, int(port)))
            half = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
            if i % 2:
                half += b"content-length: 500\r\ncontent-type: application/json\r\n\r\n{\"model\":"
            s.sendall(half)
            socks.append(s)
        time.sleep(2.5)
        closed = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                data = s.recv(65536)
                while data and not data.endswith(b"}"):
                    more = s.recv(65536)
                    if not more:
                        break
                    data += more
                closed += data.startswith(b"HTTP/1.1 408")
            except (TimeoutError, OSError):
                pass
            s.close()
    return {"half_sent_requests": count, "answered_408_and_closed": closed}


def fuzz(examples: int, schemathesis: str | None) -> dict:
    exe = schemathesis or shutil.which("schemathesis") or shutil.which("st")
    if exe is None:
        return {"skipped": "schemathesis is not installed (pip install schemathesis, or --schemathesis PATH)"}
    with openai_upstream() as up, routing_server(up.base_url, server={"retries": 0}) as (base, _):
        up.record = False
        root = base.removesuffix("/v1")
        report = ROOT / "results" / "schemathesis.xml"
        report.parent.mkdir(exist_ok=True)
        cmd = [exe, "run", f"{root}/schema/openapi.json", "--url", root, "--checks", "not_a_server_error",
               "--max-examples", str(examples), "--report", "junit", "--report-junit-path", str(report),
               "--seed", "1", "--request-timeout", "20"]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        seconds = time.perf_counter() - start
        metrics = httpx.get(f"{root}/metrics").text
    statuses: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("routellm_requests_total{"):
            status = line.split('status="')[1].split('"')[0]
            statuses[status] = statuses.get(status, 0) + float(line.split()[-1])
    cases = int(sum(statuses.values()))
    server_errors = int(sum(v for k, v in statuses.items() if k.startswith("5")))
    tail = proc.stdout.strip().splitlines()[-15:]
    return {"returncode": proc.returncode, "seconds": round(seconds, 1), "chat_requests": cases,
            "chat_5xx": server_errors, "chat_statuses": statuses, "summary": tail}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100, help="schemathesis examples per operation")
    parser.add_argument("--schemathesis", help="path of the schemathesis executable")
    parser.add_argument("--repeat", type=int, default=3, help="requests per fault, transport and stream mode")
    parser.add_argument("--disconnects", type=int, default=200)
    parser.add_argument("--slow-clients", type=int, default=100)
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "server_faults.json")
    args = parser.parse_args()

    out: dict = {}
    out["fuzz"] = fuzz(args.examples, args.schemathesis)
    print("fuzz:", json.dumps({k: v for k, v in out["fuzz"].items() if k != "summary"}), flush=True)
    rows = fault_matrix(args.repeat)
    table: dict[str, dict] = {}
    for row in rows:
        key = f"{row['fault']} stream={row['stream']}"
        entry = table.setdefault(key, {"statuses": {}, "shapes": {}, "server_500": 0})
        entry["statuses"][row["status"]] = entry["statuses"].get(row["status"], 0) + 1
        entry["shapes"][row["shape"]] = entry["shapes"].get(row["shape"], 0) + 1
        entry["server_500"] += row["internal"] == "server_500"
    for key, entry in table.items():
        print(f"{key:42s} statuses {entry['statuses']}  shapes {entry['shapes']}  server 500s {entry['server_500']}")
    malformed = sum(r["shape"] == "malformed" for r in rows)
    internal = sum(r["internal"] == "server_500" for r in rows)
    out["faults"] = {"requests": len(rows), "malformed": malformed, "server_500": internal, "table": table}
    print(f"fault matrix: {len(rows)} requests, {malformed} not OpenAI-shaped, {internal} server 500s", flush=True)
    out["disconnects"] = disconnects(args.disconnects)
    print("disconnects:", json.dumps(out["disconnects"]), flush=True)
    out["slow_clients"] = slow_clients(args.slow_clients)
    print("slow clients:", json.dumps(out["slow_clients"]), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.exit(main())
