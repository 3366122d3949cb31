"""The pytest plugin (entry point ``pytest11``): fixtures for testing routellm plugins and servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_routellm import SAMPLE_PROMPTS, FakeUpstream, openai_upstream


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A running :class:`~pytest_routellm.FakeUpstream` on loopback (``fake_upstream.base_url`` ends in ``/v1``)."""
    with openai_upstream() as upstream:
        yield upstream


@pytest.fixture
def sample_prompts() -> list[str]:
    """Short and long prompts of several kinds, for scoring routers."""
    return list(SAMPLE_PROMPTS)
