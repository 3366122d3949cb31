"""``routellm train causal_llm``: supervised fine-tuning of a causal LM on battles scored 1-5."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from routellm.errors import ConfigError
from routellm_router_causal_llm.labels import NUM_SCORES, prompt_labels
from routellm_router_causal_llm.model import (
    SCORE_TOKENS,
    SETTINGS_FILE,
    Classifier,
    encode,
    last_token_logits,
    prepare_tokenizer,
    resolve_dtype,
    score_probabilities,
    strong_win_rate,
)
from routellm_router_causal_llm.prompts import (
    CLASSIFIER_TEMPLATE,
    SYSTEM_TEMPLATE,
    PromptBuilder,
    load_template,
)
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

REPORT_FILE = "routellm_training.json"
OWNER = "train causal_llm"


class CausalTrainOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What ``routellm train causal_llm`` does besides the optimiser settings in ``fit``."""

    strong_model: str | None = None
    weak_model: str | None = None
    #: ``llama3`` (RouteLLM's format; fits Llama 3 bases) or ``chat_template`` (the base tokenizer's own).
    prompt_format: str = "llama3"
    #: Template files; default: the shipped seed templates.
    system_message: str | None = None
    classifier_message: str | None = None
    #: Used for the validation AUC (the router's default).
    score_threshold: int = 4
    #: Tokens kept per prompt, cut from the left.
    max_length: int = 1024
    val_fraction: float = 0.1
    max_prompts: int | None = None
    device: str = "auto"
    #: ``auto``: bfloat16 on CUDA, float32 elsewhere.
    dtype: str = "auto"
    gradient_checkpointing: bool = False
    fit: FitOptions = FitOptions(epochs=2, batch_size=8, learning_rate=1e-5, patience=1)


class CausalTrainReport(msgspec.Struct, frozen=True):
    """Summary of one fine-tuning run (saved as ``routellm_training.json``)."""

    base: str
    battles: str
    strong_model: str
    weak_models: list[str]
    score_tokens: list[str]
    battles_used: int
    prompts_train: int
    prompts_val: int
    score_counts: dict[str, int]
    prior_val_loss: float
    fit: FitResult
    options: CausalTrainOptions
    seconds: float


def train_causal_llm(
    battles: str | Path | pl.DataFrame, base: str | Path, out: str | Path, options: CausalTrainOptions | None = None
) -> CausalTrainReport:
    """Fine-tune causal LM ``base`` to answer RouteLLM's prompt with a score token; save it in ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from routellm.devices import pick_device

    options = options or CausalTrainOptions()
    base = str(base)
    if not 1 <= options.score_threshold <= NUM_SCORES:
        raise ConfigError(f"score_threshold must be between 1 and {NUM_SCORES}, got {options.score_threshold}")
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
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=resolve_dtype(options.dtype, device, owner=OWNER))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load base model '{base}': {exc}") from None
    score_ids = prepare_tokenizer(tokenizer, SCORE_TOKENS)
    if len(tokenizer) > int(model.get_input_embeddings().num_embeddings):
        model.resize_token_embeddings(len(tokenizer))
    if options.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.to(device)
    classifier = Classifier(model=model, tokenizer=tokenizer, score_ids=score_ids, device=device)

    system = load_template(options.system_message, SYSTEM_TEMPLATE, None, owner=OWNER)
    question = load_template(options.classifier_message, CLASSIFIER_TEMPLATE, None, owner=OWNER)
    build = PromptBuilder(system, question, options.prompt_format, tokenizer, owner=OWNER)

    def encode_all(prompts: list[str]) -> list[list[int]]:
        texts = [build(p) for p in prompts]
        return encode(tokenizer, texts, add_special_tokens=build.adds_special_tokens, max_length=options.max_length)

    train_ids, val_ids = encode_all(train.prompts), encode_all(val.prompts)
    targets = torch.tensor(train.targets, dtype=torch.float32)
    weights = torch.tensor(train.weights, dtype=torch.float32)
    ids_tensor = torch.tensor(score_ids)

    def sft_loss(ids: list[list[int]], target: Any, weight: Any) -> Any:
        # Supervised fine-tuning on the answer token: cross-entropy over the whole vocabulary at the
        # score position, against the prompt's distribution of score labels.
        logp = torch.log_softmax(last_token_logits(model, tokenizer, ids, device).float(), dim=-1)
        per_item = -(target * logp[:, ids_tensor.to(device)]).sum(dim=-1)
        return (per_item * weight).sum() / weight.sum()

    def loss_fn(index: list[int]) -> Any:
        return sft_loss([train_ids[i] for i in index], targets[index].to(device), weights[index].to(device))

    val_targets = torch.tensor(val.targets, dtype=torch.float32)
    val_weights = torch.tensor(val.weights, dtype=torch.float32)

    def evaluate() -> dict[str, float]:
        size = options.fit.batch_size
        total = 0.0
        for start in range(0, len(val_ids), size):
            part = slice(start, start + size)
            total += float(sft_loss(val_ids[part], val_targets[part].to(device), val_weights[part].to(device))) * float(
                val_weights[part].sum()
            )
        probs = score_probabilities(classifier, val_ids, size)
        return {"val_loss": total / float(val_weights.sum()), **score_metrics(probs, val, options.score_threshold)}

    result = fit(model, lengths=[len(x) for x in train_ids], loss_fn=loss_fn, evaluate=evaluate, options=options.fit)
    if options.gradient_checkpointing:
        model.gradient_checkpointing_disable()

    report = CausalTrainReport(
        base=base,
        battles=labels.source,
        strong_model=labels.strong_model,
        weak_models=labels.weak_models,
        score_tokens=list(SCORE_TOKENS),
        battles_used=int(data.counts.sum()),
        prompts_train=len(train),
        prompts_val=len(val),
        score_counts={t: int(data.counts[:, i].sum()) for i, t in enumerate(SCORE_TOKENS)},
        prior_val_loss=prior_cross_entropy(train, val),
        fit=result,
        options=options,
        seconds=time.perf_counter() - started,
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / SYSTEM_TEMPLATE).write_text(system, encoding="utf-8")
    (out / CLASSIFIER_TEMPLATE).write_text(question, encoding="utf-8")
    (out / SETTINGS_FILE).write_text(json.dumps({"prompt_format": options.prompt_format, "score_position": "next_token"}, indent=2), encoding="utf-8")
    (out / REPORT_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2))
    write_model_card(out, report)
    return report


def score_metrics(probs: np.ndarray, data: PromptLabels, score_threshold: int) -> dict[str, float]:
    """Loss restricted to the score tokens, accuracy over battles, and AUC of the win rate for
    "the weak model was not clearly preferred" (score below the threshold)."""
    strong = data.counts[:, : score_threshold - 1].sum(axis=1)
    return {
        "val_score_loss": weighted_cross_entropy(probs, data),
        "val_accuracy": weighted_accuracy(probs, data),
        "val_auc": weighted_auc(strong_win_rate(probs, score_threshold), strong, data.counts.sum(axis=1) - strong),
    }


CARD_TEMPLATE = """---
{{ card_data }}
---

