"""``routellm train bert``: fine-tune an encoder into a bert router checkpoint."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from routellm.errors import ConfigError
from routellm_router_bert.labels import LABELS, OUTCOME_TO_LABEL, prompt_labels
from routellm_train.battle_labels import (
    PromptLabels,
    prior_cross_entropy,
    training_labels,
    weighted_accuracy,
    weighted_auc,
    weighted_cross_entropy,
)
from routellm_train.finetune import FitOptions, FitResult, fit
from routellm_train.model_card import write_training_card

if TYPE_CHECKING:
    import polars as pl

logger = logging.getLogger(__name__)

#: The fine-tuning summary written beside the weights.
REPORT_FILE = "routellm_training.json"


class BertTrainOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What ``routellm train bert`` does besides the optimiser settings in ``fit``."""

    #: The strong side of the battles; default: the model that is in every battle.
    strong_model: str | None = None
    #: Keep only battles against this model; default: every opponent counts as the weak model.
    weak_model: str | None = None
    #: Tokens kept per prompt while training (also saved as the checkpoint's limit).
    max_length: int = 256
    #: Share of distinct prompts held out for validation (and early stopping).
    val_fraction: float = 0.1
    #: Train on at most this many distinct prompts (drawn at random); default: all.
    max_prompts: int | None = None
    #: Freeze the embeddings and the first N transformer layers (faster on a CPU; 0 trains everything).
    freeze_layers: int = 0
    device: str = "auto"
    fit: FitOptions = FitOptions(epochs=8, batch_size=16, learning_rate=5e-5, patience=2)


class BertTrainReport(msgspec.Struct, frozen=True):
    """Summary of one fine-tuning run (saved as ``routellm_training.json``)."""

    base: str
    battles: str
    strong_model: str
    weak_models: list[str]
    labels: list[str]
    battles_used: int
    prompts_train: int
    prompts_val: int
    label_counts: dict[str, int]
    #: Validation loss of always predicting the training label frequencies (what "learned nothing" scores).
    prior_val_loss: float
    fit: FitResult
    options: BertTrainOptions
    seconds: float


def train_bert(
    battles: str | Path | pl.DataFrame, base: str | Path, out: str | Path, options: BertTrainOptions | None = None
) -> BertTrainReport:
    """Fine-tune ``base`` (hub id or folder) on ``battles`` and save a bert router checkpoint in ``out``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from routellm.devices import pick_device
    from routellm_router_bert.router import classify

    options = options or BertTrainOptions()
    base = str(base)
    started = time.perf_counter()
    out = Path(out)
    labels = training_labels(
        battles,
        prompt_labels,
        strong_model=options.strong_model,
        weak_model=options.weak_model,
        max_prompts=options.max_prompts,
        val_fraction=options.val_fraction,
        seed=options.fit.seed,
    )
    data, train, val = labels.data, labels.train, labels.val

    device = pick_device(options.device)
    previous = hf_logging.get_verbosity()
    # A base encoder has no classification head yet; transformers' report saying so is expected noise.
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={name: i for i, name in enumerate(LABELS)},
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load base model '{base}': {exc}") from None
    finally:
        hf_logging.set_verbosity(previous)
    if not _is_bert_router(base):
        init_head_to_prior(model, train.counts.sum(axis=0) / train.counts.sum())
    if options.freeze_layers:
        freeze_lower_layers(model, options.freeze_layers)
    model.to(device)

    encoded = tokenizer(train.prompts, truncation=True, max_length=options.max_length)["input_ids"]
    targets = torch.tensor(train.targets, dtype=torch.float32)
    weights = torch.tensor(train.weights, dtype=torch.float32)

    def loss_fn(index: list[int]) -> torch.Tensor:
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in index]}, return_tensors="pt")
        logits = model(**{key: value.to(device) for key, value in batch.items()}).logits
        return soft_cross_entropy(logits, targets[index].to(device), weights[index].to(device))

    def evaluate() -> dict[str, float]:
        probs = classify(model, tokenizer, val.prompts, device, options.max_length, options.fit.batch_size * 2)
        return validation_metrics(probs, val)

    result = fit(
        model, lengths=[len(ids) for ids in encoded], loss_fn=loss_fn, evaluate=evaluate, options=options.fit
    )

    report = BertTrainReport(
        base=base,
        battles=labels.source,
        strong_model=labels.strong_model,
        weak_models=labels.weak_models,
        labels=list(LABELS),
        battles_used=int(data.counts.sum()),
        prompts_train=len(train),
        prompts_val=len(val),
        label_counts={name: int(data.counts[:, i].sum()) for i, name in enumerate(LABELS)},
        prior_val_loss=prior_cross_entropy(train, val),
        fit=result,
        options=options,
        seconds=time.perf_counter() - started,
    )
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.model_max_length = options.max_length
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / REPORT_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2))
    write_model_card(out, report)
    return report


def _is_bert_router(base: str) -> bool:
    """Whether ``base`` already is a 3-label classifier (then training continues from its head)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(base)
    except (OSError, ValueError):
        return False
    archs = getattr(config, "architectures", None) or []
    return config.num_labels == len(LABELS) and any(a.endswith("ForSequenceClassification") for a in archs)


