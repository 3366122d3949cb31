"""The routing server end to end on loopback: the official openai client -> server -> a real upstream."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import httpx
import openai
import pytest

from pytest_routellm import openai_upstream, routing_server

STRONG = "gpt-4-1106-preview"
WEAK = "mixtral-8x7b-instruct-v0.1"
UPSTREAM_KEY = "sk-upstream-test"
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def upstream():
    with openai_upstream() as up:
        yield up


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream):
    upstream.reset()
    yield
    upstream.reset()


@pytest.fixture(scope="module", params=["aiohttp", "httpx"])
def server(upstream, request):
    """A server with fast retries and a short read timeout, fallback off, on each upstream transport."""
    options = {"timeouts": {"read": 1.0}, "retries": 2, "http_transport": request.param}
    with routing_server(upstream.base_url, server=options) as (url, app):
        yield url, app


@pytest.fixture(scope="module")
def url(server):
    return server[0]


@pytest.fixture(scope="module")
def client(url):
    with openai.OpenAI(base_url=url, api_key="anything", max_retries=0, timeout=10) as c:
        yield c


def metrics_text(url: str) -> str:
    return httpx.get(url.removesuffix("/v1") + "/metrics").text


class TestChatCompletions:
    def test_routes_to_strong_or_weak_by_threshold(self, client, upstream):
        strong = client.chat.completions.with_raw_response.create(model="router-random-0", messages=MESSAGES)
        weak = client.chat.completions.with_raw_response.create(model="router-random-1", messages=MESSAGES)
        assert strong.parse().model == STRONG and strong.headers["x-routellm-model"] == STRONG
        assert weak.parse().model == WEAK and weak.headers["x-routellm-model"] == WEAK
        assert strong.headers["x-routellm-router"] == "random"
        assert strong.headers["x-routellm-threshold"] == "0"
        assert 0.0 <= float(strong.headers["x-routellm-win-rate"]) <= 1.0
        assert strong.parse().choices[0].message.content == "echo: hello there"
        # The upstream got the routed model name and the upstream key, nothing else changed.
        assert [r["model"] for r in upstream.requests] == [STRONG, WEAK]
        assert upstream.headers[0]["authorization"] == f"Bearer {UPSTREAM_KEY}"

    def test_every_openai_field_passes_through_untouched(self, client, upstream):
        fields = {
            "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
            "tool_choice": "auto",
            "response_format": {"type": "json_object"},
            "n": 2,
            "seed": 7,
            "logprobs": True,
            "top_logprobs": 2,
            "temperature": 0.25,
            "max_tokens": 33,
            "stop": ["\n\n"],
            "user": "u-1",
            "logit_bias": {"50256": -100},
            "parallel_tool_calls": False,
        }
        reply = client.chat.completions.create(
            model="router-random-0.5",
            messages=MESSAGES,
            extra_body={"vendor_extension": {"x": [1, 2.5]}},
            **fields,
        )
        sent = upstream.requests[-1]
        for key, value in fields.items():
            assert sent[key] == value, key
        assert sent["vendor_extension"] == {"x": [1, 2.5]}
        assert sent["messages"] == MESSAGES
        assert len(reply.choices) == 2
        assert reply.choices[0].message.tool_calls[0].function.name == "lookup"

    def test_streaming_is_relayed_chunk_by_chunk(self, client, upstream):
        upstream.chunk_delay = 0.05
        stream = client.chat.completions.create(model="router-random-0", messages=MESSAGES, stream=True)
        arrivals, text = [], []
        for chunk in stream:
            arrivals.append(time.perf_counter())
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        assert "".join(text) == "echo: hello there"
        # Relayed as sent: chunks arrive spread over the upstream's delays, not all at once at the end.
        assert arrivals[-1] - arrivals[0] >= 0.1
        assert upstream.completed_streams == 1

    def test_stream_usage_counts_tokens(self, client, url):
        stream = client.chat.completions.create(
            model="router-random-1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        usage = [c.usage for c in stream if c.usage]
        assert usage and usage[0].completion_tokens == 3
        assert f'routellm_tokens_total{{model="{WEAK}",type="completion"}}' in metrics_text(url)

    async def test_async_client_concurrent(self, url):
        async with openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0) as aclient:
            replies = await asyncio.gather(
                *(
                    aclient.chat.completions.create(
                        model="router-random-0.5", messages=[{"role": "user", "content": f"n {i}"}]
                    )
                    for i in range(8)
                )
            )
            assert sorted(r.choices[0].message.content for r in replies) == [f"echo: n {i}" for i in range(8)]
            stream = await aclient.chat.completions.create(
                model="router-random-0", messages=MESSAGES, stream=True
            )
            parts = [
                c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content
            ]
            assert "".join(parts) == "echo: hello there"

    def test_direct_model_call_skips_routing(self, client, upstream):
        reply = client.chat.completions.with_raw_response.create(model=WEAK, messages=MESSAGES)
        assert reply.parse().model == WEAK
        assert "x-routellm-router" not in reply.headers


def test_upstream_model_names_are_mapped_back(upstream):
    models = {
        "strong": {"name": "big", "base_url": upstream.base_url, "model": "vendor/big-2024"},
        "weak": {"name": "small", "base_url": upstream.base_url},
    }
    with (
        routing_server(upstream.base_url, models=models) as (url, _),
        openai.OpenAI(base_url=url, api_key="x", max_retries=0) as c,
    ):
        reply = c.chat.completions.create(model="router-random-0", messages=MESSAGES, n=2)
        chunks = list(c.chat.completions.create(model="router-random-0", messages=MESSAGES, stream=True))
        ids = [m.id for m in c.models.list()]
    assert [r["model"] for r in upstream.requests] == ["vendor/big-2024", "vendor/big-2024"]
    assert reply.model == "big" and len(reply.choices) == 2
    assert chunks and all(chunk.model == "big" for chunk in chunks)
    assert "".join(x.choices[0].delta.content or "" for x in chunks if x.choices) == "echo: hello there"
    assert ids == ["router-random-0.5", "big", "small"]


class TestBadRequests:
    @pytest.mark.parametrize(
        ("model", "needle"),
        [
            ("gpt-3", "unknown model 'gpt-3': ask for 'router-<router>-<threshold>' (routers: random)"),
            ("router-random", "invalid model name"),
            ("router-nope-0.5", "unknown router 'nope'"),
            ("router-random-1.5", "outside [0, 1]"),
            ("router-random--0.1", "unknown router"),
            ("router-random-abc", "not a number"),
        ],
    )
    def test_model_names(self, client, model, needle):
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model=model, messages=MESSAGES)
        assert needle in info.value.body["message"]
        assert info.value.body["type"] == "invalid_request_error"
        assert info.value.body["param"] == "model"

    def test_missing_messages(self, url):
        r = httpx.post(f"{url}/chat/completions", json={"model": "router-random-0.5"})
        assert r.status_code == 400
        assert r.json()["error"] == {
            "message": "missing required parameter 'messages'",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }

    @pytest.mark.parametrize(
        "body", [b"{not json", b"[1, 2]", b'{"model": "router-random-0.5", "messages": []}']
    )
    def test_malformed_bodies(self, url, body):
        r = httpx.post(f"{url}/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["error"]["type"] == "invalid_request_error"

    def test_router_names_with_underscores(self, upstream):
        # A router registered under a name with underscores parses (the last dash splits the threshold).
        from routellm.model_names import parse_model_name

        assert parse_model_name("router-causal_llm-0.3").router == "causal_llm"

    def test_unknown_path_is_openai_shaped_404(self, url):
        r = httpx.get(f"{url}/nope")
        assert r.status_code == 404 and "error" in r.json()


class TestOtherEndpoints:
    def test_models_lists_router_and_upstream_models(self, client):
        ids = [m.id for m in client.models.list()]
        assert ids == ["router-random-0.5", STRONG, WEAK]

    def test_health(self, url):
        r = httpx.get(url.removesuffix("/v1") + "/health")
        assert r.json() == {"status": "ok", "routers": ["random"], "models": [STRONG, WEAK], "warming_up": []}

    def test_metrics(self, client, url):
        client.chat.completions.create(model="router-random-0", messages=MESSAGES)
        text = metrics_text(url)
        assert f'routellm_requests_total{{model="{STRONG}",router="random",status="200"}}' in text
        assert 'routellm_routing_seconds_count{router="random"}' in text
        assert f'routellm_upstream_seconds_bucket{{le="+Inf",model="{STRONG}"}}' in text
        assert f'routellm_tokens_total{{model="{STRONG}",type="prompt"}}' in text
        assert "# TYPE routellm_upstream_errors_total counter" in text


class TestResilience:
    def test_retries_5xx_then_succeeds(self, client, upstream, url):
        upstream.fail(500, times=2)
        reply = client.chat.completions.create(model="router-random-0", messages=MESSAGES)
        assert reply.choices[0].message.content == "echo: hello there"
        assert len(upstream.requests) == 3
        assert f'routellm_upstream_errors_total{{kind="status_500",model="{STRONG}"}}' in metrics_text(url)

    def test_retries_429_honouring_retry_after(self, client, upstream):
        upstream.fail(429, retry_after=0.2)
        start = time.perf_counter()
        client.chat.completions.create(model="router-random-0", messages=MESSAGES)
        assert time.perf_counter() - start >= 0.2
        assert len(upstream.requests) == 2

    def test_exhausted_retries_pass_the_last_answer_back(self, client, upstream):
        upstream.fail(503, times=3, body={"error": {"message": "overloaded", "type": "server_error"}})
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="router-random-0", messages=MESSAGES)
        assert info.value.status_code == 503
        assert info.value.body["message"] == "overloaded"
        assert len(upstream.requests) == 3

    def test_upstream_4xx_is_passed_back_without_retry(self, client, upstream):
        upstream.fail(422, body={"error": {"message": "bad tool schema", "type": "invalid_request_error"}})
        with pytest.raises(openai.UnprocessableEntityError) as info:
            client.chat.completions.create(model="router-random-0", messages=MESSAGES)
        assert info.value.body["message"] == "bad tool schema"
        assert len(upstream.requests) == 1

    def test_stream_request_refused_upstream_is_passed_back(self, client, upstream):
        upstream.fail(400, body={"error": {"message": "context too long", "type": "invalid_request_error"}})
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="router-random-0", messages=MESSAGES, stream=True)
        assert info.value.body["message"] == "context too long"

    def test_stream_retries_before_first_byte(self, client, upstream):
        upstream.fail(500)
        stream = client.chat.completions.create(model="router-random-0", messages=MESSAGES, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "echo: hello there"
        assert len(upstream.requests) == 2

    def test_slow_upstream_times_out_with_504(self, client, upstream, url):
        upstream.delay = 3.0
        start = time.perf_counter()
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="router-random-0", messages=MESSAGES)
        assert info.value.status_code == 504
        assert info.value.body["code"] == "upstream_timeout"
        assert info.value.body["message"] == f"upstream for model '{STRONG}' failed: read_timeout"
        assert time.perf_counter() - start < 2.5  # the 1 s read timeout, not the 3 s upstream
        assert len(upstream.requests) == 1  # a read timeout is not retried
        assert f'routellm_upstream_errors_total{{kind="read_timeout",model="{STRONG}"}}' in metrics_text(url)

    def test_connection_dropped_mid_stream_ends_with_an_error(self, client, upstream, url):
        upstream.drop_after = 2
        stream = client.chat.completions.create(model="router-random-0", messages=MESSAGES, stream=True)
        received = []
        with pytest.raises(openai.APIError, match="broke"):
            for chunk in stream:
                received.append(chunk)
        assert len(received) == 2
        assert (
            f'routellm_upstream_errors_total{{kind="stream_disconnected",model="{STRONG}"}} 1.0'
            in metrics_text(url)
        )

    def test_client_disconnect_closes_the_upstream_stream(self, url, upstream):
        upstream.chunk_delay = 0.2
        with (
            httpx.Client(timeout=5) as raw,
            raw.stream(
                "POST",
                f"{url}/chat/completions",
                json={"model": "router-random-0", "messages": MESSAGES, "stream": True},
            ) as response,
        ):
            assert response.status_code == 200
            next(response.iter_raw())
        # The client is gone: the server must close its upstream stream, not read it to the end.
        deadline = time.monotonic() + 3
        while upstream.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upstream.disconnects == 1
        assert upstream.completed_streams == 0

    def test_slow_scoring_does_not_stall_other_requests(self, upstream):
        """A blocking router runs in a worker thread: a fast request completes during a slow scoring."""
        from routellm_router_random import RandomRouter

        class SlowRouter(RandomRouter):
            inline = False

            def calculate_strong_win_rate(self, prompt: str) -> float:
                if "slow" in prompt:
                    time.sleep(2.0)
                return super().calculate_strong_win_rate(prompt)

        from pytest_routellm import serve_in_thread
        from routellm.engine import RoutingEngine
        from routellm.routing import ModelPair
        from routellm.server.app import create_app
        from routellm.server.settings import resolve_settings

        settings = resolve_settings({"strong": {"name": STRONG, "base_url": upstream.base_url}, "weak": WEAK})
        engine = RoutingEngine({"slow": SlowRouter()}, ModelPair(STRONG, WEAK))

        async def race(base: str) -> tuple[float, float]:
            async with httpx.AsyncClient(base_url=base, timeout=10) as c:

                async def call(text: str) -> float:
                    body = {"model": "router-slow-0.5", "messages": [{"role": "user", "content": text}]}
                    r = await c.post("/v1/chat/completions", json=body)
                    assert r.status_code == 200
                    return time.perf_counter()

                slow = asyncio.create_task(call("slow please"))
                await asyncio.sleep(0.1)
                fast_done = await call("fast")
                return fast_done, await slow

        with serve_in_thread(create_app(settings, engine)) as base:
            fast_done, slow_done = asyncio.run(race(base))
        assert fast_done < slow_done - 1.0


class TestFallback:
    def test_fallback_to_the_other_model(self, upstream):
        with (
            routing_server(upstream.base_url, server={"fallback": True, "retries": 1}) as (url, _),
            openai.OpenAI(base_url=url, api_key="x", max_retries=0) as c,
        ):
            upstream.fail(500, times=5, model=STRONG)
            reply = c.chat.completions.with_raw_response.create(model="router-random-0", messages=MESSAGES)
            assert reply.parse().model == WEAK
            assert reply.headers["x-routellm-fallback-from"] == STRONG
            assert [r["model"] for r in upstream.requests] == [STRONG, STRONG, WEAK]
            assert f'routellm_fallbacks_total{{from_model="{STRONG}",reason="status",to_model="{WEAK}"}} 1.0' in metrics_text(
                url
            )

    def test_unreachable_upstream_is_a_502_not_a_hang(self, caplog):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
        caplog.set_level(logging.DEBUG)
        with (
            routing_server(dead, server={"retries": 1}) as (url, _),
            openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=10) as c,
        ):
            with pytest.raises(openai.APIStatusError) as info:
                c.chat.completions.create(model="router-random-0", messages=MESSAGES)
            assert info.value.status_code == 502
            assert info.value.response.headers["x-routellm-model"] == STRONG
            assert info.value.response.headers["x-routellm-router"] == "random"
            assert info.value.body["message"] == f"upstream for model '{STRONG}' failed: connect_failed"
            text = metrics_text(url)
        # The upstream key shows nowhere: not in the error, the metrics or the logs.
        assert UPSTREAM_KEY not in str(info.value.body) and UPSTREAM_KEY not in text
        assert UPSTREAM_KEY not in caplog.text


class TestSecurity:
    @pytest.fixture(scope="class")
    @staticmethod
    def secured(upstream):
        with routing_server(
            upstream.base_url, server={"api_keys": ["sk-client-1"], "max_body_bytes": 2048}
        ) as (
            url,
            app,
        ):
            yield url, app

    def test_api_key_required(self, secured):
        url, _ = secured
        with openai.OpenAI(base_url=url, api_key="wrong", max_retries=0) as c:
            with pytest.raises(openai.AuthenticationError) as info:
                c.chat.completions.create(model="router-random-0.5", messages=MESSAGES)
            assert info.value.body["type"] == "authentication_error"
            with pytest.raises(openai.AuthenticationError):
                c.models.list()
        assert httpx.post(f"{url}/chat/completions", json={}).status_code == 401
        with openai.OpenAI(base_url=url, api_key="sk-client-1", max_retries=0) as c:
            assert c.chat.completions.create(model="router-random-0.5", messages=MESSAGES).choices
        assert httpx.get(url.removesuffix("/v1") + "/health").status_code == 200

    def test_body_limit_is_413(self, secured):
        url, _ = secured
        big = [{"role": "user", "content": "x" * 4096}]
        r = httpx.post(
            f"{url}/chat/completions",
            json={"model": "router-random-0.5", "messages": big},
            headers={"authorization": "Bearer sk-client-1"},
        )
        assert r.status_code == 413
        assert r.json()["error"]["message"] == "request body too large (server.max_body_bytes)"

    def test_keys_hidden_from_repr(self, secured):
        _, app = secured
        settings = app.state.routellm.settings
        assert UPSTREAM_KEY not in repr(settings)
        assert "sk-client-1" not in repr(settings)
