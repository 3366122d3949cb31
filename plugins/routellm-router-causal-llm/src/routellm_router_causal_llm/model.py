"""Loading a causal LM classifier and scoring prompts with its ``[[1]]``..``[[5]]`` tokens."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routellm.checkpoints import check_model_folder, has_tokenizer
from routellm.errors import ConfigError

#: RouteLLM's score tokens; the model writes one of them as its answer.
SCORE_TOKENS = ("[[1]]", "[[2]]", "[[3]]", "[[4]]", "[[5]]")
#: Written beside a trained checkpoint: how its prompts were built.
SETTINGS_FILE = "routellm_causal_llm.json"
DTYPES = ("auto", "float32", "float16", "bfloat16")
#: Where the score is read. ``generate`` (RouteLLM): greedy generation of up to ``generation_window``
#: tokens after the user turn, then the first score token the model produced, whatever part of the
#: assistant header it wrote before it. ``next_token``: the token right after the whole assistant
#: header (what ``routellm train causal_llm`` trains).
SCORE_POSITIONS = ("generate", "next_token")
#: RouteLLM's ``max_new_tokens``.
GENERATION_WINDOW = 6


@dataclass
class Classifier:
    """A loaded causal LM, its tokenizer (score tokens added, left padding) and the score token ids."""

    model: Any
    tokenizer: Any
    score_ids: list[int]
    device: str


def resolve_dtype(dtype: str, device: str, *, owner: str) -> Any:
    """``auto`` is bfloat16 on CUDA (as RouteLLM) and float32 elsewhere."""
    import torch

    if dtype not in DTYPES:
        raise ConfigError(f"{owner}: dtype must be one of {', '.join(DTYPES)}, got '{dtype}'")
    if dtype == "auto":
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def checkpoint_settings(path: Path) -> dict[str, Any]:
    """Settings a trained checkpoint recorded (empty for RouteLLM's published one)."""
    file = path / SETTINGS_FILE
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


def prepare_tokenizer(tokenizer: Any, score_tokens: Sequence[str]) -> list[int]:
    """Add missing score tokens (as RouteLLM does), pad on the left with EOS if there is no pad token,
    cut long prompts from the left (RouteLLM's truncation side); return the score token ids."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in score_tokens if t not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    tokenizer.truncation_side = "left"
    return [int(tokenizer.convert_tokens_to_ids(t)) for t in score_tokens]


def load_classifier(
    path: Path,
    *,
    tokenizer_source: str | Path | None,
    score_tokens: Sequence[str],
    device: str,
    dtype: str,
    attn_implementation: str | None,
    owner: str,
) -> Classifier:
    """Load the checkpoint in ``path``; the tokenizer from there, else from ``tokenizer_source``."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    hint = "train one with `routellm train causal_llm --battles ... --base ... --out DIR`"
    check_model_folder(path, owner=owner, hint=hint)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{owner}: cannot read {path / 'config.json'}: {exc}") from None
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(name.endswith("ForCausalLM") for name in architectures):
        raise ConfigError(f"{owner}: {path} holds a {', '.join(architectures)}, not a causal language model; {hint}")
    source = path if has_tokenizer(path) else tokenizer_source
    if source is None:
        raise ConfigError(f"{owner}: {path} has no tokenizer files; set model_id to the base model whose tokenizer it uses")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{owner}: cannot load the tokenizer from '{source}' ({type(exc).__name__}: {exc}); "
            "set model_id to a local folder holding the base model's tokenizer"
        ) from None
    score_ids = prepare_tokenizer(tokenizer, score_tokens)
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(dtype, device, owner=owner)}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except Exception as exc:  # transformers/safetensors raise many types for a damaged folder
        raise ConfigError(f"{owner}: cannot load the checkpoint in {path}: {type(exc).__name__}: {exc}") from None
    rows = int(model.get_input_embeddings().num_embeddings)
    if max(score_ids) >= rows:
        raise ConfigError(
            f"{owner}: score token {score_tokens[int(np.argmax(score_ids))]} has id {max(score_ids)} but the model in "
            f"{path} has only {rows} token embeddings: the tokenizer does not belong to this checkpoint"
        )
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device).eval()
    return Classifier(model=model, tokenizer=tokenizer, score_ids=score_ids, device=device)


