"""The ``causal_llm`` router plugin and ``routellm train causal_llm`` (torch loads only when used)."""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec


@routellm.hookimpl
def routellm_routers():
    yield RouterSpec(
        name="causal_llm",
        router_class="routellm_router_causal_llm.router:CausalLLMRouter",
        description="Causal LLM scoring [[1]]..[[5]]: strong win rate = 1 - P(score >= threshold).",
    )


@routellm.hookimpl
def routellm_register_commands(train):
    from routellm.extras import missing, register_unavailable

    absent = missing("routellm_train", "polars")
    if absent:
        register_unavailable(train, "causal_llm", install="routellm-router-causal-llm[train]", modules=absent)
        return
    from routellm_router_causal_llm.cli import train_causal_llm_command

    train.command("causal_llm")(train_causal_llm_command)
