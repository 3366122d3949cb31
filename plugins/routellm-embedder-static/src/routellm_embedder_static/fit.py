"""Fit a static model to its teacher's sentence embeddings on your own prompts (tokenlearn-style), in one command.

    pip install 'routellm-embedder-static[distill]'
    python -m routellm_embedder_static.fit --out DIR --corpus FILE [--corpus FILE ...] [--validation FILE]
        [--model default] [--teacher ID]

Distillation (``routellm_embedder_static.distill``) gives each vocabulary token the vector the encoder produces for
it alone. Fitting then trains those vectors and their weights, with model2vec's ``StaticModelForSimilarity``
(cosine loss through a linear map to the teacher's space, early stopping on a held-out tenth), so that the mean of
a text's token vectors points where the teacher's embedding of the whole text points, on the texts you route.
The map is dropped afterwards: the result is a plain model2vec folder of the same size and speed. Held-out
fidelity to the teacher (neighbour overlap and similarity correlation, before and after) is printed and recorded
in ``config.json`` (``routellm_fit``) and the model card. Only texts are used, never labels, so a corpus must not
hold benchmark prompts you will evaluate on.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from routellm.downloads import sha256_file
from routellm.errors import ConfigError

#: Texts longer than this many characters are cut (at a space) before embedding and fitting.
MAX_CHARS = 2000
NEIGHBOURS = 10


def read_corpus(paths: Sequence[str | Path], *, field: str = "prompt") -> list[str]:
    """Distinct non-empty texts from ``.txt`` (a text per line), ``.jsonl`` (a string, or an object's ``field``
    or ``text``) or ``.json`` (a list of those) files, in order."""
    texts: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise ConfigError(f"fit: corpus file {path} does not exist")
        if path.suffix == ".txt":
            texts += path.read_text(encoding="utf-8").splitlines()
            continue
        if path.suffix not in (".jsonl", ".json"):
            raise ConfigError(f"fit: corpus file {path} must be .txt (a text per line), .jsonl or .json")
        try:
            if path.suffix == ".json":
                items = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(items, list):
                    raise ValueError("not a list")
            else:
                items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except ValueError as exc:
            raise ConfigError(f"fit: cannot read {path} ({exc})") from None
        for i, item in enumerate(items):
            if isinstance(item, dict):
                item = item.get(field, item.get("text"))
            if not isinstance(item, str):
                raise ConfigError(f"fit: {path} item {i} is not a string or an object with {field!r} or 'text'")
            texts.append(item)
    return [t for t in dict.fromkeys(_cut(t) for t in texts) if t]


def _cut(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` unchanged (so cached teacher vectors of it are reused), or cut at a space near ``limit``."""
    if not text.strip():
        return ""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def fidelity(vectors: np.ndarray, targets: np.ndarray, k: int = NEIGHBOURS) -> dict[str, float]:
    """How closely ``vectors`` reproduce the teacher's ``targets`` on the same texts, in ways that do not depend
    on the space: the share of each text's ``k`` nearest neighbours that both agree on, and the correlation of
    all pairwise cosine similarities."""
    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    a, b = unit(vectors), unit(targets)
    sa, sb = a @ a.T, b @ b.T
    n = len(a)
    k = min(k, n - 1)
    np.fill_diagonal(sa, -np.inf)
    np.fill_diagonal(sb, -np.inf)
    na, nb = np.argpartition(-sa, k, axis=1)[:, :k], np.argpartition(-sb, k, axis=1)[:, :k]
    overlap = float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb, strict=True)]))
    upper = np.triu_indices(n, 1)
    return {"neighbour_overlap": overlap, "similarity_correlation": float(np.corrcoef(sa[upper], sb[upper])[0, 1])}


