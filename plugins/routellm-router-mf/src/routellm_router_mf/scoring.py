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


def model_directions(weights: MFWeights, rows: Sequence[int]) -> np.ndarray:
    """Matrix ``D`` with ``s(m, x) = (D x)[k]`` for model ``rows[k]``: shape ``(len(rows), input_dim)``, float64."""
    p_hat = normalize_rows(weights.P.astype(np.float64))[list(rows)]
    scaled = p_hat * weights.classifier[0].astype(np.float64)
    if weights.text_proj is None:
        return scaled
    return scaled @ weights.text_proj.astype(np.float64)


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
