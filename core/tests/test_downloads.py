"""The pinned-download path, against a real HTTP server on loopback."""

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from routellm.downloads import DownloadError, PinnedFile, fetch, resolve_files, sha256_file


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path / 'www'`` on 127.0.0.1; yields (base URL, folder, request log)."""
    root = tmp_path / "www"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root, requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _publish(root: Path, name: str, data: bytes) -> PinnedFile:
    (root / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_fetch_downloads_once_and_verifies(server, tmp_path):
    base, root, requests = server
    digest = _publish(root, "a.csv", b"prompt,x\nhi,1\n")
    dest = tmp_path / "cache" / "a.csv"
    pinned = PinnedFile(f"{base}/a.csv", digest)
    assert fetch(pinned, dest) == dest
    assert sha256_file(dest) == digest
    assert fetch(pinned, dest) == dest
    assert len(requests) == 1, "a verified cached copy must not be downloaded again"


def test_checksum_mismatch_is_an_error_and_leaves_no_file(server, tmp_path):
    base, root, _ = server
    _publish(root, "b.csv", b"tampered")
    dest = tmp_path / "cache" / "b.csv"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(PinnedFile(f"{base}/b.csv", "0" * 64), dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_corrupt_cached_copy_is_replaced(server, tmp_path):
    base, root, requests = server
    digest = _publish(root, "c.txt", b"good")
    dest = tmp_path / "c.txt"
    dest.write_bytes(b"bad")
    fetch(PinnedFile(f"{base}/c.txt", digest), dest)
    assert dest.read_bytes() == b"good" and len(requests) == 1


def test_http_error_names_the_url_and_the_local_alternative(server, tmp_path):
    base, _, _ = server
    with pytest.raises(DownloadError, match=r"404.*ROUTELLM_DATA_DIR"):
        fetch(PinnedFile(f"{base}/missing.csv", "0" * 64), tmp_path / "m.csv")


def test_resolve_files_downloads_into_the_cache_without_a_data_dir(server, monkeypatch, tmp_path):
    base, root, _ = server
    (root / "sub").mkdir()
    digest = _publish(root, "sub/q.jsonl", b'{"a": 1}\n')
    monkeypatch.delenv("ROUTELLM_DATA_DIR", raising=False)
    monkeypatch.setenv("ROUTELLM_CACHE_DIR", str(tmp_path / "cache"))
    folder = resolve_files("benchmarks/demo", {"sub/q.jsonl": PinnedFile(f"{base}/sub/q.jsonl", digest)})
    assert folder == tmp_path / "cache" / "downloads" / "benchmarks" / "demo"
    assert (folder / "sub" / "q.jsonl").read_bytes() == b'{"a": 1}\n'


def test_resolve_files_prefers_the_data_dir(monkeypatch, tmp_path):
    (tmp_path / "benchmarks" / "demo").mkdir(parents=True)
    (tmp_path / "benchmarks" / "demo" / "f.csv").write_text("x")
    monkeypatch.setenv("ROUTELLM_DATA_DIR", str(tmp_path))
    pinned = {"f.csv": PinnedFile("http://127.0.0.1:9/never", "0" * 64)}
    assert resolve_files("benchmarks/demo", pinned) == tmp_path / "benchmarks" / "demo"
    with pytest.raises(DownloadError, match="lacks 1 file"):
        resolve_files("benchmarks/demo", {"g.csv": pinned["f.csv"]})


def test_benchmark_plugin_downloads_its_pinned_files(server, monkeypatch, shared_data):
    """gsm8k without a data dir: the pinned files come over HTTP, checked against their sha256."""
    import routellm_benchmark_gsm8k.sources as sources

    base, root, requests = server
    for rel in sources.FILES:
        (root / rel).write_bytes((shared_data / "benchmarks" / "gsm8k" / rel).read_bytes())
    local = {rel: PinnedFile(f"{base}/{rel}", pinned.sha256) for rel, pinned in sources.FILES.items()}
    monkeypatch.setattr(sources, "FILES", local)
    monkeypatch.delenv("ROUTELLM_DATA_DIR", raising=False)
    from routellm.registry import get_registry

    data = get_registry().create_benchmark("gsm8k").load()
    assert len(data) == 1307
    assert sorted(requests) == sorted(f"/{rel}" for rel in local)
