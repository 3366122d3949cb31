"""The ``mf`` router plugin: hooks only; numpy/torch code is imported when a router is built or trained."""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec


@routellm.hookimpl
def routellm_routers():
    yield RouterSpec(
        name="mf",
        router_class="routellm_router_mf.router:MFRouter",
        description="Matrix factorisation over prompt embeddings (RouteLLM's recommended router).",
    )


@routellm.hookimpl
def routellm_register_commands(train):
    from routellm.extras import missing, register_unavailable

    absent = missing("routellm_train", "polars")
    if absent:
        register_unavailable(train, "mf", install="routellm-router-mf[train]", modules=absent)
        return
    from routellm_router_mf.cli import register

    register(train)
