"""Latency the routing server adds, and its maximum throughput (random router).

Starts a loopback OpenAI-compatible upstream (``pytest_routellm.FakeUpstream``) and
``routellm serve --routers random`` in their own processes, then drives both with an asyncio
keep-alive load generator, in the same run and interleaved: the same chat request sent to the
upstream directly and through the server. Reports p50/p99 at 1 and 16 connections (added =
through server - direct), and the best requests/s over several connection counts.

    python benchmarks/serve_latency.py                # writes results/serve_latency.json
    python benchmarks/serve_latency.py --rounds 5 --seconds 3
    python benchmarks/serve_latency.py --other-server "/tmp/rl/bin/python -m routellm.openai_server ..."
    python benchmarks/serve_latency.py --models 4 11     # also serve a models: list of 4 and of 11 priced models
    python benchmarks/serve_latency.py --mf      # mf on distinct prompts: before/after issue 12, side by side

``--mf`` starts one server per configuration in ``MF_SERVERS`` (the MiniLM checkpoint on the ``onnx-int8``
encoder, the default before the static embedder; the checkpoint trained on the ``static`` embedder; each also
with micro-batching on), sends each request a new ~60-word prompt (so the prompt cache
never hits), and reports requests/s at 1, 4, 16 and 64 connections, the latency added at 1 connection,
the cache-hit path (one repeated prompt) and each server's resident memory. Writes ``results/serve_mf.json``.

``--other-server`` runs another server command (``{port}`` and ``{upstream}`` are substituted) and
measures it the same way, e.g. the original RouteLLM server in a throwaway venv.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = (
    "Write a short poem about routers that choose between a large and a small language model for each prompt."
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_bytes(port: int, path: str, model: str) -> bytes:
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": PROMPT}], "temperature": 0}
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer sk-bench\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, payload: bytes, stop_at: float, latencies: list[float], errors: list[str], expect: int = 200
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            writer.write(payload() if callable(payload) else payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = None
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length is None:
                raise RuntimeError(f"response without content-length: {head!r}")
            await reader.readexactly(length)
            if status != expect:
                errors.append(str(status))
                continue
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


async def load(
    port: int, payload: bytes, connections: int, seconds: float, warmup: float = 0.3, expect: int = 200
) -> dict:
    """Drive ``port`` with ``connections`` keep-alive connections for ``seconds``."""
    warm: list[float] = []
    await asyncio.gather(
        *(_connection(port, payload, time.perf_counter() + warmup, warm, []) for _ in range(connections))
    )
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, payload, start + seconds, latencies, errors, expect) for _ in range(connections))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()
    if not latencies:
        raise RuntimeError(f"no successful request (errors: {errors[:5]})")
    return {
        "connections": connections,
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "mean_ms": 1000 * statistics.fmean(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def run(coro):
    """Run ``coro`` on uvloop when installed: the load generator should cost as little CPU as it can."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def wait_ready(port: int, payload: bytes, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}: {process.args}")
        try:
            run(load(port, payload, 1, 0.05, warmup=0))
            return
        except (OSError, RuntimeError, asyncio.IncompleteReadError):
            time.sleep(0.2)
    raise RuntimeError(f"port {port} not ready after {timeout}s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its descendants (Linux /proc), ``None`` elsewhere."""
    try:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    except OSError:
        return None
    family, total = {pid}, 0
    changed = True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in family and child not in family:
                family.add(child)
                changed = True
    for member in family:
        total += stats.get(member, (0, 0))[1]
    return total / os.sysconf("SC_CLK_TCK")


def measure(port: int, payload: bytes, connections: int, seconds: float, pid: int | None) -> dict:
    """One load run; adds the server's CPU milliseconds per request when its pid is known."""
    run(load(port, payload, connections, 0.3, warmup=0))
    before = cpu_seconds(pid) if pid else None
    result = run(load(port, payload, connections, seconds, warmup=0))
    after = cpu_seconds(pid) if pid else None
    if before is not None and after is not None:
        result["cpu_ms_per_request"] = 1000 * (after - before) / max(1, result["requests"] + result["errors"])
    return result


def start(cmd: list[str] | str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a process; its output goes to a temporary file (a full pipe would stall a chatty server)."""
    import tempfile

    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    with tempfile.TemporaryFile() as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            cmd, shell=isinstance(cmd, str), env=env, stdout=log, stderr=subprocess.STDOUT
        )


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="routellm-bench-")


def stop(procs: list[subprocess.Popen]) -> None:
    """Terminate the servers, killing any that have not exited within 10 s."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds; medians are reported.")
    parser.add_argument("--seconds", type=float, default=2.0, help="Seconds per measurement.")
    parser.add_argument("--max-connections", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="Also measure --workers N servers."
    )
    parser.add_argument("--other-server", help="Another server command to measure ({port}, {upstream}).")
    parser.add_argument("--other-model", default="router-random-0.5")
    parser.add_argument(
        "--models", type=int, nargs="*", default=[], help="Also measure servers routing among N priced models."
    )
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "serve_latency.json")
    parser.add_argument("--mf", action="store_true", help="mf on distinct prompts, before/after (see above).")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4, 16, 64], help="With --mf.")
    parser.add_argument("--mf-minilm-checkpoint", default="minilm", help="With --mf: the MiniLM checkpoint.")
    parser.add_argument("--mf-static-checkpoint", default="default", help="With --mf: the static checkpoint.")
    args = parser.parse_args()
    if args.mf:
        return main_mf(args)

    up_port = free_port()
    python = sys.executable
    upstream = start(
        [
            python,
            "-c",
            "import uvicorn; from pytest_routellm import FakeUpstream; u = FakeUpstream(); u.record = False; "
            f"uvicorn.run(u, host='127.0.0.1', port={up_port}, log_level='warning', access_log=False)",
        ]
    )
    procs = [upstream]
    targets = {
        "direct": (up_port, request_bytes(up_port, "/v1/chat/completions", "gpt-4-1106-preview"), upstream)
    }
    for workers in args.workers:
        port = free_port()
        server = start(
            [
                python, "-m", "routellm.cli", "serve", "--routers", "random", "--port", str(port),
                "--base-url", f"http://127.0.0.1:{up_port}/v1", "--workers", str(workers),
            ],
            env={"OPENAI_API_KEY": "sk-upstream"},  # not --api-key: refused with --workers > 1
        )  # fmt: skip
        procs.append(server)
        name = "routellm" if workers == 1 else f"routellm-w{workers}"
        targets[name] = (port, request_bytes(port, "/v1/chat/completions", "router-random-0.5"), server)
    for count in args.models:
        port = free_port()
        config = Path(tempfile_dir()) / f"models-{count}.yaml"
        lines = ["models:"]
        for i in range(count):
            lines.append(
                f"  - {{name: model-{i}, base_url: 'http://127.0.0.1:{up_port}/v1', api_key: sk-upstream, "
                f"price: {{input: {0.1 * (i + 1):.1f}, output: {0.2 * (i + 1):.1f}}}}}"
            )
        config.write_text("\n".join(lines) + "\n")
        server = start(
            [python, "-m", "routellm.cli", "serve", "--routers", "random", "--port", str(port), "--config", str(config)]
        )
        procs.append(server)
        targets[f"routellm-n{count}"] = (port, request_bytes(port, "/v1/chat/completions", "router-random-0.5"), server)
    if args.other_server:
        other_port = free_port()
        cmd = args.other_server.format(port=other_port, upstream=f"http://127.0.0.1:{up_port}/v1")
        other = start(cmd)
        procs.append(other)
        targets["other"] = (
            other_port,
            request_bytes(other_port, "/v1/chat/completions", args.other_model),
            other,
        )
    try:
        for port, payload, proc in targets.values():
            wait_ready(port, payload, proc, timeout=180)
        runs: dict[str, dict[int, list[dict]]] = {name: {} for name in targets}
        for round_ in range(args.rounds):
            for connections in (1, 16):
                for name, (port, payload, proc) in targets.items():
                    result = measure(port, payload, connections, args.seconds, proc.pid)
                    runs[name].setdefault(connections, []).append(result)
                    print(
                        f"round {round_ + 1} {name:9s} c={connections:<3d} p50 {result['p50_ms']:.3f} ms  "
                        f"p99 {result['p99_ms']:.3f} ms  {result['rps']:.0f} req/s  "
                        f"cpu {result.get('cpu_ms_per_request', float('nan')):.3f} ms/req",
                        flush=True,
                    )
        peak: dict[str, dict] = {}
        for name, (port, payload, proc) in targets.items():
            best = None
            for connections in args.max_connections:
                result = measure(port, payload, connections, args.seconds, proc.pid)
                print(f"max-rps   {name:9s} c={connections:<3d} {result['rps']:.0f} req/s", flush=True)
                if best is None or result["rps"] > best["rps"]:
                    best = result
            peak[name] = best
    finally:
        stop(procs)

    def med(name: str, connections: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[name][connections])

    summary = {"cpu_count": os.cpu_count(), "rounds": args.rounds, "seconds": args.seconds, "servers": {}}
    for name in targets:
        entry = {"max_rps": peak[name]["rps"], "max_rps_connections": peak[name]["connections"]}
        for connections in (1, 16):
            for key in ("p50_ms", "p99_ms", "rps", "cpu_ms_per_request"):
                if all(key in r for r in runs[name][connections]):
                    entry[f"c{connections}_{key}"] = med(name, connections, key)
            if name != "direct":
                for key in ("p50_ms", "p99_ms"):
                    entry[f"c{connections}_added_{key}"] = med(name, connections, key) - med(
                        "direct", connections, key
                    )
        summary["servers"][name] = entry
    print(json.dumps(summary, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"summary": summary, "runs": runs, "peak": peak}, indent=2))
    print(f"wrote {args.output}")