# causal_llm router: {{ base }} fine-tuned on {{ battles }}

A [routellm](https://github.com/lm-sys/RouteLLM) `causal_llm` router checkpoint. The model reads the system
prompt `system_ft_v5.txt` and the question template `classifier_ft_v5.txt` (both saved here) around a user prompt
and answers with one score token, `[[1]]` to `[[5]]`; a high score means the weak model is expected to answer well.
The router takes the softmax over the five score tokens' logits and returns the strong win rate
`1 - P(score >= score_threshold)` (default threshold 4).

```yaml
causal_llm:
  checkpoint_path: {{ out }}
```

## Labels

Every battle was oriented so that `{{ strong_model }}` is the strong side
(weak: {{ weak_list }}). The judge's probability that the weak model's answer is better, `p`, maps to a score:

| p | [0, .2) | [.2, .4) | [.4, .6) | [.6, .8) | [.8, 1] |
|---|---|---|---|---|---|
| score | `[[1]]` | `[[2]]` | `[[3]]` | `[[4]]` | `[[5]]` |
| battles | {{ score_counts["[[1]]"] }} | {{ score_counts["[[2]]"] }} | {{ score_counts["[[3]]"] }} | {{ score_counts["[[4]]"] }} | {{ score_counts["[[5]]"] }} |

Battles of the same prompt were pooled into per-prompt score frequencies; the loss is the cross-entropy of the
next token (whole vocabulary) at the answer position against them, the same as fine-tuning on each battle's answer.

## Training

- battles: `{{ battles }}` ({{ battles_used }} battles; {{ prompts_train }} training / {{ prompts_val }} validation
  prompts, split by prompt), prompt format `{{ options.prompt_format }}`, max {{ options.max_length }} tokens
- optimiser: AdamW, lr {{ options.fit.learning_rate }}, batch {{ options.fit.batch_size }} x {{ options.fit.grad_accum }},
  up to {{ options.fit.epochs }} epochs; {{ steps }} steps in {{ minutes }} minutes; best weights from epoch {{ best.epoch }}

## Validation

| step | epoch | train loss | val loss | val score loss | val accuracy | val AUC |
|---|---|---|---|---|---|---|
{% for e in history -%}
| {{ e.step }} | {{ e.epoch }} | {{ "%.4f"|format(e.train_loss) }} | {{ "%.4f"|format(e.metrics.val_loss) }} | {{ "%.4f"|format(e.metrics.val_score_loss) }} | {{ "%.4f"|format(e.metrics.val_accuracy) }} | {{ "%.4f"|format(e.metrics.val_auc) }} |
{% endfor %}

Predicting the training score frequencies for every prompt scores a val score loss of {{ "%.4f"|format(prior_val_loss) }}.
"""


def write_model_card(out: Path, report: CausalTrainReport) -> None:
    """Write ``README.md`` (Hugging Face model card) describing the checkpoint and its training."""
    write_training_card(
        out,
        report,
        template=CARD_TEMPLATE,
        pipeline_tag="text-generation",
        tags=["routellm", "router", "causal-llm-router"],
    )
