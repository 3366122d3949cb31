"""The ``static`` embedder plugin (model2vec is imported only when the embedder is built)."""

from __future__ import annotations

import routellm
from routellm.records import EmbedderSpec


@routellm.hookimpl
def routellm_embedders():
    yield EmbedderSpec(
        name="static",
        embedder_class="routellm_embedder_static.embedder:StaticEmbedder",
        description="Static token-lookup encoder (model2vec) distilled from all-MiniLM-L6-v2; no transformer.",
    )
