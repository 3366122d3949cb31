"""The ``routellm train causal_llm`` command (import-light: torch loads when it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from routellm_train.finetune import (
    BatchSizeOption,
    BattlesOption,
    DeviceOption,
    EpochsOption,
    EvalEveryOption,
    FitOptions,
    LearningRateOption,
    ProgressOption,
    StrongModelOption,
    WeakModelOption,
)


def train_causal_llm_command(
    battles: BattlesOption,
    base: Annotated[
        str, typer.Option("--base", help="Causal LM to fine-tune: hub id or folder, e.g. meta-llama/Meta-Llama-3-8B.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the checkpoint.")],
    strong_model: StrongModelOption = None,
    weak_model: WeakModelOption = None,
    prompt_format: Annotated[
        str, typer.Option(help="llama3 (RouteLLM's format) or chat_template (the base tokenizer's).")
    ] = "llama3",
    epochs: EpochsOption = 2,
    batch_size: BatchSizeOption = 8,
    grad_accum: Annotated[int, typer.Option(min=1, help="Batches per optimiser step.")] = 1,
    learning_rate: LearningRateOption = 1e-5,
    max_length: Annotated[int, typer.Option(min=16, help="Tokens kept per prompt (cut from the left).")] = 1024,
    val_fraction: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    patience: Annotated[int, typer.Option(min=0)] = 1,
    eval_every: EvalEveryOption = None,
    max_prompts: Annotated[int | None, typer.Option(min=2)] = None,
    device: DeviceOption = "auto",
    dtype: Annotated[str, typer.Option(help="auto (bfloat16 on CUDA), float32, bfloat16, float16.")] = "auto",
    gradient_checkpointing: Annotated[bool, typer.Option(help="Trade compute for memory (large models).")] = False,
    seed: int = 0,
    progress: ProgressOption = True,
) -> None:
    """Fine-tune a causal LM on battles scored 1-5 into a causal_llm router (meant for a GPU)."""
    from routellm_router_causal_llm.train import CausalTrainOptions, train_causal_llm

    options = CausalTrainOptions(
        strong_model=strong_model,
        weak_model=weak_model,
        prompt_format=prompt_format,
        max_length=max_length,
        val_fraction=val_fraction,
        max_prompts=max_prompts,
        device=device,
        dtype=dtype,
        gradient_checkpointing=gradient_checkpointing,
        fit=FitOptions(
            epochs=epochs,
            batch_size=batch_size,
            grad_accum=grad_accum,
            learning_rate=learning_rate,
            patience=patience,
            eval_every=eval_every,
            seed=seed,
            progress=progress,
        ),
    )
    report = train_causal_llm(battles, base, out, options)
    shown = " ".join(f"{k}={v:.4f}" for k, v in report.fit.best.metrics.items())
    typer.echo(
        f"saved {out} ({report.prompts_train} training prompts, {report.fit.steps} steps, "
        f"{report.seconds / 60:.1f} min); best epoch {report.fit.best.epoch:g}: {shown}"
    )
