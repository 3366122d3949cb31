"""Bradley-Terry maximum likelihood with ties, batched over many weightings of the same battles.

RouteLLM fits ``LogisticRegression`` over every battle (duplicated, a tie counted as one win for
each side) once per request. That likelihood depends on the battles only through, per pair of
players (i, j), the weighted number of battles ``total`` and the weighted score of ``i``
(win 1, tie 1/2, loss 0). :func:`fit_bradley_terry` maximises it from those sums with damped
Newton steps, for a whole batch of weightings (one per prompt) at once.

Strengths ``theta`` are in natural-log units: ``P(i beats j) = sigmoid(theta_i - theta_j)``; the
RouteLLM's Elo ratings are ``400 * theta / ln 10 + 1000``.
"""

from __future__ import annotations

import math

import numpy as np

LN10 = math.log(10.0)
#: Step sizes tried by the backtracking line search (1, 1/2, ... 1/2**15).
_STEPS = 0.5 ** np.arange(16)


def incidence(first: np.ndarray, second: np.ndarray, n_players: int) -> np.ndarray:
    """The ``(pairs, players)`` matrix with +1 at ``first`` and -1 at ``second``."""
    first = np.asarray(first, dtype=np.intp)
    second = np.asarray(second, dtype=np.intp)
    if np.any(first == second):
        raise ValueError("a pair must join two different players")
    a = np.zeros((len(first), n_players))
    rows = np.arange(len(first))
    a[rows, first] = 1.0
    a[rows, second] = -1.0
    return a


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _objective(theta: np.ndarray, a: np.ndarray, wins: np.ndarray, losses: np.ndarray, ridge: float) -> np.ndarray:
    d = theta @ a.T
    nll = -(wins * _log_sigmoid(d) + losses * _log_sigmoid(-d)).sum(axis=-1)
    return nll + 0.5 * ridge * np.square(theta).sum(axis=-1)


def fit_bradley_terry(
    wins: np.ndarray,
    totals: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    n_players: int,
    *,
    ridge: float = 1e-3,
    max_iter: int = 100,
    tol: float = 1e-10,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Maximum-likelihood strengths for a batch of weightings of the same pairs.

    ``wins`` and ``totals`` have shape ``(batch, pairs)`` (or ``(pairs,)``): the weighted score of
    player ``first[c]`` against ``second[c]`` (ties count 1/2) and the weighted number of their
    battles. Maximises ``sum_c wins*log s(d_c) + (totals-wins)*log s(-d_c) - ridge/2*|theta|^2``
    with ``d_c = theta[first[c]] - theta[second[c]]``; the small ``ridge`` fixes the otherwise free
    offset (strengths sum to zero) and keeps strengths finite when a player never loses.
    ``init`` (``(n_players,)``) starts Newton's method there instead of at zero: a solution for
    similar weights saves iterations. Returns ``theta`` with shape ``(batch, n_players)`` (or
    ``(n_players,)``).
    """
    if ridge <= 0:
        raise ValueError("ridge must be positive")
    wins = np.asarray(wins, dtype=np.float64)
    totals = np.asarray(totals, dtype=np.float64)
    single = wins.ndim == 1
    wins, totals = np.atleast_2d(wins), np.atleast_2d(totals)
    if wins.shape != totals.shape or wins.shape[1] != len(first):
        raise ValueError(f"wins {wins.shape} and totals {totals.shape} must both be (batch, {len(first)})")
    if np.any(wins < 0) or np.any(wins > totals * (1 + 1e-12) + 1e-12):
        raise ValueError("need 0 <= wins <= totals")
    losses = totals - wins
    a = incidence(first, second, n_players)
    eye = ridge * np.eye(n_players)
    theta = np.zeros((wins.shape[0], n_players))
    if init is not None:
        theta += np.asarray(init, dtype=np.float64)
    active = np.arange(wins.shape[0])
    for _ in range(max_iter):
        th, w, lo, tot = theta[active], wins[active], losses[active], totals[active]
        p = 1.0 / (1.0 + np.exp(-(th @ a.T)))
        grad = (tot * p - w) @ a + ridge * th
        curvature = tot * p * (1.0 - p)
        hessian = (a.T[None] * curvature[:, None, :]) @ a + eye
        step = np.linalg.solve(hessian, grad[..., None])[..., 0]
        # Backtracking (Armijo) on all step sizes at once; Newton's full step is taken near the optimum.
        f0 = _objective(th, a, w, lo, ridge)
        trial = th[None] - _STEPS[:, None, None] * step[None]
        f = _objective(trial, a, w[None], lo[None], ridge)
        decrease = (grad * step).sum(-1)
        # (the slack allows for rounding in f once the decrease is below its resolution)
        ok = f <= f0 - 1e-4 * _STEPS[:, None] * decrease + 1e-12 * np.abs(f0)
        pick = np.where(ok.any(0), ok.argmax(0), f.argmin(0))
        theta[active] = trial[pick, np.arange(len(active))]
        moved = np.abs(_STEPS[pick, None] * step).max(-1)
        active = active[moved > tol]
        if active.size == 0:
            break
    return theta[0] if single else theta


def win_probability(theta: np.ndarray, player: int, opponent: int) -> np.ndarray:
    """``P(player beats opponent)`` from fitted strengths (last axis = players)."""
    d = theta[..., player] - theta[..., opponent]
    return 1.0 / (1.0 + np.exp(-d))


def elo_ratings(theta: np.ndarray, scale: float = 400.0, init: float = 1000.0) -> np.ndarray:
    """Strengths on RouteLLM's Elo scale (``SCALE=400, BASE=10, INIT_RATING=1000``)."""
    return scale * np.asarray(theta) / LN10 + init
