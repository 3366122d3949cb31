"""ONNX Runtime versions of a transformers encoder: the encoder graph, mean pooling, graph optimisation, static int8.

The encoder graph (tokenizer tensors in, ``last_hidden_state`` out) comes from the model folder's
``onnx/model.onnx`` when it has one (the Hub publishes it for all-MiniLM-L6-v2 and many other
sentence-transformers models; then **no torch is needed**), else from ``torch.onnx.export`` of the
transformers model (``pip install 'routellm-embedder-huggingface[torch]'``). Either way the same steps
follow: masked mean pooling is appended to the graph (so it returns the mean-pooled embedding, the same
space as the torch backend), ONNX Runtime's transformer fusions (attention, GELU, layer norm) are applied,
and ``onnx-int8`` quantises the MatMul weights per channel and their inputs with scales calibrated once,
on a fixed prompt set shipped with this package (``calibration_prompts.json``: 128 AlpacaEval
instructions, Apache-2.0), so a prompt's embedding never depends on its batch-mates.

Exports are cached under ``<cache>/onnx/<model folder name>-<sha256 of the source graph or weights, and config>/``
and made on first use, or ahead of time with::

    python -m routellm_embedder_huggingface.onnx_export [--model MODEL] [--backend onnx-int8]

Building needs ``onnx`` and ``onnxruntime`` (plus torch when the folder has no ``onnx/model.onnx``);
running needs only ``onnxruntime``.
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

from routellm.errors import ConfigError
from routellm.extras import MissingDependencyError, importable

logger = logging.getLogger(__name__)

#: Bumped whenever the export recipe changes, so old cached exports are not reused.
RECIPE = "4"
ONNX_BACKENDS = ("onnx", "onnx-int8")
#: The encoder graph a model folder (or Hub repository) may ship: fp32, ``last_hidden_state`` output, no pooling.
ENCODER_ONNX = "onnx/model.onnx"
TORCH_EXTRA = "routellm-embedder-huggingface[torch]"
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_CALIBRATION = Path(__file__).with_name("calibration_prompts.json")
#: Opset of the graphs exported with torch (the encoder graph a folder ships keeps its own).
OPSET = 17


def encoder_file(model_dir: Path) -> Path | None:
    """The folder's own encoder graph (``onnx/model.onnx``), if it has one."""
    path = model_dir / ENCODER_ONNX
    return path if path.is_file() else None


def source_hash(model_dir: Path) -> str:
    """sha256 over what the export is built from: the encoder graph when the folder ships one, else the
    weights; plus the config and this recipe's version."""
    digest = hashlib.sha256(f"recipe {RECIPE}\n".encode())
    sources = (ENCODER_ONNX,) if encoder_file(model_dir) else _WEIGHTS
    for name in ("config.json", *sources):
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
    """The ``.onnx`` file for ``backend``, built (and quantised) now if it is not cached yet."""
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(ONNX_BACKENDS)}, got {backend!r}")
    folder = export_dir(model_dir, cache)
    fp32 = folder / "model.onnx"
    target = fp32 if backend == "onnx" else folder / "model_int8.onnx"
    if target.is_file():
        return target
    encoder = encoder_file(model_dir)
    if encoder is None and not importable("torch"):
        raise MissingDependencyError(torch_missing(f"exporting {model_dir} to ONNX (it has no {ENCODER_ONNX})"))
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.is_file():
        if encoder is not None:
            logger.info("building %s from %s (pooling, fusions), once", fp32, encoder)
            _atomic(fp32, lambda tmp: _optimise(encoder, model_dir, tmp))
        else:
            logger.info("exporting %s to ONNX with torch (%s), once", model_dir, fp32)
            _atomic(fp32, lambda tmp: _export_optimised(model_dir, tmp))
    if backend == "onnx-int8":
        logger.info("quantising %s to static int8 (%s), once", fp32, target)
        try:
            _atomic(target, lambda tmp: _quantise_static(fp32, model_dir, tmp, max_length))
        except Exception as exc:  # e.g. an encoder graph traced with SDPA attention (transformers 5)
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise ConfigError(
                f"embedder 'huggingface': cannot quantise the ONNX graph of {model_dir} to static int8 ({reason}); "
                "use `backend: onnx` (float32)"
                + (f", or a folder whose {ENCODER_ONNX} has eager attention" if encoder is not None else "")
            ) from None
    return target


def torch_missing(purpose: str) -> str:
    """The one-line message for ``purpose`` without torch: the extra to install, or the torch-free route."""
    return (
        f"embedder 'huggingface': {purpose} needs torch: pip install '{TORCH_EXTRA}', or give `model:` a local "
        f"folder or Hub id that has {ENCODER_ONNX} (e.g. sentence-transformers/all-MiniLM-L6-v2) with backend onnx-int8"
    )


def _atomic(target: Path, build) -> None:
    """Build into a temporary file beside ``target`` and move it in place (concurrent builders are safe)."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        out = Path(tmp) / target.name
        build(out)
        os.replace(out, target)


def _export_optimised(model_dir: Path, out: Path) -> None:
    """torch route: export the encoder graph, then the same steps as a folder's own ``onnx/model.onnx``."""
    encoder = out.with_name("encoder.onnx")
    export_encoder(model_dir, encoder)
    _optimise(encoder, model_dir, out)


