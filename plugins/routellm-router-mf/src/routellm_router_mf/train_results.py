"""Training a multi-model mf checkpoint on results tables (``routellm train mf --results ...``).

The model keeps one vector per distinct model name (names are never merged unless the user says two
names are the same model) and scores model ``m`` on prompt ``q`` as

    logit(m, q) = v_m · tanh(W [e_q, features]) + b_m

One objective joins a **pointwise** loss (binary cross-entropy of ``sigmoid(logit)`` against each
0..1 result) and a **pairwise** loss (logistic loss of ``logit(a) − logit(b)`` on every pair of models
with results on the same prompt; equal results are 0.5 targets), both weighted by the source's
weight. Any two rows of the model table can then be the strong/weak pair at routing time.

The checkpoint uses the mf layout (``P`` = the model vectors, ``text_proj`` = ``W``, ``classifier`` =
ones) with ``activation: tanh``, ``normalize_models: false`` and a ``model_bias`` tensor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.errors import ConfigError
from routellm_router_mf.checkpoint import FEATURES, FORMAT, MODEL_DIGEST, MFConfig, MFWeights, save_checkpoint
from routellm_router_mf.scoring import model_logits, prompt_features


class ResultsTrainOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Hyperparameters of the multi-model mf."""

    dim: int = 64
    epochs: int = 300
    lr: float = 3e-3
    weight_decay: float = 1e-4
    #: Std of Gaussian noise on the prompt vectors during training.
    noise: float = 0.05
    #: Weight of the pairwise loss relative to the pointwise one (0: pointwise only).
    pairwise_weight: float = 1.0
    #: Weight of the pointwise loss (0: pairwise only).
    pointwise_weight: float = 1.0
    val_fraction: float = 0.1
    patience: int = 10
    seed: int = 42
    features: list[str] = msgspec.field(default_factory=list)
    #: ``{name: same-model name}``: results under ``name`` count as that model's (only for true synonyms).
    same_model: dict[str, str] = msgspec.field(default_factory=dict)
    #: ``{alias: row name}``: other names users may type for a row (lookup only; the data are not merged).
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    #: Decontamination: normalised prefix length and embedding cosine threshold (``None``: prefix only).
    prefix_chars: int = 80
    near_duplicate: float | None = 0.95
    batch_prompts: int = 512


@dataclass
class ResultsData:
    """Results of all sources as one prompt × model matrix (``nan`` = no result)."""

    prompts: list[str]
    names: list[str]
    scores: np.ndarray
    #: Source index of each row and the sources' names and weights.
    source: np.ndarray
    source_names: list[str]
    source_weights: list[float]


def stack_results(tables: Sequence[Any], same_model: dict[str, str] | None = None) -> ResultsData:
    """Rows of every table under one model table: the union of model names (after ``same_model``)."""
    same_model = same_model or {}
    names = sorted({same_model.get(m) or m for t in tables for m in t.models})
    col = {n: j for j, n in enumerate(names)}
    blocks, sources, prompts = [], [], []
    for s, table in enumerate(tables):
        block = np.full((len(table), len(names)), np.nan)
        for j, model in enumerate(table.models):
            target = col[same_model.get(model, model)]
            have = np.isfinite(table.scores[:, j])
            block[have, target] = table.scores[have, j]
        blocks.append(block)
        sources.append(np.full(len(table), s))
        prompts.extend(table.prompts)
    if not prompts:
        raise ConfigError("no training prompts left (after loading and decontamination)")
    return ResultsData(
        prompts=prompts,
        names=names,
        scores=np.concatenate(blocks),
        source=np.concatenate(sources),
        source_names=[t.info.name for t in tables],
        source_weights=[t.weight for t in tables],
    )


