"""The ``sw_ranking`` router plugin: similarity-weighted Bradley-Terry ranking over arena battles.

Hook module: import-light (numpy, polars and torch load only when the router is built or trained).
"""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec


@routellm.hookimpl
def routellm_routers():
    yield RouterSpec(
        name="sw_ranking",
        router_class="routellm_router_sw_ranking.router:SWRankingRouter",
        description="Similarity-weighted Bradley-Terry ranking of model tiers over arena battles.",
    )


@routellm.hookimpl
def routellm_register_commands(train):
    from routellm.extras import missing, register_unavailable

    absent = missing("routellm_train", "polars")
    if absent:
        register_unavailable(train, "sw_ranking", install="routellm-router-sw-ranking[train]", modules=absent)
        return
    from routellm_router_sw_ranking.train import train_command

    train.command("sw_ranking")(train_command)
