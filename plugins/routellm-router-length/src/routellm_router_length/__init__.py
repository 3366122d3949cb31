"""The ``length`` router: longer prompts go to the strong model (the heuristic baseline)."""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec


@routellm.hookimpl
def routellm_routers():
    # A "module:Class" reference: `routellm plugins` and `routellm route` stay free of numpy imports.
    yield RouterSpec(
        name="length",
        router_class="routellm_router_length.router:LengthRouter",
        description="Longer prompts go to the strong model (heuristic baseline).",
    )