def feature_matrix(features: Sequence[str], prompts: Sequence[str], train_mask: np.ndarray):
    """Standardised extra features (mean/std from the training rows) and their statistics."""
    if not features:
        return np.zeros((len(prompts), 0), dtype=np.float32), [], []
    probe = MFConfig(
        dim=1, num_models=0, text_dim=0, features=list(features),
        feature_mean=[0.0] * len(features), feature_std=[1.0] * len(features),
    )
    raw = prompt_features(probe, prompts)
    mean = raw[train_mask].mean(axis=0)
    std = np.maximum(raw[train_mask].std(axis=0), 1e-6)
    return ((raw - mean) / std).astype(np.float32), mean.tolist(), std.tolist()


@dataclass
class FitOutput:
    weights: MFWeights
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)


def fit_results(
    x: np.ndarray, data: ResultsData, val_mask: np.ndarray, options: ResultsTrainOptions, *, echo: Callable[[str], None] | None = None
) -> FitOutput:
    """Fit the model on precomputed prompt vectors ``x`` (rows of ``data``); early stopping on the
    validation rows' loss; the best weights are returned."""
    import torch

    torch.manual_seed(options.seed)
    gen = torch.Generator().manual_seed(options.seed)
    n, m = data.scores.shape
    X = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    S = torch.from_numpy(np.nan_to_num(data.scores, nan=0.0).astype(np.float32))
    have = torch.from_numpy(np.isfinite(data.scores))
    row_w = torch.from_numpy(np.asarray(data.source_weights, dtype=np.float32)[data.source])
    W = torch.nn.Linear(X.shape[1], options.dim, bias=False)
    V = torch.nn.Parameter(torch.randn(m, options.dim, generator=gen) * 0.1)
    b = torch.nn.Parameter(torch.zeros(m))
    # Start each model's offset at its mean result, so the vectors learn the prompt-dependent part.
    with torch.no_grad():
        mean = (S * have).sum(0) / have.sum(0).clamp(min=1)
        b.copy_(torch.logit(mean.clamp(0.02, 0.98)))
    params = [*W.parameters(), V, b]
    optimizer = torch.optim.AdamW(params, lr=options.lr, weight_decay=options.weight_decay)

    def logits(rows: torch.Tensor, noise: bool) -> torch.Tensor:
        xb = X[rows]
        if noise and options.noise:
            xb = xb + torch.randn(xb.shape, generator=gen) * options.noise
        return torch.tanh(W(xb)) @ V.T + b

    def loss_of(rows: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        s, h, w = S[rows], have[rows].float(), row_w[rows][:, None]
        total = torch.zeros(())
        if options.pointwise_weight:
            bce = torch.nn.functional.binary_cross_entropy_with_logits(out, s, reduction="none")
            total = total + options.pointwise_weight * (bce * h * w).sum() / (h * w).sum().clamp(min=1e-9)
        if options.pairwise_weight:
            diff = out[:, :, None] - out[:, None, :]
            target = 0.5 + (s[:, :, None] - s[:, None, :]) / 2.0
            pair = h[:, :, None] * h[:, None, :] * torch.triu(torch.ones(m, m), diagonal=1)
            pw = pair * w[:, :, None]
            bce = torch.nn.functional.binary_cross_entropy_with_logits(diff, target, reduction="none")
            total = total + options.pairwise_weight * (bce * pw).sum() / pw.sum().clamp(min=1e-9)
        return total

    train_rows = torch.from_numpy(np.flatnonzero(~val_mask))
    val_rows = torch.from_numpy(np.flatnonzero(val_mask))
    best = (float("inf"), 0)
    best_state: list[torch.Tensor] = [p.detach().clone() for p in params]
    history: list[dict[str, float]] = []
    stale = 0
    threads = torch.get_num_threads()
    # The tensors are small: one thread avoids OpenMP synchronisation (much faster on a busy CPU).
    torch.set_num_threads(1)
    try:
        for epoch in range(1, options.epochs + 1):
            order = train_rows[torch.randperm(len(train_rows), generator=gen)]
            total = 0.0
            for start in range(0, len(order), options.batch_prompts):
                rows = order[start : start + options.batch_prompts]
                loss = loss_of(rows, logits(rows, noise=True))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(rows)
            with torch.no_grad():
                val_loss = float(loss_of(val_rows, logits(val_rows, noise=False))) if len(val_rows) else total / len(order)
            history.append({"epoch": epoch, "train_loss": total / len(order), "val_loss": val_loss})
            if val_loss < best[0] - 1e-5:
                best, stale = (val_loss, epoch), 0
                best_state = [p.detach().clone() for p in params]
            else:
                stale += 1
                if stale >= options.patience:
                    break
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        for p, saved in zip(params, best_state, strict=True):
            p.copy_(saved)
    weights = MFWeights(
        P=V.detach().numpy().astype(np.float32),
        text_proj=W.weight.detach().numpy().astype(np.float32),
        classifier=np.ones((1, options.dim), dtype=np.float32),
        bias=b.detach().numpy().astype(np.float32),
    )
    metrics = {"val_loss": best[0], "best_epoch": best[1], "epochs_run": len(history)}
    metrics.update(validation_metrics(x, data, val_mask, weights))
    if echo:
        echo(
            f"best epoch {best[1]} of {len(history)}: val loss {best[0]:.4f}, "
            f"val pairwise AUC {metrics.get('val_pairwise_auc', float('nan')):.4f}"
        )
    return FitOutput(weights, metrics, history)


def _config_for(options: ResultsTrainOptions, names: list[str], text_dim: int, features, mean, std) -> MFConfig:
    return MFConfig(
        dim=options.dim,
        num_models=len(names),
        text_dim=text_dim,
        num_classes=1,
        use_proj=True,
        format=FORMAT,
        model_names=list(names),
        features=list(features),
        feature_mean=list(mean),
        feature_std=list(std),
        activation="tanh",
        normalize_models=False,
        model_bias=True,
    )


def validation_metrics(x: np.ndarray, data: ResultsData, val_mask: np.ndarray, weights: MFWeights) -> dict[str, float]:
    """On validation rows: AUC of each model's logit against its 0/1 result (pooled), and AUC of the
    logit difference for decided pairs (how well it ranks which of two models is better)."""
    if not val_mask.any():
        return {}
    config = MFConfig(
        dim=weights.P.shape[1], num_models=weights.P.shape[0], text_dim=x.shape[1],
        activation="tanh", normalize_models=False, model_bias=True,
    )
    out = model_logits(config, weights, x[val_mask])
    s = data.scores[val_mask]
    centred = out - out.mean(axis=0)  # within-model ranking across prompts
    have = np.isfinite(s)
    point = _auc(centred[have & (s >= 0.5)], centred[have & (s < 0.5)])
    diffs, labels = [], []
    for i in range(len(s)):
        idx = np.flatnonzero(np.isfinite(s[i]))
        for ja in range(len(idx)):
            for jb in range(ja + 1, len(idx)):
                a, b = idx[ja], idx[jb]
                if s[i, a] != s[i, b]:
                    diffs.append(out[i, a] - out[i, b])
                    labels.append(s[i, a] > s[i, b])
    diffs_a, labels_a = np.asarray(diffs), np.asarray(labels, dtype=bool)
    pair = _auc(diffs_a[labels_a], diffs_a[~labels_a]) if len(diffs_a) else float("nan")
    return {"val_within_model_auc": point, "val_pairwise_auc": pair, "val_prompts": int(val_mask.sum())}


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    if not len(pos) or not len(neg):
        return float("nan")
    scores = np.concatenate([pos, neg])
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    ranks[order] = np.arange(1, len(scores) + 1)
    # average ranks of ties
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def cached_embedder(embedder: str, options: dict[str, Any] | None, cache_folder: str | Path | None = None):
    """The embedder, an on-disk :class:`~routellm_train.embedding_cache.EmbeddingCache` in front of it
    (``<cache>/embeddings/<key>`` unless ``cache_folder``) and the embedder section to record."""
    from routellm.registry import get_registry
    from routellm_train.embedding_cache import cache_for

    emb = get_registry().create_embedder(embedder, options or {})
    recorded = {"name": embedder, **msgspec.to_builtins(emb.config)}
    for key in ("cache_size", "onnx_cache_dir"):  # machine-local, not part of the model
        recorded.pop(key, None)
    digest = emb.cache_token() if hasattr(emb, "cache_token") else ""
    if digest:  # the exact model (e.g. the static embedder's packaged one), checked when the router loads
        recorded[MODEL_DIGEST] = digest
    return emb, cache_for(embedder, emb, cache_folder), recorded


def train_mf_results(
    specs: Sequence[str],
    out: Path,
    *,
    embedder: str = "huggingface",
    embedder_options: dict[str, Any] | None = None,
    options: ResultsTrainOptions | None = None,
    data_dir: str | None = None,
    decontaminate_against: Sequence[str] | None = None,
    cache_folder: str | Path | None = None,
    echo: Callable[[str], None] = print,
    command: str | None = None,
) -> FitOutput:
    """Load ``specs`` (named sources, files or dataset ids, ``SPEC:WEIGHT``), decontaminate them against
    the installed benchmarks, embed (cached) and train; write the checkpoint folder ``out``."""
    from routellm_train.results import prepare_results, sources_record

    options = options or ResultsTrainOptions()
    unknown = [f for f in options.features if f not in FEATURES]
    if unknown:
        raise ConfigError(f"unknown prompt feature '{unknown[0]}' (known: {', '.join(FEATURES)})")
    started = time.time()
    emb, cache, recorded = cached_embedder(embedder, embedder_options, cache_folder)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return cache.embed(texts, echo=echo)

    tables, report = prepare_results(
        list(specs), embed=embed, data_dir=data_dir, benchmarks=None if decontaminate_against is None else list(decontaminate_against),
        prefix_chars=options.prefix_chars, threshold=options.near_duplicate, echo=echo,
    )
    data = stack_results(tables, options.same_model)
    e = embed(data.prompts)
    emb.close()
    embed_seconds = time.time() - started
    rng = np.random.default_rng(options.seed)
    val_mask = np.zeros(len(data.prompts), dtype=bool)
    if options.val_fraction > 0:
        val_mask[rng.permutation(len(data.prompts))[: max(1, round(options.val_fraction * len(data.prompts)))]] = True
    feats, mean, std = feature_matrix(options.features, data.prompts, ~val_mask)
    x = np.concatenate([e.astype(np.float32), feats], axis=1)
    echo(f"training on {len(data.prompts)} prompts x {len(data.names)} models ({int(val_mask.sum())} held out)")
    fitted = fit_results(x, data, val_mask, options, echo=echo)
    fitted.metrics["seconds"] = round(time.time() - started, 1)
    fitted.metrics["seconds_embedding_and_loading"] = round(embed_seconds, 1)
    config = _config_for(options, data.names, int(e.shape[1]), options.features, mean, std)
    config.embedder = {k: v for k, v in recorded.items()}
    missing = [row for row in options.aliases.values() if row not in data.names]
    if missing:
        raise ConfigError(f"alias target '{missing[0]}' is not a model of the results (models: {', '.join(data.names)})")
    config.aliases = dict(options.aliases)
    config.training = {
        "kind": "results",
        "sources": sources_record(tables, report),
        "decontamination": {"prefix_chars": report.prefix_chars, "near_duplicate_cosine": report.threshold, "benchmarks": report.benchmarks},
        "prompts": len(data.prompts),
        "options": msgspec.to_builtins(options),
        "metrics": fitted.metrics,
        "command": command,
    }
    write_results_checkpoint(out, config, fitted.weights, data.prompts)
    echo(f"wrote {out} in {fitted.metrics['seconds']:.0f} s")
    return fitted


def write_results_checkpoint(out: Path, config: MFConfig, weights: MFWeights, prompts: Sequence[str]) -> None:
    """The checkpoint folder: weights, config, model card and ``training_prompts.json`` (hashes only)."""
    from routellm_train.results import write_training_prompts

    save_checkpoint(out, config, weights, card=results_model_card(config))
    write_training_prompts(out, list(prompts))


def results_model_card(config: MFConfig) -> str:
    """README.md of a checkpoint trained on results tables: sources with repo, commit, licence and
    decontamination counts, options and validation metrics."""
    t = config.training or {}
    opts = t.get("options", {})
    metrics = t.get("metrics", {})
    lines = [
        "---",
        "library_name: routellm",
        "tags: [routellm, router, matrix-factorization]",
        "---",
        "# routellm mf checkpoint (multi-model, trained on per-prompt results)",
        "",
        "Load it with `checkpoint_path: <this folder>` in the `mf` router's config; choose any two rows of the "
        "model table as `strong_model` / `weak_model`. This folder holds weights only: no training prompt, "
        "response or label (`training_prompts.json` lists the normalised prompts' 16-hex SHA-256 prefixes, so "
        "`routellm eval` can detect overlap with a benchmark).",
        "",
        "## Sources",
        "| source | repository @ commit | licence | weight | prompts kept | dropped by filter | dropped by prefix | near-duplicates |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in t.get("sources", []):
        d = s.get("decontamination", {})
        filtered = "; ".join(f"{k}: {v}" for k, v in (s.get("filtered") or {}).items()) or "0"
        lines.append(
            f"| {s['name']} | {s.get('repo') or '(local)'} @ {str(s.get('commit') or '-')[:12]} | {s['licence']} | "
            f"{s['weight']:g} | {d.get('kept', '?')} | {filtered} | {d.get('exact_prefix', '?')} | {d.get('near_duplicate', '?')} |"
        )
    unlicensed = [s["name"] for s in t.get("sources", []) if s["licence"] == "none stated"]
    if unlicensed:
        lines += [
            "",
            f"**Licence:** {', '.join(unlicensed)} state(s) no licence; these weights were trained on them "
            "(the files themselves are not redistributed). Use the Apache-2.0-only variant if you need every "
            "source to carry a licence.",
        ]
    dec = t.get("decontamination", {})
    lines += [
        "",
        f"Decontamination against {', '.join(f'{k} ({v} prompts)' for k, v in (dec.get('benchmarks') or {}).items()) or 'no benchmark'}: "
        f"normalised exact prefix of {dec.get('prefix_chars')} characters"
        + (f" and embedding cosine ≥ {dec.get('near_duplicate_cosine')}" if dec.get("near_duplicate_cosine") else "")
        + ".",
        "",
        "## Model",
        "`logit(m, q) = v_m · tanh(W [e_q, features]) + b_m`; pointwise BCE on every result (weight "
        f"{opts.get('pointwise_weight')}) plus pairwise logistic loss on every model pair of a prompt (weight "
        f"{opts.get('pairwise_weight')}); dim {config.dim}, AdamW lr {opts.get('lr')}, weight decay "
        f"{opts.get('weight_decay')}, prompt noise {opts.get('noise')}, early stopping (patience "
        f"{opts.get('patience')}) on {opts.get('val_fraction')} of prompts held out, seed {opts.get('seed')}.",
        f"- prompt embedder: `{json.dumps(config.embedder, sort_keys=True)}` ({config.text_dim}-d)",
        f"- extra prompt features: {', '.join(config.features) or 'none'}",
        f"- training prompts: {t.get('prompts')}; command: `{t.get('command') or 'train_mf_results(...)'}`",
        "",
        "## Validation (held-out prompts)",
        f"- pairwise AUC (which of two models is better, decided pairs): {metrics.get('val_pairwise_auc', float('nan')):.4f}",
        f"- within-model AUC (which prompts a model gets right): {metrics.get('val_within_model_auc', float('nan')):.4f}",
        f"- loss {metrics.get('val_loss', float('nan')):.4f}, best epoch {metrics.get('best_epoch')} of {metrics.get('epochs_run')}, "
        f"{metrics.get('seconds')} s in all ({metrics.get('seconds_embedding_and_loading')} s loading and embedding)",
        "",
        "## Models",
        ", ".join(f"`{n}`" for n in config.names),
        "",
    ]
    return "\n".join(lines)
