"""A small fine-tuning loop shared by the transformer routers' trainers (torch imported lazily).

The caller supplies the model, a loss over a batch of training item indices and an evaluation
function; :func:`fit` handles length-grouped shuffled batches, AdamW with linear warm-up and decay,
gradient accumulation and clipping, validation at a fixed cadence, early stopping on a monitored
metric (the best weights are restored at the end) and a progress bar.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from routellm.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np


class FitOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Optimisation options common to the routers' trainers."""

    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    #: Share of all optimiser steps spent warming the learning rate up from 0.
    warmup_ratio: float = 0.1
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    #: Validations without improvement of the monitored metric before stopping; 0 never stops early.
    patience: int = 2
    #: Optimiser steps between validations; ``None``: once per epoch.
    eval_every: int | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.patience < 0:
            raise ConfigError(f"patience must be 0 or more, got {self.patience}")


# Command-line options shared by the ``routellm train <router>`` commands (defaults stay in each
# command's signature, since they differ between routers).
BattlesOption = Annotated[
    str, typer.Option("--battles", help="Battles in the arena schema: parquet/jsonl/csv file or Hugging Face dataset id.")
]
StrongModelOption = Annotated[
    str | None, typer.Option(help="Strong side of the battles; default: the model present in every battle.")
]
WeakModelOption = Annotated[
    str | None, typer.Option(help="Only battles against this model; default: all opponents count as weak.")
]
EpochsOption = Annotated[int, typer.Option(min=1)]
BatchSizeOption = Annotated[int, typer.Option(min=1)]
LearningRateOption = Annotated[float, typer.Option(min=0.0)]
EvalEveryOption = Annotated[int | None, typer.Option(min=1, help="Steps between validations; default: each epoch.")]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, mps.")]
ProgressOption = Annotated[bool, typer.Option(help="Show a progress bar.")]
# ... and by their ``--results`` mode (per-prompt results of several models, decontaminated first).
DataDirOption = Annotated[
    str | None,
    typer.Option(help="Local data folder for named sources and benchmarks (else $ROUTELLM_DATA_DIR, else download)."),
]
BenchmarkOption = Annotated[
    list[str] | None,
    typer.Option("--benchmark", help="With --results: decontaminate against these benchmarks (default: every installed one)."),
]
SameModelOption = Annotated[
    list[str] | None,
    typer.Option("--same-model", help="With --results: NAME=MODEL, results under NAME are MODEL's (true synonyms only); repeatable."),
]
NearDuplicateOption = Annotated[
    float,
    typer.Option(help="With --results: also drop prompts this close (embedding cosine) to a benchmark prompt; 0: prefix test only."),
]


class Evaluation(msgspec.Struct, frozen=True):
    """One validation: when it ran and what it measured."""

    step: int
    epoch: float
    train_loss: float
    metrics: dict[str, float]


class FitResult(msgspec.Struct, frozen=True):
    """What :func:`fit` did: every validation, the best one (whose weights the model now holds)."""

    history: list[Evaluation]
    best: Evaluation
    steps: int
    stopped_early: bool
    seconds: float


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffled batches of similar-length items: less padding, still a random order of batches."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 32
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk].tolist(), key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(
    model: Any,
    *,
    lengths: Sequence[int],
    loss_fn: Callable[[list[int]], Any],
    evaluate: Callable[[], dict[str, float]],
    options: FitOptions,
    monitor: str = "val_loss",
    lower_is_better: bool = True,
    on_eval: Callable[[Evaluation], None] | None = None,
) -> FitResult:
    """Train ``model`` (a ``torch.nn.Module``) on items ``0 .. len(lengths) - 1``.

    ``loss_fn(indices)`` returns the mean loss of one batch as a scalar tensor; ``evaluate()``
    returns validation metrics including ``monitor``. The model is left in eval mode holding the
    weights of the best validation.
    """
    import numpy as np
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    if len(lengths) == 0:
        raise ConfigError("no training examples")
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    steps_per_epoch = math.ceil(math.ceil(len(lengths) / options.batch_size) / options.grad_accum)
    total_steps = steps_per_epoch * options.epochs
    eval_every = options.eval_every or steps_per_epoch
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": options.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=options.learning_rate,
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, round(options.warmup_ratio * total_steps), total_steps)

    history: list[Evaluation] = []
    best: Evaluation | None = None
    best_state: dict[str, Any] | None = None
    bad_evals = 0
    step = 0
    stopped = False
    running: list[float] = []
    started = time.perf_counter()
    bar = tqdm(total=total_steps, desc="training", unit="step", disable=not options.progress, dynamic_ncols=True)

    def validate() -> bool:
        nonlocal best, best_state, bad_evals
        model.eval()
        with torch.inference_mode():
            metrics = {key: float(value) for key, value in evaluate().items()}
        model.train()
        if monitor not in metrics:
            raise KeyError(f"evaluate() returned no '{monitor}' (got {', '.join(metrics)})")
        record = Evaluation(
            step=step,
            epoch=round(step / steps_per_epoch, 3),
            train_loss=float(np.mean(running)) if running else float("nan"),
            metrics=metrics,
        )
        running.clear()
        history.append(record)
        if on_eval is not None:
            on_eval(record)
        shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
        bar.write(f"step {step} (epoch {record.epoch:g}): train_loss={record.train_loss:.4f} {shown}")
        value = metrics[monitor]
        improved = best is None or (value < best.metrics[monitor] if lower_is_better else value > best.metrics[monitor])
        if improved:
            best, bad_evals = record, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            return False
        bad_evals += 1
        return options.patience > 0 and bad_evals >= options.patience

    model.train()
    try:
        for _epoch in range(options.epochs):
            batches = length_grouped_batches(lengths, options.batch_size, rng)
            for i, batch in enumerate(batches):
                loss = loss_fn(batch)
                (loss / options.grad_accum).backward()
                running.append(float(loss.detach()))
                if (i + 1) % options.grad_accum and i + 1 != len(batches):
                    continue
                if options.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(params, options.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(running[-20:]):.4f}")
                if step % eval_every == 0 and validate():
                    stopped = True
                    break
            if stopped:
                break
        if not history or history[-1].step != step:
            validate()
    finally:
        bar.close()
    assert best is not None and best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        history=history, best=best, steps=step, stopped_early=stopped, seconds=time.perf_counter() - started
    )
