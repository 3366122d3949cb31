"""The fixtures pytest loads from the pytest11 entry point."""

from __future__ import annotations

import httpx

from pytest_routellm import SAMPLE_PROMPTS


def test_plugin_is_loaded_through_its_entry_point(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("routellm")


def test_fake_upstream_fixture_answers_and_records(fake_upstream):
    fake_upstream.fail(429, times=1)
    url = f"{fake_upstream.base_url}/chat/completions"
    body = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
    assert httpx.post(url, json=body).status_code == 429
    answer = httpx.post(url, json=body).json()
    assert answer["choices"][0]["message"]["content"] == "echo: hello there"
    assert len(fake_upstream.requests) == 2


def test_sample_prompts_fixture(sample_prompts):
    assert sample_prompts == SAMPLE_PROMPTS
