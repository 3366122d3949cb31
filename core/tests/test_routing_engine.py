"""Model-name parsing, the routing input and the routing engine (inline vs worker thread)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from routellm.engine import RequestError, RoutingEngine, routing_prompt
from routellm.model_names import ModelNameError, RouterModel, format_model_name, parse_model_name
from routellm.router import Router
from routellm.routing import ModelPair

MODELS = ModelPair(strong="big", weak="small")


class TestModelNames:
    @pytest.mark.parametrize(
        ("name", "router", "threshold"),
        [
            ("router-mf-0.11593", "mf", 0.11593),
            ("router-causal_llm-0.5", "causal_llm", 0.5),
            ("router-sw_ranking-1", "sw_ranking", 1.0),
            ("router-random-0", "random", 0.0),
            ("router-my-router-0.25", "my-router", 0.25),
        ],
    )
    def test_valid(self, name, router, threshold):
        assert parse_model_name(name) == RouterModel(router, threshold)

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("gpt-4", "expected 'router-<router>-<threshold>'"),
            ("router-mf", "expected 'router-<router>-<threshold>'"),
            ("router--0.5", "expected"),
            ("router-mf-", "expected"),
            ("router-mf-high", "'high' is not a number"),
            ("router-mf-1.01", "outside [0, 1]"),
            ("router-mf-nan", "outside [0, 1]"),
        ],
    )
    def test_invalid(self, name, message):
        with pytest.raises(ModelNameError, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse_model_name(name)

    @pytest.mark.parametrize("threshold", [0.325, 0.11593456789, 1e-05, 0.0, 1.0, 1 / 3])
    def test_round_trip(self, threshold):
        name = format_model_name("bert", threshold)
        assert "e" not in name.removeprefix("router-bert-")
        assert parse_model_name(name) == RouterModel("bert", threshold)


class TestRoutingPrompt:
    MESSAGES = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "second"}, {"type": "image_url", "image_url": {}}],
        },
        {"role": "assistant", "content": None, "tool_calls": []},
    ]

    def test_last_user_message_by_default(self):
        assert routing_prompt(self.MESSAGES) == "second"

    def test_whole_conversation(self):
        text = routing_prompt(self.MESSAGES, "conversation")
        assert text.startswith("system: You are terse.\n\nuser: first question\n\nassistant: an answer")
        assert "user: second" in text

    def test_no_user_message_uses_the_last_one(self):
        assert routing_prompt([{"role": "system", "content": "only"}]) == "only"

    @pytest.mark.parametrize("messages", [[], None, "hi", [{"content": "no role"}]])
    def test_bad_messages(self, messages):
        with pytest.raises(RequestError) as info:
            routing_prompt(messages)
        assert info.value.param == "messages"


class Fixed(Router):
    """Scores every prompt with its length / 100, remembering the thread it ran on."""

    inline = False

    def __init__(self):
        super().__init__()
        self.threads: list[str] = []

    def calculate_strong_win_rate(self, prompt: str) -> float:
        self.threads.append(threading.current_thread().name)
        return min(1.0, len(prompt) / 100)


class InlineFixed(Fixed):
    inline = True


class TestEngine:
    def test_decide(self):
        engine = RoutingEngine({"fixed": Fixed()}, MODELS)
        messages = [{"role": "user", "content": "x" * 30}]
        assert engine.decide("router-fixed-0.3", messages).model == "big"
        decision = engine.decide("router-fixed-0.31", messages)
        assert (decision.model, decision.router, decision.threshold, decision.win_rate) == (
            "small",
            "fixed",
            0.31,
            0.3,
        )
        assert engine.decide("small", messages).router is None
        with pytest.raises(RequestError, match="unknown router 'mf'"):
            engine.decide("router-mf-0.5", messages)
        with pytest.raises(RequestError, match="non-empty string"):
            engine.decide(None, messages)

    def test_blocking_routers_score_in_a_worker_thread(self):
        slow, fast = Fixed(), InlineFixed()
        engine = RoutingEngine({"slow": slow, "fast": fast}, MODELS)
        messages = [{"role": "user", "content": "hi"}]

        async def main():
            await engine.adecide("router-slow-0.5", messages)
            await engine.adecide("router-fast-0.5", messages)

        asyncio.run(main())
        engine.close()
        assert slow.threads[0].startswith("routellm-router")
        assert fast.threads == [threading.main_thread().name]

    def test_a_slow_router_does_not_block_the_loop(self):
        class Sleepy(Fixed):
            def calculate_strong_win_rate(self, prompt: str) -> float:
                time.sleep(0.5)
                return 0.5

        engine = RoutingEngine({"sleepy": Sleepy()}, MODELS)

        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            await engine.adecide("router-sleepy-0.5", [{"role": "user", "content": "x"}])
            task.cancel()
            return ticks

        assert asyncio.run(main()) >= 10  # a blocked loop would tick at most once
        engine.close()

    def test_random_router_is_inline(self):
        from routellm.registry import get_registry

        assert get_registry().router("random").load().inline is True
        assert Router.inline is False


class TestCalibratedNames:
    """``router-<r>-p<percent>`` resolves through the calibration file, in the engine (server and SDK)."""

    @pytest.fixture
    def config(self, tmp_path):
        import numpy as np

        from routellm.calibration import (
            CalibrationFile,
            calibrate_router,
            fingerprint_sha256,
            save_calibration,
        )
        from routellm.config import parse_config
        from routellm.evaluation.scoring import router_fingerprint
        from routellm.registry import get_registry

        router = get_registry().create_router("random", {"seed": 5})
        prompts = [f"calibration prompt {i}" for i in range(2000)]
        rates = router.batch_calculate_win_rate(prompts)
        sha = fingerprint_sha256(router_fingerprint(router, "random"))
        entry = calibrate_router(rates, [0.2], config_sha256=sha, config="{}")
        save_calibration(CalibrationFile(dataset="test", routers={"random": entry}), tmp_path / "cal.json")
        self.expected = float(np.quantile(rates, 0.8))
        return parse_config(
            {"routers": {"random": {"seed": 5}}, "calibration": {"file": "cal.json"}}, tmp_path / "c.yaml"
        )

    def test_percent_name_uses_calibrated_threshold(self, config):
        engine = RoutingEngine.from_config(["random"], config, MODELS)
        decision = engine.decide("router-random-p20", [{"role": "user", "content": "hello"}])
        assert decision.threshold == pytest.approx(self.expected)
        assert decision.model == ("big" if decision.win_rate >= self.expected else "small")
        prompts = [f"new prompt {i}" for i in range(1000)]
        strong = sum(engine.decide("router-random-p20", [{"role": "user", "content": p}]).model == "big" for p in prompts)
        assert 0.15 < strong / len(prompts) < 0.25

    def test_percent_name_without_calibration_says_how_to_get_one(self):
        from routellm.config import parse_config

        engine = RoutingEngine.from_config(["random"], parse_config({"routers": {"random": {}}}), MODELS)
        engine.calibration = None
        with pytest.raises(RequestError, match="routellm calibrate --routers random"):
            engine.decide("router-random-p20", [{"role": "user", "content": "hi"}])

    def test_uncalibrated_router_is_named(self, config):
        engine = RoutingEngine.from_config(["random"], config, MODELS)
        engine.calibration.routers.clear()
        with pytest.raises(RequestError, match="router 'random' is not calibrated"):
            engine.parse("router-random-p30")

    def test_configured_file_must_exist(self, tmp_path):
        from routellm.config import parse_config
        from routellm.errors import ConfigError

        config = parse_config({"routers": {"random": {}}, "calibration": {"file": "missing.json"}}, tmp_path / "c.yaml")
        with pytest.raises(ConfigError, match="calibration file not found"):
            RoutingEngine.from_config(["random"], config, MODELS)

    @pytest.mark.parametrize(("name", "share"), [("router-mf-p20", 0.2), ("router-sw_ranking-p12.5", 0.125)])
    def test_parse(self, name, share):
        parsed = parse_model_name(name)
        assert parsed.strong_share == pytest.approx(share) and parsed.threshold is None
        assert parsed.name == name