WORDS = ["explain", "the", "difference", "between", "a", "compiler", "and", "an", "interpreter", "with", "examples", "from", "python", "rust", "java", "write", "a", "short", "story", "about", "a", "robot", "learning", "to", "paint", "then", "summarise", "it", "prove", "that", "every", "prime", "greater", "than", "two", "is", "odd", "list", "three", "ways", "to", "reduce", "memory", "usage", "in", "a", "web", "server", "describe", "how", "photosynthesis", "works", "for", "a", "child", "translate", "this", "sentence", "into", "french", "and", "german", "what", "are", "the", "causes", "of", "inflation", "compare", "sorting", "algorithms", "design", "a", "database", "schema", "for", "a", "library", "give", "me", "a", "recipe", "for", "bread", "plan", "a", "trip", "to", "japan", "in", "spring"]

#: name -> (mf checkpoint, embedder options for mf, server.batching section). The MiniLM checkpoint is
#: ``--mf-minilm-checkpoint``, the static one ``--mf-static-checkpoint``.
MF_SERVERS = {
    "MiniLM onnx-int8 (before)": ("minilm", {}, {}),
    "MiniLM onnx-int8 + batching": ("minilm", {}, {"enabled": True}),
    "static (after)": ("static", {}, {}),
    "static + batching": ("static", {}, {"enabled": True}),
}


