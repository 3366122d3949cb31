"""The ``random`` router: the baseline every learned router must beat."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

import routellm
from routellm.records import RouterSpec
from routellm.router import Router

if TYPE_CHECKING:
    import numpy as np

_SCALE = float(2**64)


class RandomRouterConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    seed: int | None = None


class RandomRouter(Router[RandomRouterConfig]):
    """Strong win rate uniform in [0, 1).

    Without a seed every call draws fresh randomness (RouteLLM's behaviour). With ``seed`` the
    win rate is a hash of (seed, prompt): reproducible, order-independent, and the same batched or
    one by one.
    """

    Config = RandomRouterConfig

    #: A hash or a draw costs about a microsecond: score on the server's event loop.
    inline = True
    #: Win rates are random draws: `routellm eval` averages seeded runs.
    stochastic = True

    def __init__(self, config: RandomRouterConfig | None = None) -> None:
        super().__init__(config)
        self._rng = random.Random()
        self._key = None if self.config.seed is None else str(self.config.seed).encode()

    def calculate_strong_win_rate(self, prompt: str) -> float:
        if self._key is None:
            return self._rng.random()
        digest = hashlib.blake2b(prompt.encode("utf-8", "surrogatepass"), digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "little") / _SCALE

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        if self._key is None:
            import numpy as np

            return np.random.default_rng(self._rng.getrandbits(64)).random(len(prompts))
        return super().batch_calculate_win_rate(prompts)


@routellm.hookimpl
def routellm_routers():
    yield RouterSpec(name="random", router_class=RandomRouter, description="Uniform random win rate (baseline).")
