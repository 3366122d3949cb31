"""Scoring with an mf checkpoint: numpy only, one matrix product per batch.

RouteLLM's model scores model ``m`` on prompt vector ``x`` as
``s(m, x) = c · (normalize(P[m]) ⊙ (W x))`` and the strong win rate is
``sigmoid(s(strong, x) − s(weak, x))``. For a fixed pair this is linear in ``x``:
``s(strong, x) − s(weak, x) = ((c ⊙ (p̂_strong − p̂_weak)) W) · x``, so a router precomputes that
one direction vector and scores a batch of prompts with a single matrix–vector product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routellm_router_mf.checkpoint import MFConfig, MFWeights


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def pair_direction(weights: MFWeights, strong: int, weak: int) -> np.ndarray:
    """The vector ``v`` with ``logit(win rate of strong over weak) = v · x`` (float64, length ``input_dim``)."""
    p_hat = normalize_rows(weights.P.astype(np.float64))
    gap = weights.classifier[0].astype(np.float64) * (p_hat[strong] - p_hat[weak])
    if weights.text_proj is None:
        return gap
    return gap @ weights.text_proj.astype(np.float64)


def model_logits(config: MFConfig, weights: MFWeights, x: np.ndarray, rows: Sequence[int] | None = None) -> np.ndarray:
    """Each model's score on each prompt vector: shape ``(len(x), len(rows))`` (all rows when ``None``).

    ``s(m, x) = c · (p_m ⊙ act(W x)) + b_m`` with ``p_m`` L2-normalised in RouteLLM's layout; differences
    of two models' scores are win logits, and for checkpoints trained on results each score is the
    model's predicted-quality logit.
    """
    index = np.arange(config.num_models) if rows is None else np.asarray(rows, dtype=np.int64)
    p = weights.P.astype(np.float64)[index]
    if config.normalize_models:
        p = normalize_rows(p)
    h = x.astype(np.float64)
    if weights.text_proj is not None:
        h = h @ weights.text_proj.astype(np.float64).T
    if config.activation == "tanh":
        h = np.tanh(h)
    scores = h @ (p * weights.classifier[0].astype(np.float64)).T
    if weights.bias is not None:
        scores = scores + weights.bias.astype(np.float64)[index]
    return scores


def prompt_features(config: MFConfig, prompts: Sequence[str]) -> np.ndarray:
    """The checkpoint's extra prompt features, standardised: shape ``(len(prompts), len(config.features))``."""
    columns = []
    for name, mean, std in zip(config.features, config.feature_mean, config.feature_std, strict=True):
        if name == "log_chars":
            raw = np.log1p(np.fromiter((len(p) for p in prompts), dtype=np.float64, count=len(prompts)))
        else:  # checked when the checkpoint loads
            raise ValueError(f"unknown prompt feature {name!r}")
        columns.append((raw - mean) / std)
    return np.stack(columns, axis=1) if columns else np.zeros((len(prompts), 0))


def prompt_matrix(config: MFConfig, embeddings: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
    """Embeddings with the checkpoint's features appended: the ``x`` rows the model scores."""
    if not config.features:
        return embeddings
    return np.concatenate([embeddings.astype(np.float64), prompt_features(config, prompts)], axis=1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic
