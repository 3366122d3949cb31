"""The ``length`` router: longer prompts go to the strong model (the heuristic baseline)."""

from __future__ import annotations

import routellm
from routellm.records import RouterSpec
from routellm_router_length.router import LengthRouter

__all__ = ["LengthRouter"]


@routellm.hookimpl
def routellm_routers():
    yield RouterSpec(
        name="length",
        router_class=LengthRouter,
        description="Longer prompts go to the strong model (heuristic baseline).",
    )
