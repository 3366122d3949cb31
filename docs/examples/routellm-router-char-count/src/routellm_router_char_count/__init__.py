"""Example routellm router plugin: the longer the prompt, the likelier the strong model wins."""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec


@routellm.hookimpl
def routellm_routers():
    # A lazy "module:Class" reference keeps `routellm plugins` fast even if the router imports torch.
    yield RouterSpec(
        name="char_count",
        router_class="routellm_router_char_count.router:CharCountRouter",
        description="Longer prompts go to the strong model.",
    )
