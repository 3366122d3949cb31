"""One resolver for "a local folder or a Hub snapshot", and save/load/push for routers with a checkpoint folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import msgspec
import pytest

from routellm.checkpoints import HubCheckpointMixin, resolve_checkpoint
from routellm.errors import ConfigError
from routellm.router import Router

COMMIT = "1234567890abcdef1234567890abcdef12345678"


def fill_hub_cache(cache: Path, repo_id: str, files: Path) -> Path:
    """Lay out ``files`` as the Hub cache's snapshot of ``repo_id`` (what an earlier download leaves behind)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(files, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return repo / "snapshots" / COMMIT


@pytest.fixture
def offline_hub(tmp_path, monkeypatch) -> Path:
    """An offline Hub whose cache is a fresh folder (``huggingface_hub`` answers from it only)."""
    from huggingface_hub import constants

    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


class TableConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    checkpoint_path: str = ""
    revision: str | None = None
    scale: float = 1.0


class TableRouter(HubCheckpointMixin, Router[TableConfig]):
    """Win rate read from ``table.json`` in a checkpoint folder."""

    def __init__(self, config: TableConfig | None = None) -> None:
        super().__init__(config)
        self.checkpoint_folder = resolve_checkpoint(
            self.config.checkpoint_path, owner="router 'table'", revision=self.config.revision, allow_patterns=["*"]
        )
        self.value = json.loads((self.checkpoint_folder / "table.json").read_text())["value"]

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return self.value * self.config.scale


def table_folder(path: Path, value: float = 0.25) -> Path:
    path.mkdir(parents=True)
    (path / "table.json").write_text(json.dumps({"value": value}))
    (path / "README.md").write_text("# table\n")
    return path


def test_generic_config_becomes_the_class_config(tmp_path):
    assert TableRouter.Config is TableConfig
    router = TableRouter.from_config({"checkpoint_path": str(table_folder(tmp_path / "ck"))})
    assert isinstance(router.config, TableConfig)
    with pytest.raises(ConfigError, match="scael"):
        TableRouter.from_config({"checkpoint_path": str(tmp_path / "ck"), "scael": 2})


def test_local_folder_file_and_missing(tmp_path):
    folder = table_folder(tmp_path / "ck")
    assert resolve_checkpoint(str(folder), owner="x") == folder
    with pytest.raises(ConfigError, match="x: .*table.json is a file"):
        resolve_checkpoint(str(folder / "table.json"), owner="x")
    with pytest.raises(ConfigError, match="x: checkpoint folder not found: .*nope; hint"):
        resolve_checkpoint(str(tmp_path / "nope"), owner="x", hint="; hint")
    with pytest.raises(ConfigError, match="not found"):
        resolve_checkpoint("not/a/hub/id", owner="x")


def test_hub_id_from_a_prefilled_cache(tmp_path, offline_hub):
    snapshot = fill_hub_cache(offline_hub, "someone/table-router", table_folder(tmp_path / "src", 0.75))
    assert resolve_checkpoint("someone/table-router", owner="x", allow_patterns=["*"]) == snapshot
    router = TableRouter.from_pretrained("someone/table-router", scale=0.5)
    assert router.calculate_strong_win_rate("hi") == pytest.approx(0.375)


def test_hub_id_not_cached_offline_is_one_clear_error(offline_hub):
    with pytest.raises(ConfigError, match="x: cannot get 'someone/missing' from the Hugging Face Hub.*trained folder; do this"):
        resolve_checkpoint("someone/missing", owner="x", what="trained folder", hint="; do this")


def test_save_pretrained_round_trip(tmp_path):
    router = TableRouter.from_pretrained(table_folder(tmp_path / "ck", 0.4))
    out = router.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "table.json"]
    again = TableRouter.from_pretrained(out)
    assert again.calculate_strong_win_rate("x") == router.calculate_strong_win_rate("x")


def test_push_to_hub_uploads_the_saved_folder(tmp_path, monkeypatch):
    import huggingface_hub

    calls: dict = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=None, exist_ok=False):
            calls["create"] = (repo_id, private, exist_ok)
            return type("RepoUrl", (), {"repo_id": f"{repo_id}"})()

        def upload_folder(self, *, repo_id, repo_type, folder_path, commit_message, revision, create_pr):
            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            calls["upload"] = (repo_id, repo_type, commit_message, revision, create_pr)
            return "https://huggingface.co/someone/table/commit/abc"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    router = TableRouter.from_pretrained(table_folder(tmp_path / "ck"))
    url = router.push_to_hub("someone/table", token="hf_x", private=True)
    assert url.endswith("/commit/abc")
    assert calls["token"] == "hf_x"
    assert calls["create"] == ("someone/table", True, True)
    assert calls["files"] == ["README.md", "table.json"]
    assert calls["upload"] == ("someone/table", "model", "Upload routellm router", None, None)
