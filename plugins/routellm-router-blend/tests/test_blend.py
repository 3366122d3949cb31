import json

import numpy as np
import pytest

from pytest_routellm import RouterContract
from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_router_blend.reference import BUILTIN, EmpiricalCDF, load_reference
from routellm_router_blend.router import BlendRouter


@pytest.fixture(autouse=True, scope="module")
def _module_cache(tmp_path_factory):
    """The contract's class-scoped router is built before the per-test cache fixture: keep its reference
    win rates out of the user's cache too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROUTELLM_CACHE_DIR", str(tmp_path_factory.mktemp("blend-cache")))
        yield


PROMPTS = ["hi", "x" * 30, "a longer prompt " * 20, "short one", "y" * 900, "medium " * 10]


class TestBlendContract(RouterContract):
    router_name = "blend"
    router_config = {"members": {"length": {}, "random": {"seed": 3}}}


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "ref.json"
    path.write_text(json.dumps([f"p{'z' * i}" for i in range(0, 400, 4)]))
    return str(path)


def test_empirical_cdf_is_midrank_and_strictly_increasing_outside():
    cdf = EmpiricalCDF([0.1, 0.2, 0.2, 0.3])
    np.testing.assert_allclose(cdf(np.array([0.1, 0.2, 0.3])), [0.125, 0.5, 0.875])
    outside = cdf(np.array([-0.5, 0.0, 0.35, 0.45, 1.0]))
    assert outside[0] == 0.0 and outside[-1] == 1.0
    assert 0 < outside[1] < 0.125 and 0.875 < outside[2] < outside[3] < 1.0


def test_one_member_keeps_its_order(reference):
    blend = BlendRouter.from_config({"members": {"length": {}}, "reference": reference})
    length = get_registry().create_router("length")
    a, b = blend.batch_calculate_win_rate(PROMPTS), length.batch_calculate_win_rate(PROMPTS)
    np.testing.assert_array_equal(np.argsort(a), np.argsort(b))


def test_weights_average_the_quantiles(reference):
    members = {"length": {}, "rnd": {"router": "random", "seed": 5}}
    blend = BlendRouter.from_config({"members": members, "weights": {"length": 3, "rnd": 1}, "reference": reference})
    ref_prompts, _ = load_reference(reference)
    quantiles = []
    for name, section in (("length", {}), ("random", {"seed": 5})):
        router = get_registry().create_router(name, section)
        quantiles.append(EmpiricalCDF(router.batch_calculate_win_rate(ref_prompts))(router.batch_calculate_win_rate(PROMPTS)))
    np.testing.assert_allclose(blend.batch_calculate_win_rate(PROMPTS), 0.75 * quantiles[0] + 0.25 * quantiles[1])


def test_zero_weight_member_is_ignored(reference):
    members = {"length": {}, "random": {"seed": 1}}
    blend = BlendRouter.from_config({"members": members, "weights": {"length": 1, "random": 0}, "reference": reference})
    only = BlendRouter.from_config({"members": {"length": {}}, "reference": reference})
    np.testing.assert_allclose(blend.batch_calculate_win_rate(PROMPTS), only.batch_calculate_win_rate(PROMPTS))


def test_reference_win_rates_are_cached(reference, monkeypatch):
    BlendRouter.from_config({"members": {"length": {}}, "reference": reference})
    from routellm_router_blend import router as module

    monkeypatch.setattr(module, "score_prompts", lambda *a, **k: pytest.fail("reference scored again"))
    BlendRouter.from_config({"members": {"length": {}}, "reference": reference})


def test_builtin_reference_is_licensed_and_sourced():
    data = json.loads(BUILTIN.read_text())
    assert {s["licence"] for s in data["sources"]} == {"Apache-2.0"}
    assert sum(s["prompts"] for s in data["sources"]) == len(data["prompts"]) > 1000
    prompts, name = load_reference("builtin")
    assert prompts == data["prompts"] and name.startswith("blend-reference:")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"members": {}}, "set members"),
        ({"members": {"length": {}}, "weights": {"mf": 1}}, "not members"),
        ({"members": {"length": {}, "random": {}}, "weights": {"length": 1}}, "no weight to random"),
        ({"members": {"length": {}}, "weights": {"length": -1}}, "non-negative"),
        ({"members": {"nope": {}}}, "member 'nope'.*unknown router 'nope'"),
        ({"members": {"length": {"midpoint": -3}}}, "midpoint"),
        ({"members": {"length": {}}, "reference": "/no/such/file.json"}, "not found"),
    ],
)
def test_config_errors_say_what_to_change(section, message):
    with pytest.raises(ConfigError, match=message):
        BlendRouter.from_config(section)


def test_training_prompt_hashes_are_the_members_union(reference):
    blend = BlendRouter.from_config({"members": {"length": {}}, "reference": reference})
    assert blend.training_prompt_hashes() is None
    blend.members[0].router.training_prompt_hashes = lambda: frozenset({"abc"})
    assert blend.training_prompt_hashes() == {"abc"}


def test_blend_in_controller_calibrate_and_eval(reference, tmp_path):
    """A config section is enough: the controller (serve's engine), calibrate and eval build it by name."""
    from routellm.benchmark import BenchmarkData
    from routellm.calibrate import calibrate
    from routellm.calibration import load_calibration
    from routellm.config import parse_config
    from routellm.controller import Controller
    from routellm.evaluation.evaluate import evaluate

    section = {"members": {"length": {}, "random": {"seed": 2}}, "reference": reference}
    cfg = parse_config({"routers": {"blend": section}})
    controller = Controller(["blend"], strong_model="strong", weak_model="weak", config=cfg, api_base="http://127.0.0.1:9/v1")
    assert controller.route("y" * 2000, "blend", 0.0) == "strong"
    np.testing.assert_allclose(
        controller.batch_calculate_win_rate(PROMPTS, "blend"),
        BlendRouter.from_config(section).batch_calculate_win_rate(PROMPTS),
    )
    runs, path = calibrate(["blend"], [0.3], dataset="toy", config=cfg, output=tmp_path / "cal.json", prompts=PROMPTS * 5)
    assert runs[0].router == "blend" and "blend" in load_calibration(path).routers
    rng = np.random.default_rng(0)
    data = BenchmarkData("toy", PROMPTS * 4, {"s": rng.random(24), "w": rng.random(24)}, "s", "w")
    result = evaluate(data, {"blend": section}, bootstrap=50, progress=False)
    assert result.routers[0].name == "blend" and result.routers[0].intervals is not None


def test_calibration_reference_uses_the_members_calibrated_quantiles(tmp_path):
    from routellm.calibrate import calibrate
    from routellm.config import parse_config

    prompts = [f"q{'z' * i}" for i in range(0, 300, 3)]
    cal = tmp_path / "cal.json"
    calibrate(["length"], [0.5], dataset="mine", config=parse_config({}), output=cal, prompts=prompts)
    section = {"members": {"length": {}}, "reference": "calibration", "calibration_file": str(cal)}
    blend = BlendRouter.from_config(section)
    # The grid holds quantiles of length's win rates on those prompts: the median prompt maps to about 0.5.
    assert blend.calculate_strong_win_rate(prompts[50]) == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ConfigError, match="calibrated with another config"):
        BlendRouter.from_config({**section, "members": {"length": {"midpoint": 9}}})
    with pytest.raises(ConfigError, match="'random'.*not in the calibration file"):
        BlendRouter.from_config({**section, "members": {"random": {"seed": 1}}})
