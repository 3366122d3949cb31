"""The ``huggingface`` embedder plugin (torch and transformers are imported only when it is built)."""

from __future__ import annotations

import routellm
from routellm.records import EmbedderSpec


@routellm.hookimpl
def routellm_embedders():
    from routellm_embedder_huggingface.embedder import HuggingFaceEmbedder

    yield EmbedderSpec(
        name="huggingface",
        embedder_class=HuggingFaceEmbedder,
        description="Local transformers encoder, mean pooling, L2-normalised.",
    )