def fit(
    model: Any,
    texts: Sequence[str],
    targets: np.ndarray,
    *,
    val_fraction: float = 0.1,
    validation: tuple[Sequence[str], np.ndarray] | None = None,
    seed: int = 0,
    learning_rate: float = 1e-3,
    patience: int = 5,
) -> tuple[Any, dict[str, Any]]:
    """Train ``model`` (a ``model2vec.StaticModel``) so its embeddings of ``texts`` point along ``targets``; the
    fitted ``StaticModel`` and the record (split, held-out fidelity before and after). Held out: ``validation``
    (texts and their targets) when given, else a seeded ``val_fraction`` of ``texts``."""
    from routellm.extras import require

    require("torch", "datasets", install="routellm-embedder-static[distill]", purpose="fitting a static model")
    from model2vec.train import StaticModelForSimilarity

    targets = np.asarray(targets, dtype=np.float32)
    if len(texts) != len(targets):
        raise ConfigError(f"fit: {len(texts)} texts but {len(targets)} target vectors")
    import torch

    if validation is not None:
        val_texts, val_targets = list(validation[0]), np.asarray(validation[1], dtype=np.float32)
        train_texts, train_targets = list(texts), targets
        if len(val_texts) < 2 or len(val_texts) != len(val_targets):
            raise ConfigError(f"fit: {len(val_texts)} validation texts but {len(val_targets)} target vectors")
    else:
        n_val = round(val_fraction * len(texts))
        if n_val < 2 or len(texts) - n_val < 2:
            raise ConfigError(f"fit: {len(texts)} texts are too few to hold out {val_fraction:.0%} (need at least 20)")
        order = np.random.default_rng(seed).permutation(len(texts))
        val, train = order[:n_val], order[n_val:]
        val_texts, val_targets = [texts[int(i)] for i in val], targets[val]
        train_texts, train_targets = [texts[int(i)] for i in train], targets[train]
    before = fidelity(model.encode(val_texts, use_multiprocessing=False), val_targets)
    trainable = StaticModelForSimilarity.from_static_model(model=model, n_layers=0, out_dim=targets.shape[1])
    trainable.fit(
        train_texts, torch.from_numpy(train_targets), X_val=val_texts, y_val=torch.from_numpy(val_targets),
        learning_rate=learning_rate, early_stopping_patience=patience, device="cpu", random_seed=seed,
    )
    fitted = trainable.to_static_model()
    after = fidelity(fitted.encode(val_texts, use_multiprocessing=False), val_targets)
    record = {
        "texts": len(train_texts), "held_out": len(val_texts), "seed": seed, "learning_rate": learning_rate,
        "patience": patience, "held_out_before": before, "held_out_after": after,
    }
    return fitted, record


def teacher_embed(
    teacher: str | None, cache_folder: str | Path | None = None
) -> tuple[Callable[[Sequence[str]], np.ndarray], dict[str, Any]]:
    """The teacher as a function of texts: the huggingface embedder over ``teacher`` (a folder or Hub id, default
    all-MiniLM-L6-v2) on its PyTorch backend (the reference vectors), behind routellm-train's on-disk embedding cache
    (``cache_folder``, default the routellm cache's ``embeddings``) when that is installed."""
    from routellm.extras import require
    from routellm.registry import get_registry

    require(
        "routellm_embedder_huggingface", "torch", install="routellm-embedder-huggingface[torch]",
        purpose="the teacher encoder",
    )
    from routellm_embedder_static.distill import BASE_MODEL

    # The same options as `routellm train ... -E backend=torch`, so the trainers' cached vectors are reused.
    options = {"backend": "torch", **({"model": teacher} if teacher else {})}
    embedder = get_registry().create_embedder("huggingface", options)
    recorded = {"name": "huggingface", "model": teacher or BASE_MODEL, "backend": "torch"}
    try:
        from routellm_train.embedding_cache import cache_for
    except ImportError:
        return embedder.embed, recorded
    cache = cache_for("huggingface", embedder, cache_folder)
    return lambda texts: cache.embed(texts, echo=print, chunk=1024), recorded