def export_encoder(model_dir: Path, out: Path, *, opset: int = OPSET, eager: bool = True) -> None:
    """``torch.onnx.export`` of the transformers model: the tokenizer's tensors in, ``last_hidden_state``
    out (what optimum and sentence-transformers publish as ``onnx/model.onnx``). Needs torch.

    ``eager`` exports the eager attention graph, the one ONNX Runtime's fusions recognise.
    """
    if not importable("torch"):
        raise MissingDependencyError(torch_missing(f"exporting {model_dir} to ONNX"))
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = None
    if eager:
        with contextlib.suppress(TypeError, ValueError):
            model = AutoModel.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    if model is None:
        model = AutoModel.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    sample = tokenizer(["a short prompt", "a somewhat longer prompt, to export with padding"], padding=True,
                       return_tensors="pt")
    names = list(sample.keys())
    axes = {name: {0: "batch_size", 1: "sequence_length"} for name in [*names, "last_hidden_state"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(
            _LastHiddenState(model, names), tuple(sample[n] for n in names), str(out), input_names=names,
            output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=opset, dynamo=False,
        )  # fmt: skip


class _LastHiddenState:
    """``model`` returning only its last hidden state (a torch module, built lazily)."""

    def __new__(cls, model: Any, names: Sequence[str]):
        import torch

        class LastHiddenState(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model
                self.names = list(names)

            def forward(self, *tensors):
                return self.model(**dict(zip(self.names, tensors, strict=True))).last_hidden_state

        return LastHiddenState()


def add_mean_pooling(model: Any) -> Any:
    """The encoder graph ``model`` (an ``onnx.ModelProto``) with one output, ``embedding``: the mean of
    ``last_hidden_state`` over the tokens ``attention_mask`` keeps (as the torch backend pools)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    outputs = {o.name: o for o in graph.output}
    hidden = outputs.get("last_hidden_state") or graph.output[0]
    if "attention_mask" not in {i.name for i in graph.input}:
        raise ValueError("the encoder graph has no attention_mask input")
    elem = hidden.type.tensor_type.elem_type or TensorProto.FLOAT
    dims = hidden.type.tensor_type.shape.dim
    width: int | str = dims[2].dim_value if len(dims) == 3 and dims[2].dim_value else "hidden"
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), OPSET)
    np_type = helper.tensor_dtype_to_np_dtype(elem)
    axes_inputs = opset >= 13  # Unsqueeze and ReduceSum take their axes as an input from opset 13

    def axes(name: str, value: int) -> tuple[list[str], dict[str, Any]]:
        if not axes_inputs:
            return [], {"axes": [value]}
        graph.initializer.append(numpy_helper.from_array(np.array([value], dtype="int64"), name))
        return [name], {}

    extra1, attr1 = axes("pool_axis_tokens_last", -1)
    extra2, attr2 = axes("pool_axis_tokens", 1)
    graph.initializer.append(numpy_helper.from_array(np.array(1e-9, dtype=np_type), "pool_eps"))
    graph.node.extend([
        helper.make_node("Unsqueeze", ["attention_mask", *extra1], ["pool_mask_3d"], name="pool_unsqueeze", **attr1),
        helper.make_node("Cast", ["pool_mask_3d"], ["pool_mask"], name="pool_cast", to=elem),
        helper.make_node("Mul", [hidden.name, "pool_mask"], ["pool_masked"], name="pool_mul"),
        helper.make_node("ReduceSum", ["pool_masked", *extra2], ["pool_sum"], name="pool_sum", keepdims=0, **attr2),
        helper.make_node("ReduceSum", ["pool_mask", *extra2], ["pool_count"], name="pool_count", keepdims=0, **attr2),
        helper.make_node("Max", ["pool_count", "pool_eps"], ["pool_count_min"], name="pool_clamp"),
        helper.make_node("Div", ["pool_sum", "pool_count_min"], ["embedding"], name="pool_div"),
    ])  # fmt: skip
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("embedding", elem, ["batch_size", width]))
    return model


def _optimise(encoder: Path, model_dir: Path, out: Path) -> None:
    """Mean pooling appended to ``encoder``, then ONNX Runtime's transformer fusions; written to ``out``."""
    import onnx
    import onnxruntime as ort
    from transformers import AutoConfig

    pooled = out.with_name("pooled.onnx")
    onnx.save(add_mean_pooling(onnx.load(str(encoder))), str(pooled))
    config = AutoConfig.from_pretrained(model_dir)
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        # ``optimize_model(opt_level=1)`` on CPU, in two steps: its ORT pass imports torch (for a GPU check).
        basic = out.with_name("basic.onnx")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(basic)
        options.log_severity_level = 3
        ort.InferenceSession(str(pooled), options, providers=["CPUExecutionProvider"],
                             disabled_optimizers=["ConstantSharing"])  # fmt: skip
        optimised = optimize_model(
            str(basic), model_type="bert", num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(config, "hidden_size", 0) or 0), opt_level=0,
        )  # fmt: skip
        optimised.save_model_to_file(str(out))
    except Exception as exc:  # an architecture the fusions do not know: ORT still optimises at load time
        logger.warning("ONNX Runtime's transformer fusions failed (%s); keeping the plain graph", exc)
        os.replace(pooled, out)


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
    inputs = {i.name for i in onnx.load(str(fp32), load_external_data=False).graph.input}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[dict] = iter(self._make())

        @staticmethod
        def _make() -> Iterator[dict]:
            for start in range(0, len(prompts), 16):
                batch = tokenizer(prompts[start : start + 16], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="np")
                yield {k: v.astype("int64") for k, v in batch.items() if k in inputs}

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    shaped = out.with_name("shaped.onnx")
    with contextlib.chdir(out.parent):  # on failure it leaves a temporary model in the working directory
        try:  # types of the fused ops' outputs
            quant_pre_process(str(fp32), str(shaped), skip_optimization=True)
        except Exception as exc:  # e.g. an unfused attention graph whose shapes it cannot follow: ONNX's inference
            logger.info("symbolic shape inference failed (%s); using ONNX's shape inference", exc)
            quant_pre_process(str(fp32), str(shaped), skip_optimization=True, skip_symbolic_shape=True)
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
