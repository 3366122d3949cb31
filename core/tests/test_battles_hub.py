"""Battles by Hugging Face dataset id: read with polars from the Hub's Parquet conversion (no `datasets`)."""

from __future__ import annotations

import sys

import polars as pl
import pytest

from routellm.battles import hub_parquet_path, load_battles, read_table
from routellm.errors import ConfigError


def test_dataset_id_reads_the_parquet_conversion_with_polars(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # never needed
    seen = []

    def fake_read_parquet(source, **kwargs):
        seen.append(source)
        return pl.DataFrame(
            {"model_a": ["a"], "model_b": ["b"], "prompt": ['["hi"]'], "winner_model_a": [1], "winner_model_b": [0], "winner_tie": [0]}
        )

    monkeypatch.setattr(pl, "read_parquet", fake_read_parquet)
    battles = load_battles("lmsys/lmsys-arena-human-preference-55k", split="train")
    assert seen == ["hf://datasets/lmsys/lmsys-arena-human-preference-55k@~parquet/default/train/*.parquet"]
    assert battles["prompt"].to_list() == ["hi"] and battles["winner"].to_list() == ["model_a"]
    assert hub_parquet_path("a/b", split="test") == "hf://datasets/a/b@~parquet/default/test/*.parquet"


def test_hub_failure_is_one_clear_error(monkeypatch):
    def offline(source, **kwargs):
        raise OSError("dns error\nwith a second line")

    monkeypatch.setattr(pl, "read_parquet", offline)
    with pytest.raises(ConfigError, match=r"could not read 'a/b' from the Hugging Face Hub \(OSError: dns error with a second line\)"):
        read_table("a/b")
    with pytest.raises(ConfigError, match="neither a local file nor a Hugging Face dataset id"):
        read_table("no-such-thing")