def distinct_payloads(port: int, seed: int):
    """A callable giving a new request with a new ~60-word prompt on every call."""
    import random

    rng = random.Random(seed)
    counter = iter(range(10**9))

    def make() -> bytes:
        words = rng.choices(WORDS, k=58)
        prompt = f"Request {next(counter)} {seed}: " + " ".join(words) + "?"
        body = json.dumps({"model": "router-mf-0.5", "messages": [{"role": "user", "content": prompt}]}).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    return make


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children in MiB (Linux)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(entry) == pid or int(fields.get("PPid", "0").strip()) == pid:
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total / 1024


def main_mf(args) -> None:
    import tempfile

    import yaml

    up_port = free_port()
    python = sys.executable
    upstream = start(
        [python, "-c", "import uvicorn; from pytest_routellm import FakeUpstream; u = FakeUpstream(); u.record = False; "
         f"uvicorn.run(u, host='127.0.0.1', port={up_port}, log_level='warning', access_log=False)"]
    )  # fmt: skip
    procs = [upstream]
    folder = Path(tempfile.mkdtemp(prefix="serve-mf-"))
    targets: dict[str, tuple[int, object, subprocess.Popen]] = {
        "direct": (up_port, request_bytes(up_port, "/v1/chat/completions", "gpt-4-1106-preview"), upstream)
    }
    checkpoints = {"minilm": args.mf_minilm_checkpoint, "static": args.mf_static_checkpoint}
    for i, (name, (checkpoint, embedder, batching)) in enumerate(MF_SERVERS.items()):
        port = free_port()
        config = folder / f"server{i}.yaml"
        config.write_text(yaml.safe_dump({
            "routers": {"mf": {"checkpoint_path": checkpoints[checkpoint], "embedder": embedder}},
            "server": {"batching": batching},
        }))  # fmt: skip
        server = start(
            [python, "-m", "routellm.cli", "serve", "--routers", "mf", "--config", str(config), "--port", str(port),
             "--base-url", f"http://127.0.0.1:{up_port}/v1", "--api-key", "sk-upstream"]
        )  # fmt: skip
        procs.append(server)
        targets[name] = (port, distinct_payloads(port, i), server)
    try:
        for name, (port, payload, proc) in targets.items():
            wait_ready(port, payload if name == "direct" else request_bytes(port, "/v1/chat/completions", "router-mf-0.5"),
                       proc, timeout=600)
        runs: dict[str, dict[int, list[dict]]] = {name: {} for name in targets}
        for round_ in range(args.rounds):
            for connections in args.connections:
                for name, (port, payload, proc) in targets.items():
                    result = measure(port, payload, connections, args.seconds, proc.pid)
                    runs[name].setdefault(connections, []).append(result)
                    print(f"round {round_ + 1} {name:30s} c={connections:<3d} p50 {result['p50_ms']:7.2f} ms  "
                          f"p99 {result['p99_ms']:7.2f} ms  {result['rps']:6.0f} req/s", flush=True)
        hits: dict[str, dict] = {}
        for name, (port, _, proc) in list(targets.items())[1:]:
            same = request_bytes(port, "/v1/chat/completions", "router-mf-0.5")  # one prompt: LRU hits
            hits[name] = {c: measure(port, same, c, args.seconds, proc.pid) for c in (1, 16)}
        memory = {name: rss_mib(proc.pid) for name, (_, _, proc) in targets.items()}
    finally:
        stop(procs)

    def med(name: str, connections: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[name][connections])

    summary = {"cpu_count": os.cpu_count(), "load_average_end": os.getloadavg(), "rounds": args.rounds,
               "checkpoints": checkpoints,
               "seconds": args.seconds, "servers": {}}
    for name in targets:
        entry: dict = {"rss_mib": memory[name]}
        for connections in args.connections:
            entry[f"c{connections}_rps"] = med(name, connections, "rps")
            for key in ("p50_ms", "p99_ms"):
                entry[f"c{connections}_{key}"] = med(name, connections, key)
        if name != "direct":
            for key in ("p50_ms", "p99_ms"):
                entry[f"c1_added_{key}"] = med(name, 1, key) - med("direct", 1, key)
            for c, result in hits[name].items():
                entry[f"cache_hit_c{c}_rps"] = result["rps"]
                entry[f"cache_hit_c{c}_p50_ms"] = result["p50_ms"]
        summary["servers"][name] = entry
    print(json.dumps(summary, indent=2))
    out = args.output if args.output != ROOT / "results" / "serve_latency.json" else ROOT / "results" / "serve_mf.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
