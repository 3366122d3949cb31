"""Serving N models end to end: three loopback upstreams, the official openai client, spend per model."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import openai

from pytest_routellm import openai_upstream, routing_server

PRICES = {"tiny": (0.1, 0.2), "mid": (1.0, 2.0), "big": (10.0, 30.0)}


def _models(ups):
    # listed out of price order on purpose: the server orders them cheapest first
    return [
        {"name": name, "base_url": ups[name].base_url, "api_key": f"sk-{name}", "model": f"{name}-upstream",
         "price": {"input": PRICES[name][0], "output": PRICES[name][1]}}
        for name in ("big", "tiny", "mid")
    ]


def _answered(ups):
    return {name: len(up.requests) for name, up in ups.items()}


def test_three_upstreams_through_the_openai_client():
    with ExitStack() as stack:
        ups = {name: stack.enter_context(openai_upstream()) for name in PRICES}
        models = _models(ups)
        base, _ = stack.enter_context(
            routing_server("http://unused", routers=("random",), config={"random": {"seed": 1}}, models=models,
                           server={"retries": 0, "fallback": True})
        )
        client = openai.OpenAI(base_url=base, api_key="-", max_retries=0)
        hello = [{"role": "user", "content": "hello there"}]

        # knob 0: the most expensive model; knob 1: the cheapest (the random router falls back to the ladder)
        reply = client.chat.completions.with_raw_response.create(model="router-random-0", messages=hello)
        assert reply.headers["x-routellm-model"] == "big" and reply.parse().model == "big"
        assert _answered(ups) == {"tiny": 0, "mid": 0, "big": 1}
        assert ups["big"].requests[0]["model"] == "big-upstream"
        assert ups["big"].headers[0]["authorization"] == "Bearer sk-big"
        reply = client.chat.completions.with_raw_response.create(model="router-random-1", messages=hello)
        assert reply.headers["x-routellm-model"] == "tiny"
        assert _answered(ups) == {"tiny": 1, "mid": 0, "big": 1}

        # a middle knob spreads requests over the ladder
        seen = {
            client.chat.completions.with_raw_response.create(
                model="router-random-0.6", messages=[{"role": "user", "content": f"question {i}"}]
            ).headers["x-routellm-model"]
            for i in range(30)
        }
        assert seen <= set(PRICES) and len(seen) >= 2

        # any listed model by name; when it fails, the next one (here: the next cheaper) answers
        reply = client.chat.completions.with_raw_response.create(model="mid", messages=hello)
        assert reply.headers["x-routellm-model"] == "mid"
        ups["big"].fail(500)
        reply = client.chat.completions.with_raw_response.create(model="big", messages=hello)
        assert reply.headers["x-routellm-model"] == "mid"
        assert reply.headers["x-routellm-fallback-from"] == "big"

        models_listed = {m.id for m in client.models.list().data}
        assert {"tiny", "mid", "big"} <= models_listed

        metrics = httpx.get(base.removesuffix("/v1") + "/metrics").text
        spend = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("routellm_spend_usd_total{")
        }
        tokens = {
            (line.split('"')[1], line.split('"')[3]): float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("routellm_tokens_total{")
        }
        for name, (pin, pout) in PRICES.items():
            expected = (tokens[(name, "prompt")] * pin + tokens[(name, "completion")] * pout) / 1e6
            assert spend[name] > 0 and abs(spend[name] - expected) < 1e-12
        assert any(
            line.startswith("routellm_requests_total{")
            and all(label in line for label in ('router="-"', 'model="mid"', 'status="200"'))
            for line in metrics.splitlines()
        )


def test_controller_routes_among_three():
    from routellm.controller import Controller

    with ExitStack() as stack:
        ups = {name: stack.enter_context(openai_upstream()) for name in PRICES}
        config = {"routers": {"random": {"seed": 1}}, "models": _models(ups), "server": {"retries": 0}}
        with Controller(routers=["random"], config=config) as client:
            hello = [{"role": "user", "content": "hi"}]
            assert client.chat.completions.create(model="router-random-0", messages=hello).model == "big"
            reply = client.chat.completions.create(model="router-random-1", messages=hello)
            assert reply.model == "tiny" and ups["tiny"].requests[-1]["model"] == "tiny-upstream"
            assert set(reply.routing.fallbacks) == {"mid", "big"}
            assert client.route("hi", "random", 0.0) == "big"
