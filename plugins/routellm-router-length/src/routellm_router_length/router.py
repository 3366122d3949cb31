"""The length router: a logistic of the log prompt length."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

import msgspec
import numpy as np

from routellm.errors import ConfigError
from routellm.router import Router

_WORD = re.compile(r"\S+")


class LengthRouter(Router):
    """Strong win rate ``1 / (1 + (midpoint / length) ** slope)``, i.e. a logistic of ``log(length)``.

    ``length`` is the prompt's characters (Unicode code points) or whitespace-separated words. The
    map is strictly increasing in length, deterministic and needs no model, so it is cheap, batched,
    and the same for a prompt whatever batch it comes in. Only the order of win rates matters for
    evaluation and ``p<percent>`` thresholds; ``midpoint`` and ``slope`` only place raw thresholds.
    """

    class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
        #: What to count: ``characters`` or ``words``.
        unit: Literal["characters", "words"] = "characters"
        #: The length (in ``unit``) whose win rate is 0.5.
        midpoint: float = 256.0
        #: Steepness: the win rate's logit grows by ``slope`` per unit of natural-log length.
        slope: float = 1.0

    #: Counting characters costs microseconds: score on the server's event loop.
    inline = True

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if not (cfg.midpoint > 0 and math.isfinite(cfg.midpoint)):
            raise ConfigError(f"router 'length': midpoint must be a positive number, got {cfg.midpoint}")
        if not (cfg.slope > 0 and math.isfinite(cfg.slope)):
            raise ConfigError(f"router 'length': slope must be a positive number, got {cfg.slope}")
        self._log_mid = math.log(cfg.midpoint)

    def length(self, prompt: str) -> int:
        """The prompt's length in the configured unit."""
        if self.config.unit == "words":
            return sum(1 for _ in _WORD.finditer(prompt))
        return len(prompt)

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        lengths = np.fromiter((self.length(p) for p in prompts), dtype=np.float64, count=len(prompts))
        # logistic(slope * (log(len) - log(mid))); log1p-free form keeps an empty prompt at exactly 0.
        with np.errstate(divide="ignore"):
            z = self.config.slope * (np.log(lengths) - self._log_mid)
        return 1.0 / (1.0 + np.exp(-z))