def encode(tokenizer: Any, texts: Sequence[str], *, add_special_tokens: bool, max_length: int | None) -> list[list[int]]:
    """Token ids of each text (left-truncated to ``max_length`` when set)."""
    return tokenizer(
        list(texts), add_special_tokens=add_special_tokens, truncation=max_length is not None, max_length=max_length
    )["input_ids"]


def last_token_logits(model: Any, tokenizer: Any, ids: Sequence[Sequence[int]], device: str) -> Any:
    """Logits of the next token after each (left-padded) sequence, shape ``(len(ids), vocab)``."""
    batch = tokenizer.pad({"input_ids": [list(x) for x in ids]}, return_tensors="pt")
    input_ids = batch["input_ids"].to(device)
    mask = batch["attention_mask"].to(device)
    # Positions count real tokens only, so a left-padded row sees the same positions as alone.
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=1, use_cache=False)
    return out.logits[:, -1, :]


def score_probabilities(classifier: Classifier, ids: Sequence[Sequence[int]], batch_size: int) -> np.ndarray:
    """Softmax over the score tokens' logits for each encoded prompt, shape ``(n, len(score_ids))``."""
    import torch

    out = np.empty((len(ids), len(classifier.score_ids)), dtype=np.float64)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            logits = last_token_logits(classifier.model, classifier.tokenizer, [ids[i] for i in index], classifier.device)
            scores = logits[:, classifier.score_ids].float()
            out[index] = torch.softmax(scores, dim=-1).cpu().numpy()
    return out


def first_score_step(new_tokens: Any, score_ids: Sequence[int]) -> np.ndarray:
    """Per row of generated tokens ``(n, steps)``: the first step that produced a score token, or -1."""
    import torch

    hits = torch.isin(new_tokens, torch.as_tensor(list(score_ids), device=new_tokens.device))
    first = hits.int().argmax(dim=1)
    return torch.where(hits.any(dim=1), first, torch.full_like(first, -1)).cpu().numpy()


def generated_score_probabilities(
    classifier: Classifier, ids: Sequence[Sequence[int]], batch_size: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """RouteLLM's reading: greedy generation of up to ``window`` tokens per prompt; the softmax over the
    score tokens' scores at the first step that produced one. Returns the probabilities ``(n, k)`` and
    a mask of the prompts whose window held no score token (their rows are NaN)."""
    import torch

    out = np.full((len(ids), len(classifier.score_ids)), np.nan, dtype=np.float64)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    tokenizer, model = classifier.tokenizer, classifier.model
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": [list(ids[i]) for i in index]}, return_tensors="pt")
            input_ids = batch["input_ids"].to(classifier.device)
            generated = model.generate(
                input_ids=input_ids,
                attention_mask=batch["attention_mask"].to(classifier.device),
                max_new_tokens=window,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                output_scores=True,
                return_dict_in_generate=True,
            )
            new_tokens = generated.sequences[:, input_ids.shape[1] :]
            steps = first_score_step(new_tokens, classifier.score_ids)
            scores = torch.stack(generated.scores, dim=1)[:, :, classifier.score_ids].float()
            for row, step in enumerate(steps):
                if step >= 0:
                    out[index[row]] = torch.softmax(scores[row, step], dim=-1).cpu().numpy()
    return out, np.isnan(out[:, 0])


def strong_win_rate(probs: np.ndarray, score_threshold: int) -> np.ndarray:
    """As in RouteLLM: ``1 - P(score >= score_threshold)``; a high score means the weak model does well."""
    return np.clip(1.0 - probs[:, score_threshold - 1 :].sum(axis=1), 0.0, 1.0)