def fit_folder(
    out: str | Path,
    corpus: Sequence[str | Path],
    *,
    model: str = "default",
    teacher: str | None = None,
    validation: Sequence[str | Path] = (),
    field: str = "prompt",
    cache_folder: str | Path | None = None,
    **options: Any,
) -> tuple[Path, dict[str, Any]]:
    """Fit the static ``model`` (``default``: the packaged one) to ``teacher`` on the texts of ``corpus`` (held
    out: the texts of ``validation`` files, else a tenth of ``corpus``) and write the model2vec folder ``out``."""
    from routellm_embedder_static.embedder import load_static_model, resolve_model

    texts = read_corpus(corpus, field=field)
    source = resolve_model(model)
    static = load_static_model(source)
    embed, recorded = teacher_embed(teacher, cache_folder)
    targets = np.asarray(embed(texts), dtype=np.float32)
    held = None
    if validation:
        held_texts = read_corpus(validation, field=field)
        held = (held_texts, np.asarray(embed(held_texts), dtype=np.float32))
    fitted, record = fit(static, texts, targets, validation=held, **options)
    config = cast(dict[str, Any], fitted.config)
    config.update({k: v for k, v in static.config.items() if k not in config})
    distilled = static.config.get("routellm_distillation") if "routellm_fit" not in static.config else None
    record = {
        "teacher": recorded,
        # A freshly distilled folder is recorded as the command that rebuilds it (DISTILLED in `command`).
        "initial_model": f"{distilled['command']} --out DISTILLED" if distilled and model != "default" else model,
        "corpus": [{"file": Path(p).name, "sha256": sha256_file(p)} for p in corpus],
        "validation": [{"file": Path(p).name, "sha256": sha256_file(p)} for p in validation],
        **record,
        "method": "model2vec.train.StaticModelForSimilarity (cosine loss to the teacher through a linear map, dropped after)",
        "command": "python -m routellm_embedder_static.fit" + "".join(f" --corpus {Path(p).name}" for p in corpus)
        + "".join(f" --validation {Path(p).name}" for p in validation)
        + ("" if model == "default" else " --model " + ("DISTILLED" if distilled else model))
        + ("" if teacher is None else f" --teacher {teacher}"),
    }
    config["routellm_fit"] = record
    # The fitted vectors are float32; keep the stored type of the initial model (float16 for the packaged one).
    dtype = str(static.config.get("routellm_distillation", {}).get("dtype", "float32"))
    if dtype == "float16":
        fitted.embedding = fitted.embedding.astype(np.float16)
    out = Path(out)
    fitted.save_pretrained(out)
    card = (source / "README.md").read_text() if (source / "README.md").is_file() else ""
    (out / "README.md").write_text(card + model_card_section(record))
    return out, record


def model_card_section(record: dict[str, Any]) -> str:
    before, after = record["held_out_before"], record["held_out_after"]
    return "\n".join([
        "",
        "## Fitted to the teacher on a corpus",
        "",
        f"The token vectors were then trained so that a text's mean vector points along {record['teacher']['model']}'s "
        f"embedding of it, on {record['texts']:,} texts ({record['held_out']:,} held out): held-out neighbour overlap "
        f"{before['neighbour_overlap']:.3f} → {after['neighbour_overlap']:.3f}, similarity correlation "
        f"{before['similarity_correlation']:.3f} → {after['similarity_correlation']:.3f}.",
        "",
        *(f"- {key}: `{json.dumps(value)}`" for key, value in record.items()),
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path, help="model2vec folder to write")
    parser.add_argument("--corpus", required=True, action="append", help=".txt / .jsonl / .json file of texts (repeatable)")
    parser.add_argument("--validation", action="append", default=[], help="held-out texts (default: a tenth of --corpus)")
    parser.add_argument("--field", default="prompt", help="JSON field holding the text (default prompt, then text)")
    parser.add_argument("--model", default="default", help="static model to start from (default: the packaged one)")
    parser.add_argument("--teacher", default=None, help="encoder folder or Hub id (default all-MiniLM-L6-v2)")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=5, help="validation checks without improvement before stopping")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="teacher embedding cache (default: routellm's cache)")
    args = parser.parse_args(argv)
    try:
        out, record = fit_folder(
            args.out, args.corpus, model=args.model, teacher=args.teacher, validation=args.validation, field=args.field,
            cache_folder=args.cache_dir,
            learning_rate=args.learning_rate, patience=args.patience, seed=args.seed,
        )
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    before, after = record["held_out_before"], record["held_out_after"]
    print(
        f"wrote {out}: {record['texts']} texts, held-out neighbour overlap {before['neighbour_overlap']:.3f} -> "
        f"{after['neighbour_overlap']:.3f}, similarity correlation {before['similarity_correlation']:.3f} -> "
        f"{after['similarity_correlation']:.3f}"
    )


if __name__ == "__main__":
    main()
