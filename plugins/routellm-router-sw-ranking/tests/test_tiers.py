import numpy as np
import pytest

from routellm_router_sw_ranking.tiers import compute_tiers


def seed_compute_tiers(ratings: dict[str, float], num_tiers: int) -> dict[str, int]:
    """RouteLLM's dynamic programme, loop for loop (ratings sorted best first)."""
    names = sorted(ratings, key=lambda m: -ratings[m])
    values = [ratings[m] for m in names]
    n, m = len(values), num_tiers
    dp = np.zeros((n, n, m))
    dp_split = np.zeros((n, n, m))
    for i in range(n):
        for j in range(i + 1, n):
            dp[i][j][0] = np.var(values[i : j + 1])
    for tier in range(1, m):
        for i in range(n):
            for j in range(i + 1, n):
                dp[i][j][tier] = 1e9
                for cut in range(i, j):
                    if dp[i][j][tier] > dp[i][cut][tier - 1] + dp[cut + 1][j][0]:
                        dp_split[i][j][tier] = cut
                        dp[i][j][tier] = dp[i][cut][tier - 1] + dp[cut + 1][j][0]
    cur_n, split_idx = n, []
    for tier in range(m - 1, 0, -1):
        split = int(dp_split[0][cur_n - 1][tier])
        split_idx.append(split)
        cur_n = split + 1
    split_idx = split_idx[::-1] + [n - 1]
    out, cur = {}, 0
    for i, end in enumerate(split_idx):
        for j in range(cur, end + 1):
            out[names[j]] = i
        cur = end + 1
    return out


def groups(tiers: dict[str, int]) -> list[set[str]]:
    return [{m for m, t in tiers.items() if t == label} for label in sorted(set(tiers.values()))]


@pytest.mark.parametrize("seed", range(12))
def test_same_grouping_as_the_seed(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(3, 22)), int(rng.integers(2, 11))
    ratings = {f"m{i}": float(v) for i, v in enumerate(rng.normal(1000, 150, n))}
    assert groups(compute_tiers(ratings, k)) == groups(seed_compute_tiers(ratings, k))


def test_tiers_are_contiguous_and_best_first():
    ratings = {"a": 1300.0, "b": 1290.0, "c": 1000.0, "d": 990.0, "e": 700.0}
    assert compute_tiers(ratings, 3) == {"a": 0, "b": 0, "c": 1, "d": 1, "e": 2}


def test_fewer_models_than_tiers():
    assert compute_tiers({"a": 2.0, "b": 1.0}, 10) == {"a": 0, "b": 1}
