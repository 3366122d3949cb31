"""ONNX Runtime versions of a transformers encoder: export, graph optimisation, static int8.

The exported graph takes the tokenizer's tensors and returns the mean-pooled embedding (same space
as the torch path); ONNX Runtime's transformer fusions (attention, GELU, layer norm) are applied to it.
``onnx-int8`` quantises the MatMul weights per channel and their inputs with scales calibrated once, on a fixed prompt set shipped with this package (``calibration_prompts.json``:
128 AlpacaEval instructions, Apache-2.0), so a prompt's embedding never depends on its batch-mates.

Exports are cached under ``<cache>/onnx/<model folder name>-<sha256 of weights and config>/`` and
made on first use, or ahead of time with::

    python -m routellm_embedder_huggingface.onnx_export [--model MODEL] [--backend onnx-int8]

Building needs torch and ``onnx``; running needs only ``onnxruntime``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Bumped whenever the export recipe changes, so old cached exports are not reused.
RECIPE = "3"
ONNX_BACKENDS = ("onnx", "onnx-int8")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_CALIBRATION = Path(__file__).with_name("calibration_prompts.json")


def source_hash(model_dir: Path) -> str:
    """sha256 over the model's weights and config (and this recipe's version)."""
    digest = hashlib.sha256(f"recipe {RECIPE}\n".encode())
    for name in ("config.json", *_WEIGHTS):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def export_dir(model_dir: Path, cache: Path) -> Path:
    """Where the exports of ``model_dir`` live."""
    return cache / f"{model_dir.name}-{source_hash(model_dir)[:16]}"


def onnx_model(model_dir: Path, backend: str, cache: Path, max_length: int) -> Path:
    """The ``.onnx`` file for ``backend``, exported (and quantised) now if it is not cached yet."""
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(ONNX_BACKENDS)}, got {backend!r}")
    folder = export_dir(model_dir, cache)
    fp32 = folder / "model.onnx"
    target = fp32 if backend == "onnx" else folder / "model_int8.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.is_file():
        logger.info("exporting %s to ONNX (%s), once", model_dir, fp32)
        _atomic(fp32, lambda tmp: _export_optimised(model_dir, tmp))
    if backend == "onnx-int8":
        logger.info("quantising %s to static int8 (%s), once", fp32, target)
        _atomic(target, lambda tmp: _quantise_static(fp32, model_dir, tmp, max_length))
    return target


def _atomic(target: Path, build) -> None:
    """Build into a temporary file beside ``target`` and move it in place (concurrent builders are safe)."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        out = Path(tmp) / target.name
        build(out)
        os.replace(out, target)


def _export_optimised(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    try:  # the eager attention graph is the one ONNX Runtime's fusions recognise
        model = AutoModel.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    except (TypeError, ValueError):
        model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    sample = tokenizer(["a short prompt", "a somewhat longer prompt, to export with padding"], padding=True,
                       return_tensors="pt")
    names = list(sample.keys())
    wrapper = _MeanPooled(model, names)
    raw = out.with_name("raw.onnx")
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    axes["embedding"] = {0: "batch"}
    with torch.inference_mode():
        torch.onnx.export(
            wrapper, tuple(sample[n] for n in names), str(raw), input_names=names, output_names=["embedding"],
            dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip
    config = AutoConfig.from_pretrained(model_dir)
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimised = optimize_model(
            str(raw), model_type="bert", num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(config, "hidden_size", 0) or 0), opt_level=1,
        )  # fmt: skip
        optimised.save_model_to_file(str(out))
    except Exception as exc:  # an architecture the fusions do not know: ORT still optimises at load time
        logger.warning("ONNX Runtime's transformer fusions failed (%s); keeping the plain export", exc)
        os.replace(raw, out)


class _MeanPooled:
    """``model`` returning the masked mean of its last hidden state (a torch module, built lazily)."""

    def __new__(cls, model: Any, names: Sequence[str]):
        import torch

        class MeanPooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model
                self.names = list(names)

            def forward(self, *tensors):
                inputs = dict(zip(self.names, tensors, strict=True))
                hidden = self.model(**inputs).last_hidden_state
                mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

        return MeanPooled()


def calibration_prompts() -> list[str]:
    return json.loads(_CALIBRATION.read_text())


def _quantise_static(fp32: Path, model_dir: Path, out: Path, max_length: int) -> None:
    """Static int8 (QOperator): per-channel int8 weights, uint8 activations with fixed, calibrated scales.

    The MatMuls fed by the GELU (each layer's FFN output projection) stay float32: their inputs have
    outliers a fixed uint8 scale cannot hold (cosine to float32 drops from 0.99+ to ~0.95 otherwise).
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompts = calibration_prompts()

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[dict] = iter(self._make())

        @staticmethod
        def _make() -> Iterator[dict]:
            for start in range(0, len(prompts), 16):
                batch = tokenizer(prompts[start : start + 16], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="np")
                yield {k: v.astype("int64") for k, v in batch.items()}

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    shaped = out.with_name("shaped.onnx")
    with contextlib.chdir(out.parent):  # on failure it leaves a temporary model in the working directory
        quant_pre_process(str(fp32), str(shaped), skip_optimization=True)  # types of the fused ops' outputs
    graph = onnx.load(str(shaped), load_external_data=False).graph
    producers = {name: node for node in graph.node for name in node.output}
    after_gelu = [
        node.name for node in graph.node
        if node.op_type == "MatMul" and "Gelu" in getattr(producers.get(node.input[0]), "op_type", "")
    ]  # fmt: skip
    quantize_static(
        str(shaped), str(out), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
        nodes_to_exclude=after_gelu, extra_options={"WeightSymmetric": True},
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    from routellm_embedder_huggingface.embedder import (
        DEFAULT_MODEL,
        HuggingFaceEmbedder,
        HuggingFaceEmbedderConfig,
    )

    parser = argparse.ArgumentParser(description="Export (and quantise) the huggingface embedder's model for ONNX Runtime.")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local folder")
    parser.add_argument("--backend", choices=ONNX_BACKENDS, default="onnx-int8")
    args = parser.parse_args(argv)
    embedder = HuggingFaceEmbedder(HuggingFaceEmbedderConfig(model=args.model, backend=args.backend))
    print(embedder.onnx_path)


if __name__ == "__main__":
    main()
