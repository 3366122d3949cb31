"""The ``huggingface`` embedder plugin (torch and transformers are imported only when it is built)."""

from __future__ import annotations

import routellm
from routellm.records import EmbedderSpec


@routellm.hookimpl
def routellm_embedders():
    yield EmbedderSpec(
        name="huggingface",
        embedder_class="routellm_embedder_huggingface.embedder:HuggingFaceEmbedder",
        description="Local transformers encoder, mean pooling, L2-normalised.",
    )
