"""The Router base class every router plugin subclasses."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast

import msgspec

from routellm.routing import ModelPair, check_threshold, choose_model
from routellm.structs import EmptyConfig, config_from_generic, convert_section

#: The type of a component's options (its ``Config`` struct).
ConfigT = TypeVar("ConfigT", bound=msgspec.Struct)

if TYPE_CHECKING:
    import numpy as np


class Router(abc.ABC, Generic[ConfigT]):
    """Scores a prompt with the strong model's win rate (0..1).

    Subclasses implement :meth:`calculate_strong_win_rate` (RouteLLM's one method) and, when they
    can vectorise, override :meth:`batch_calculate_win_rate`. Options come from the router's
    config section, validated into the nested ``Config`` struct (declare it with
    ``forbid_unknown_fields=True`` so a misspelt key is an error).
    """

    Config: ClassVar[type[msgspec.Struct]] = EmptyConfig
    #: The validated options (an instance of :attr:`Config`).
    config: ConfigT
    #: Set by the registry to the name users type; informational.
    name: ClassVar[str] = ""
    #: True when scoring is cheap and never blocks (no model, no I/O): the server then scores on its
    #: event loop instead of paying a hop to a worker thread. Leave False for torch or network routers.
    inline: ClassVar[bool] = False
    #: True when win rates are random draws (a ``seed`` option makes them reproducible): ``routellm eval``
    #: then averages several seeded runs instead of reporting one.
    stochastic: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        config_from_generic(cls)

    def __init__(self, config: ConfigT | None = None) -> None:
        self.config = config if config is not None else cast(ConfigT, self.Config())

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None = None, *, name: str | None = None) -> Self:
        """Build the router from its config section (a mapping of keyword arguments)."""
        where = f"router '{name or cls.name or cls.__name__}'"
        return cls(cast(ConfigT, convert_section(section, cls.Config, where=where)))

    @abc.abstractmethod
    def calculate_strong_win_rate(self, prompt: str) -> float:
        """Return the probability (0..1) that the strong model's answer beats the weak one's."""

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        """Win rates for many prompts as a float64 array; learned routers override this."""
        import numpy as np  # kept out of import time: `routellm route` with a light router stays fast

        return np.fromiter(
            (self.calculate_strong_win_rate(p) for p in prompts), dtype=np.float64, count=len(prompts)
        )

    def batch_model_scores(self, prompts: Sequence[str], models: Sequence[str]) -> np.ndarray:
        """Predicted quality of each of ``models`` for each prompt: shape ``(len(prompts), len(models))``.

        Scores are logits: ``sigmoid(s[i, j])`` is model ``j``'s predicted quality on prompt ``i`` and
        ``sigmoid(s[i, j] - s[i, k])`` the predicted probability that ``j``'s answer beats ``k``'s
        (routing among N models, see :mod:`routellm.multi_model`). Routers that know many models
        (``mf``, ``sw_ranking``) override this. The default is the documented fallback for two-model
        routers, a cost-ordered ladder on the strong win rate ``w``: ``models`` must come cheapest
        first (the routing engine passes them so) and model ``k`` of ``N`` gets predicted quality
        ``w * k / (N - 1)``, so a higher win rate moves a request up the price ladder.
        """
        from routellm.multi_model import ladder_scores

        return ladder_scores(self.batch_calculate_win_rate(list(prompts)), len(models))

    @classmethod
    def cache_token(cls, config: Any) -> str:
        """What identifies this router's scores beyond its config, e.g. a digest of a local checkpoint folder
        (so ``routellm eval``'s win-rate cache and the calibration file notice a retrained checkpoint at the
        same path). Must be cheap: no model loading, no network. Default: nothing."""
        return ""

    def training_prompt_hashes(self) -> frozenset[str] | None:
        """Hashes (:func:`routellm.prompt_hashes.prompt_hash`) of the prompts this router was trained on, when
        its checkpoint records them; ``routellm eval`` warns when a benchmark shares any. ``None``: unknown."""
        return None

    def route(self, prompt: str, threshold: float, models: ModelPair) -> str:
        """The model to answer ``prompt``: strong at or above ``threshold``, weak below it."""
        threshold = check_threshold(threshold)
        return choose_model(self.calculate_strong_win_rate(prompt), [threshold], models.tiers)

    def close(self) -> None:  # noqa: B027 - optional hook for subclasses
        """Release resources (threads, clients). Called when a server or controller shuts down."""
