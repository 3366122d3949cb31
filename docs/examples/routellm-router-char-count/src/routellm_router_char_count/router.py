"""The char_count router."""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from routellm.router import Router


class CharCountConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Characters at which the win rate reaches 1 - 1/e (about 0.63).
    scale: float = 400.0


class CharCountRouter(Router[CharCountConfig]):
    """Strong win rate = 1 - exp(-characters / scale)."""

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return 1.0 - math.exp(-len(prompt) / self.config.scale)

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        lengths = np.fromiter((len(p) for p in prompts), dtype=np.float64, count=len(prompts))
        return 1.0 - np.exp(-lengths / self.config.scale)
