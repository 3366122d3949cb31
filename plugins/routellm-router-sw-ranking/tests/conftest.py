"""Fixtures: a small slice of the shared battles, trained into a folder with the real MiniLM."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

#: Distinct prompts kept from the shared battles (each has ~57 battles, one per model).
SLICE_PROMPTS = 24
#: Models kept: spread over the rating range so there are several tiers.
SLICE_MODELS = [
    "FuseChat-Gemma-2-9B-Instruct",
    "FuseChat-Llama-3.2-3B-Instruct",
    "FuseChat-Llama-3.2-1B-Instruct",
    "claude-2",
    "Mixtral-8x7B-Instruct-v0.1_concise",
    "gpt-3.5-turbo-1106",
    "vicuna-13b",
    "vicuna-7b",
    "alpaca-7b",
    "falcon-7b-instruct",
]


@pytest.fixture(scope="session")
def battles_slice(battles_file: Path, tmp_path_factory) -> Path:
    """Raw arena-schema rows of the shared battles for a few prompts and models (a temp parquet)."""
    frame = pl.read_parquet(battles_file)
    prompts = frame["prompt"].unique(maintain_order=True).head(SLICE_PROMPTS)
    frame = frame.filter(pl.col("prompt").is_in(prompts.implode()) & pl.col("model_b").is_in(SLICE_MODELS))
    path = tmp_path_factory.mktemp("battles") / "slice.parquet"
    frame.write_parquet(path)
    return path


@pytest.fixture(scope="session")
def trained_folder(battles_slice: Path, minilm_path: Path, tmp_path_factory) -> Path:
    """``routellm train sw_ranking`` run on the slice with the packaged MiniLM."""
    from typer.testing import CliRunner

    from routellm.cli import build_app

    out = tmp_path_factory.mktemp("trained") / "sw"
    result = CliRunner().invoke(
        build_app(),
        [
            "train",
            "sw_ranking",
            "--battles",
            str(battles_slice),
            "--out",
            str(out),
            "--embedder-model",
            str(minilm_path),
            "--num-tiers",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def reference_win_rate(
    query: np.ndarray,
    battle_embeddings: np.ndarray,
    tier_a: np.ndarray,
    tier_b: np.ndarray,
    winner: np.ndarray,
    strong_tier: int,
    weak_tier: int,
    ridge: float,
) -> float:
    """RouteLLM's per-request fit, written out plainly for one prompt.

    Cosine similarity to every battle, weights ``10 * 10 ** (sim / max_sim)``, then RouteLLM's
    ``compute_elo_mle_with_tie`` design: battles duplicated, ``X`` with +ln 10 / -ln 10 in the two
    tiers' columns, a win two 1s, a tie one 1 and one 0; weighted logistic regression without
    intercept, solved by Newton's method with step halving. Two deliberate departures from RouteLLM:
    battles inside one tier are dropped (RouteLLM's ``X`` overwrites +ln 10 with -ln 10 for them),
    and a small L2 penalty (``ridge`` on the natural-log strengths, doubled with the data)
    fixes the free offset.
    """
    sims = battle_embeddings @ query / (np.linalg.norm(battle_embeddings, axis=1) * np.linalg.norm(query))
    weights = 10 * 10 ** (sims / sims.max())
    keep = tier_a != tier_b
    ta, tb, win, w = tier_a[keep], tier_b[keep], winner[keep], weights[keep]
    n, p = len(ta) * 2, int(max(tier_a.max(), tier_b.max())) + 1
    x = np.zeros((n, p))
    rows = np.arange(n)
    x[rows, np.concatenate([ta, ta])] = math.log(10)
    x[rows, np.concatenate([tb, tb])] = -math.log(10)
    y = np.zeros(n)
    y[np.concatenate([win == "model_a", win == "model_a"])] = 1.0
    y[np.concatenate([win == "tie", np.zeros(len(win), dtype=bool)])] = 1.0
    sw = np.concatenate([w, w])
    penalty = 2 * ridge * math.log(10) ** 2

    def loss(beta):
        z = x @ beta
        return -(sw * (y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z))).sum() + 0.5 * penalty * beta @ beta

    beta = np.zeros(p)
    for _ in range(200):
        prob = 1 / (1 + np.exp(-(x @ beta)))
        grad = x.T @ (sw * (prob - y)) + penalty * beta
        hess = (x * (sw * prob * (1 - prob))[:, None]).T @ x + penalty * np.eye(p)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while loss(beta - t * step) > loss(beta) and t > 1e-6:
            t /= 2
        beta = beta - t * step
        if np.abs(t * step).max() < 1e-12:
            break
    elo = 400 * beta + 1000
    return float(1 - 1 / (1 + 10 ** ((elo[strong_tier] - elo[weak_tier]) / 400)))


@pytest.fixture(scope="session")
def reference():
    """:func:`reference_win_rate`, for test modules (conftest is not importable by name)."""
    return reference_win_rate
