"""Hugging Face model cards for the checkpoints the routers' trainers save (huggingface_hub imported lazily)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec


def write_training_card(
    out: Path, report: Any, *, template: str, pipeline_tag: str, tags: Sequence[str]
) -> None:
    """Write ``out/README.md`` from the Jinja ``template``, filled with the training ``report``'s fields.

    ``report`` is a msgspec struct with ``base``, ``weak_models`` and ``fit`` (a
    :class:`routellm_train.finetune.FitResult`). Besides its other fields (``fit`` left out) the template
    sees ``card_data``, ``out``, ``weak_list`` (the first ten weak models), ``minutes``, ``steps``,
    ``stopped_early``, ``best`` and ``history``.
    """
    from huggingface_hub import ModelCard, ModelCardData

    data = json.loads(msgspec.json.encode(report))
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        base_model=report.base if "/" in report.base and not Path(report.base).exists() else None,
        tags=list(tags),
        license="apache-2.0",
    )
    weak = report.weak_models
    weak_list = ", ".join(f"`{m}`" for m in weak[:10]) + (f" and {len(weak) - 10} more" if len(weak) > 10 else "")
    card = ModelCard.from_template(
        card_data,
        template_str=template,
        out=str(out),
        weak_list=weak_list,
        minutes=f"{report.fit.seconds / 60:.1f}",
        steps=report.fit.steps,
        stopped_early=report.fit.stopped_early,
        best=data["fit"]["best"],
        history=data["fit"]["history"],
        **{k: v for k, v in data.items() if k != "fit"},
    )
    card.save(out / "README.md")
