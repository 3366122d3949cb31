"""The ``bert`` router plugin and ``routellm train bert`` (torch and transformers load only when used)."""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec


@routellm.hookimpl
def routellm_routers():
    yield RouterSpec(
        name="bert",
        router_class="routellm_router_bert.router:BertRouter",
        description="BERT-style classifier: strong win rate = 1 - P(tie) - P(weak wins).",
    )


@routellm.hookimpl
def routellm_register_commands(train):
    from routellm.extras import missing, register_unavailable

    absent = missing("routellm_train", "polars")
    if absent:
        register_unavailable(train, "bert", install="routellm-router-bert[train]", modules=absent)
        return
    from routellm_router_bert.cli import train_bert_command

    train.command("bert")(train_bert_command)
