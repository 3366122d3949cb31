"""The server's own cost per chat request, without sockets: a steadier figure than serve_latency.py on
a busy machine.

Drives the ASGI app in process (``create_app`` with a mocked upstream: httpx ``MockTransport``
answering a canned completion), through Litestar routing, the handler, metrics and the upstream
client, and reports CPU microseconds (process time, which other processes on a shared machine disturb less than wall time) per request as the best of several blocks (the minimum is what a
loaded machine disturbs least). ``--other-python`` runs the same measurement with another
environment's routellm (e.g. main's ``.venv/bin/python``), interleaved, for a side-by-side ratio.

    python benchmarks/serve_overhead.py --other-python /path/to/main/.venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import asyncio, json, sys, time
import httpx
from routellm.engine import RoutingEngine
from routellm.routing import ModelPair
from routellm.server.app import create_app
from routellm.server.settings import resolve_settings
from routellm_router_random import RandomRouter

blocks, per_block = int(sys.argv[1]), int(sys.argv[2])
ANSWER = json.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4-1106-preview",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}).encode()

async def handler(request):
    return httpx.Response(200, content=ANSWER, headers={"content-type": "application/json"})

BODY = json.dumps({"model": "router-random-0.5", "temperature": 0,
    "messages": [{"role": "user", "content": "Write a short poem about routers."}]}).encode()

async def main():
    settings = resolve_settings({"strong": {"name": "gpt-4-1106-preview", "base_url": "http://up/v1"},
                                 "weak": "mixtral-8x7b-instruct-v0.1"}, {"retries": 0})
    engine = RoutingEngine({"random": RandomRouter()}, ModelPair(settings.strong.name, settings.weak.name))
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    app = create_app(settings, engine, http_client=client)
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    life = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()
    headers = [(b"host", b"x"), (b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    never = asyncio.get_running_loop().create_future()

    async def one():
        sent = False
        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": BODY, "more_body": False}
            await never
        status = []
        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
                 "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
                 "root_path": "", "state": {}}
        await app(scope, receive, send)
        assert status == [200], status

    for _ in range(200):
        await one()
    best = []
    for _ in range(blocks):
        start = time.process_time()
        for _ in range(per_block):
            await one()
        best.append((time.process_time() - start) / per_block * 1e6)
    print(json.dumps({"us_per_request_blocks": best}))
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()

try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


def measure(python: str, blocks: int, per_block: int) -> list[float]:
    out = subprocess.run([python, "-c", CHILD, str(blocks), str(per_block)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["us_per_request_blocks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other-python", help="Python of another environment to compare with (e.g. main's).")
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (a fresh process each).")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--per-block", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "serve_overhead.json")
    args = parser.parse_args()
    pythons = {"this": sys.executable}
    if args.other_python:
        pythons["other"] = args.other_python
    runs: dict[str, list[float]] = {name: [] for name in pythons}
    for round_ in range(args.rounds):
        for name, python in pythons.items():
            blocks = measure(python, args.blocks, args.per_block)
            runs[name].append(min(blocks))
            print(f"round {round_ + 1} {name:5s} best block {min(blocks):.1f} us/request", flush=True)
    summary = {name: {"best_us": min(v), "median_of_bests_us": statistics.median(v)} for name, v in runs.items()}
    if "other" in summary:
        summary["ratio_this_over_other"] = summary["this"]["median_of_bests_us"] / summary["other"]["median_of_bests_us"]
    print(json.dumps(summary, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
