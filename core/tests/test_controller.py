"""The Controller SDK against a real loopback upstream."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from pytest_routellm import openai_upstream
from routellm.controller import ChatCompletion, Controller, UpstreamError
from routellm.engine import RequestError
from routellm.server.upstream import UpstreamFailure

STRONG, WEAK = "strong-model", "weak-model"
MESSAGES = [{"role": "user", "content": "how are you"}]


@pytest.fixture(scope="module")
def upstream():
    with openai_upstream() as up:
        yield up


@pytest.fixture(autouse=True)
def _fresh(upstream):
    upstream.reset()


@pytest.fixture(scope="module")
def controller(upstream):
    config = {"routers": {"random": {"seed": 1}}, "server": {"backoff": 0.01}}
    with Controller(
        routers=["random"],
        strong_model=STRONG,
        weak_model=WEAK,
        config=config,
        api_base=upstream.base_url,
        api_key="sk-ctl",
    ) as ctl:
        yield ctl


def test_create_routes_and_calls_the_upstream(controller, upstream):
    reply = controller.chat.completions.create(model="router-random-0", messages=MESSAGES, seed=3)
    assert isinstance(reply, ChatCompletion)
    assert reply.model == STRONG
    assert reply.choices[0].message.content == "echo: how are you"
    assert reply.usage.completion_tokens == 4
    assert reply.routing.router == "random" and reply.routing.model == STRONG
    assert upstream.requests[-1]["seed"] == 3
    assert upstream.headers[-1]["authorization"] == "Bearer sk-ctl"
    weak = controller.chat.completions.create(model="router-random-1", messages=MESSAGES)
    assert weak.model == WEAK


def test_original_style_router_and_threshold(controller):
    reply = controller.completion(router="random", threshold=0.0, messages=MESSAGES)
    assert reply.model == STRONG and reply.routing.threshold == 0.0
    with pytest.raises(RequestError, match="not both"):
        controller.completion(model="router-random-0", router="random", threshold=0.0, messages=MESSAGES)
    with pytest.raises(RequestError, match="give model="):
        controller.completion(messages=MESSAGES)


def test_sync_stream(controller):
    chunks = list(controller.chat.completions.create(model="router-random-1", messages=MESSAGES, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: how are you"
    assert all(c.routing.model == WEAK for c in chunks)


def test_async_create_and_stream(controller):
    async def main():
        replies = await asyncio.gather(
            *(
                controller.chat.completions.acreate(model="router-random-0.5", messages=MESSAGES)
                for _ in range(4)
            )
        )
        stream = await controller.acompletion(model="router-random-0", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await controller.aclose()
        return replies, text

    replies, text = asyncio.run(main())
    assert all(r.choices[0].message.content == "echo: how are you" for r in replies)
    assert text == "echo: how are you"


def test_route_and_batch_win_rate(controller):
    prompts = ["a", "b", "c"]
    rates = controller.batch_calculate_win_rate(prompts, "random")
    assert isinstance(rates, np.ndarray) and rates.shape == (3,)
    np.testing.assert_allclose(rates, controller.batch_calculate_win_rate(prompts, "random"))  # seeded
    expected = STRONG if rates[0] >= 0.5 else WEAK
    assert controller.route("a", "random", 0.5) == expected
    assert controller.route("a", "random", 0.0) == STRONG
    with pytest.raises(RequestError, match="unknown router 'mf'"):
        controller.route("a", "mf", 0.5)


def test_errors(controller, upstream):
    with pytest.raises(RequestError, match="outside"):
        controller.chat.completions.create(model="router-random-2", messages=MESSAGES)
    upstream.fail(400, body={"error": {"message": "nope", "type": "invalid_request_error"}})
    with pytest.raises(UpstreamError, match="answered 400: nope") as info:
        controller.chat.completions.create(model="router-random-0", messages=MESSAGES)
    assert info.value.status == 400
    upstream.drop_after = 2
    with pytest.raises(UpstreamFailure, match="broke"):
        list(controller.chat.completions.create(model="router-random-0", messages=MESSAGES, stream=True))


def test_fallback(upstream):
    with Controller(
        ["random"], STRONG, WEAK, api_base=upstream.base_url, fallback=True, config={"server": {"retries": 0}}
    ) as ctl:
        upstream.fail(500, model=STRONG)
        reply = ctl.chat.completions.create(model="router-random-0", messages=MESSAGES)
    assert reply.model == WEAK
    assert reply.routing.model == WEAK


def test_async_context_manager(upstream):
    async def main():
        async with Controller(["random"], STRONG, WEAK, api_base=upstream.base_url) as ctl:
            reply = await ctl.chat.completions.acreate(model="router-random-1", messages=MESSAGES)
            assert ctl._clients
        assert not ctl._clients
        return reply

    assert asyncio.run(main()).model == WEAK


def test_needs_a_router():
    with pytest.raises(ValueError, match="at least one router"):
        Controller(routers=[])
