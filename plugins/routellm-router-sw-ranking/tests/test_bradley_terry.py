import numpy as np
import pytest

from routellm_router_sw_ranking.bradley_terry import fit_bradley_terry, win_probability
from routellm_router_sw_ranking.ranking_data import SCORES, pair_sums
from routellm_router_sw_ranking.router import similarity_weights


def random_battles(rng, n_battles=300, n_players=5, n_prompts=12, dim=8, tie_rate=0.15):
    """Battles with a real order among players, ties included, spread over a few prompts."""
    strength = np.linspace(1.5, -1.5, n_players)
    a = rng.integers(0, n_players, n_battles)
    b = rng.integers(0, n_players, n_battles)
    p_a = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(n_battles)
    winner = np.where(u < tie_rate, "tie", np.where(rng.random(n_battles) < p_a, "model_a", "model_b"))
    prompt = rng.integers(0, n_prompts, n_battles)
    prompt_vectors = rng.normal(size=(n_prompts, dim))
    return a, b, winner, prompt, prompt_vectors


def fast_win_rates(queries, prompt_vectors, a, b, winner, prompt, n_players, strong, weak, ridge):
    """The router's path: per-prompt pair sums, similarity weights, batched fit."""
    score = np.array([SCORES[w] for w in winner])
    first, second, counts, scores = pair_sums(a, b, score, prompt, len(prompt_vectors))
    keys = prompt_vectors / np.linalg.norm(prompt_vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    weights = similarity_weights(q @ keys.T)
    theta = fit_bradley_terry(weights @ scores, weights @ counts, first, second, n_players, ridge=ridge)
    return win_probability(theta, strong, weak)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_original_style_reference_with_ties(seed, reference):
    rng = np.random.default_rng(seed)
    a, b, winner, prompt, vectors = random_battles(rng)
    assert (winner == "tie").sum() > 10
    queries = rng.normal(size=(4, vectors.shape[1]))
    fast = fast_win_rates(queries, vectors, a, b, winner, prompt, 5, 0, 3, 1e-3)
    battle_vectors = vectors[prompt]
    for q, value in zip(queries, fast, strict=True):
        expected = reference(q, battle_vectors, a, b, winner, 0, 3, 1e-3)
        assert abs(value - expected) < 1e-6
    # The weighting matters: different prompts get different win rates.
    assert np.ptp(fast) > 1e-4


def test_ties_count_half_two_players():
    # One pair: the maximum-likelihood win probability is the (weighted) score fraction.
    wins = np.array([[7.5], [3.0], [0.5]])
    totals = np.array([[10.0], [12.0], [1.0]])
    theta = fit_bradley_terry(wins, totals, np.array([0]), np.array([1]), 2, ridge=1e-9)
    np.testing.assert_allclose(win_probability(theta, 0, 1), (wins / totals)[:, 0], atol=1e-6)


def test_transitive_strength_through_a_third_player():
    # 0 beats 1 3:1 and 1 beats 2 3:1, and 0 and 2 never meet: BT gives odds 9:1 for 0 over 2.
    theta = fit_bradley_terry(np.array([75.0, 75.0]), np.array([100.0, 100.0]), np.array([0, 1]), np.array([1, 2]), 3, ridge=1e-9)
    assert win_probability(theta, 0, 2) == pytest.approx(0.9, abs=1e-6)


def test_batched_equals_one_by_one():
    rng = np.random.default_rng(5)
    first, second = np.array([0, 0, 1, 2]), np.array([1, 2, 2, 3])
    totals = rng.uniform(5, 50, size=(30, 4))
    wins = totals * rng.uniform(0.05, 0.95, size=(30, 4))
    batched = fit_bradley_terry(wins, totals, first, second, 4)
    single = np.stack([fit_bradley_terry(w, t, first, second, 4) for w, t in zip(wins, totals, strict=True)])
    np.testing.assert_allclose(batched, single, atol=1e-9)


def test_a_player_that_never_loses_stays_finite():
    theta = fit_bradley_terry(np.array([20.0, 5.0]), np.array([20.0, 10.0]), np.array([0, 1]), np.array([1, 2]), 3)
    assert np.isfinite(theta).all()
    assert win_probability(theta, 0, 1) > 0.999


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="wins <= totals"):
        fit_bradley_terry(np.array([3.0]), np.array([2.0]), np.array([0]), np.array([1]), 2)
    with pytest.raises(ValueError, match="different players"):
        fit_bradley_terry(np.array([1.0]), np.array([2.0]), np.array([1]), np.array([1]), 2)


def test_similarity_weights_follow_the_seed():
    sims = np.array([[0.2, 0.5, -0.1], [-0.3, -0.2, -0.4]])
    w = similarity_weights(sims)
    np.testing.assert_allclose(w[0], 10 * 10 ** (sims[0] / 0.5))
    np.testing.assert_allclose(w[1], 10.0)  # nothing similar: equal weights


def test_pair_sums_orient_pairs_and_drop_same_player():
    a = np.array([2, 0, 1, 1])
    b = np.array([0, 2, 1, 0])
    s = np.array([1.0, 0.5, 1.0, 0.0])  # 2 beats 0; 0-2 tie; 1 vs 1 (dropped); 0 beats 1
    first, second, totals, wins = pair_sums(a, b, s, np.array([0, 0, 0, 1]), 2)
    assert list(zip(first, second, strict=True)) == [(0, 1), (0, 2)]
    np.testing.assert_allclose(totals, [[0, 2], [1, 0]])
    np.testing.assert_allclose(wins, [[0, 0.5], [1, 0]])


def test_converges_to_a_stationary_point_with_large_weights():
    # Arena-sized weighted counts: the objective is ~1e5, so its rounding must not stop Newton early.
    rng = np.random.default_rng(3)
    first, second = np.array([0, 1, 1, 1, 1, 2]), np.array([1, 2, 3, 4, 5, 5])
    totals = rng.uniform(5e3, 1e5, size=(20, 6))
    wins = totals * rng.uniform(0.55, 0.98, size=(20, 6))
    theta = fit_bradley_terry(wins, totals, first, second, 6, ridge=1e-3)
    a = np.zeros((6, 6))
    a[np.arange(6), first], a[np.arange(6), second] = 1.0, -1.0
    p = 1 / (1 + np.exp(-(theta @ a.T)))
    grad = (totals * p - wins) @ a + 1e-3 * theta
    assert np.abs(grad).max() < 1e-6