def init_head_to_prior(model: Any, prior: np.ndarray) -> None:
    """Start a fresh classification head at the label frequencies: zero weights, bias ``log(prior)``.

    The battles are lopsided (the strong model wins most of them); a random head spends its first
    epoch learning just that, while this head starts at the prior's loss and learns how prompts
    move away from it.
    """
    import torch

    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == len(LABELS)]
    if not heads:
        logger.warning("no %d-output linear head found; leaving its initialisation alone", len(LABELS))
        return
    head = heads[-1]
    with torch.no_grad():
        head.weight.zero_()
        if head.bias is not None:
            head.bias.copy_(torch.as_tensor(np.log(np.clip(prior, 1e-6, 1.0)), dtype=head.bias.dtype))


def freeze_lower_layers(model: Any, n: int) -> None:
    """Stop training the embeddings and transformer layers ``0 .. n - 1`` (BERT-style parameter names)."""
    import re

    layer = re.compile(r"\.layers?\.(\d+)\.")
    frozen = 0
    for name, param in model.named_parameters():
        match = layer.search(name)
        if ".embeddings." in f".{name}" or (match and int(match.group(1)) < n):
            param.requires_grad_(False)
            frozen += 1
    if not frozen:
        raise ConfigError("freeze_layers: found no embedding or layer parameters to freeze in this model")


def soft_cross_entropy(logits: Any, targets: Any, weights: Any) -> Any:
    """Cross-entropy against label distributions, averaged with per-prompt weights (battles per prompt)."""
    import torch

    per_item = -(targets * torch.log_softmax(logits.float(), dim=-1)).sum(dim=-1)
    return (per_item * weights).sum() / weights.sum()


def validation_metrics(probs: np.ndarray, data: PromptLabels) -> dict[str, float]:
    """Loss, accuracy over battles, and AUC of the strong win rate for "strong model won"."""
    win_rate = 1.0 - probs[:, 1:].sum(axis=1)
    strong = data.counts[:, OUTCOME_TO_LABEL["strong"]]
    return {
        "val_loss": weighted_cross_entropy(probs, data),
        "val_accuracy": weighted_accuracy(probs, data),
        "val_auc": weighted_auc(win_rate, strong, data.counts.sum(axis=1) - strong),
    }


CARD_TEMPLATE = """---
{{ card_data }}
---

# bert router: {{ base }} fine-tuned on {{ battles }}

A [routellm](https://github.com/lm-sys/RouteLLM) `bert` router checkpoint: a sequence classifier with three
labels. For a prompt, the strong model's win rate is `1 - P(tie) - P(weak_wins)`; route to the strong model when
it is at or above your threshold.

```yaml
# routellm config
bert:
  checkpoint_path: {{ out }}
```

## Labels

| index | label | battles mapped to it |
|---|---|---|
| 0 | `strong_wins` | the strong model won ({{ label_counts.strong_wins }} battles) |
| 1 | `tie` | tie ({{ label_counts.tie }}) |
| 2 | `weak_wins` | the weak model won ({{ label_counts.weak_wins }}) |

**Strong model:** `{{ strong_model }}`.
**Weak model{% if weak_models|length > 1 %}s (pooled as "the weak model"){% endif %}:** {{ weak_list }}.

Every battle was oriented so that `{{ strong_model }}` is the strong side. Battles of the same prompt were
pooled into per-prompt label frequencies (soft targets weighted by the number of battles), which gives the same
cross-entropy as training on each battle.

## Training

- battles: `{{ battles }}` ({{ battles_used }} battles, {{ prompts_train }} training / {{ prompts_val }} validation
  prompts, split by prompt)
- base model: `{{ base }}`, max length {{ options.max_length }} tokens
- optimiser: AdamW, lr {{ options.fit.learning_rate }}, batch {{ options.fit.batch_size }}, up to
  {{ options.fit.epochs }} epochs, early stopping after {{ options.fit.patience }} validations without improvement
- {{ steps }} steps in {{ minutes }} minutes{% if stopped_early %} (stopped early){% endif %}; best weights from
  epoch {{ best.epoch }}

## Validation

| step | epoch | train loss | val loss | val accuracy | val AUC |
|---|---|---|---|---|---|
{% for e in history -%}
| {{ e.step }} | {{ e.epoch }} | {{ "%.4f"|format(e.train_loss) }} | {{ "%.4f"|format(e.metrics.val_loss) }} | {{ "%.4f"|format(e.metrics.val_accuracy) }} | {{ "%.4f"|format(e.metrics.val_auc) }} |
{% endfor %}

Predicting the training label frequencies for every prompt scores a validation loss of {{ "%.4f"|format(prior_val_loss) }}.
Val AUC is the chance that a battle the strong model won gets a higher strong win rate than one it did not win
(0.5 is chance). Validation prompts come from the same source as the training prompts; quality on other prompt
distributions (MT Bench, MMLU, GSM8K) is measured by `routellm eval`.
"""


def write_model_card(out: Path, report: BertTrainReport) -> None:
    """Write ``README.md`` (Hugging Face model card) describing the checkpoint and its training."""
    write_training_card(
        out, report, template=CARD_TEMPLATE, pipeline_tag="text-classification", tags=["routellm", "router", "bert-router"]
    )
