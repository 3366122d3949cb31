"""The ``openai`` embedder plugin: any OpenAI-compatible ``/v1/embeddings`` endpoint."""

from __future__ import annotations

import routellm
from routellm.records import EmbedderSpec


@routellm.hookimpl
def routellm_embedders():
    yield EmbedderSpec(
        name="openai",
        embedder_class="routellm_embedder_openai.embedder:OpenAIEmbedder",
        description="OpenAI-compatible /v1/embeddings (default text-embedding-3-small), batched, with retries.",
    )
