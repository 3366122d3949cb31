"""The ``blend`` router: a weighted average of other routers' win-rate quantiles."""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec


@routellm.hookimpl
def routellm_routers():
    yield RouterSpec(
        name="blend",
        router_class="routellm_router_blend.router:BlendRouter",
        description="Weighted average of other routers' win-rate quantiles (e.g. mf + length).",
    )
