"""mf checkpoints by Hub id (from a pre-filled, offline Hub cache), save_pretrained and push_to_hub."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from routellm_router_mf.checkpoint import DEFAULT_CHECKPOINT
from routellm_router_mf.router import MFRouter

COMMIT = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "models--someone--mf-router"
    shutil.copytree(DEFAULT_CHECKPOINT, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_from_pretrained_by_hub_id_and_save_pretrained(tmp_path, hub_cache):
    router = MFRouter.from_pretrained("someone/mf-router")
    assert router.folder == hub_cache / "models--someone--mf-router" / "snapshots" / COMMIT
    saved = router.save_pretrained(tmp_path / "saved")
    assert {"config.json", "model.safetensors"} <= {p.name for p in saved.iterdir()}
    again = MFRouter.from_pretrained(saved, strong_model=router.config.strong_model)
    np.testing.assert_array_equal(again.direction, router.direction)
    assert again.checkpoint == router.checkpoint


def test_push_to_hub_goes_up_to_the_upload(tmp_path, monkeypatch):
    import huggingface_hub

    uploaded = {}

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, private=None, exist_ok=False):
            return type("RepoUrl", (), {"repo_id": repo_id})()

        def upload_folder(self, *, folder_path, **kwargs):
            uploaded["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            uploaded.update(kwargs)
            return "commit-url"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert MFRouter.from_pretrained("default").push_to_hub("me/mf") == "commit-url"
    assert uploaded["repo_id"] == "me/mf" and uploaded["repo_type"] == "model"
    assert {"config.json", "model.safetensors"} <= set(uploaded["files"])
