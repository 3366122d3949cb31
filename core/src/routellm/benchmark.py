"""The Benchmark base class: data for evaluating routers, supplied by benchmark plugins."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast

import msgspec

from routellm.structs import EmptyConfig, config_from_generic, convert_section

#: The type of a component's options (its ``Config`` struct).
ConfigT = TypeVar("ConfigT", bound=msgspec.Struct)

if TYPE_CHECKING:
    import numpy as np
    import polars as pl


@dataclass(frozen=True)
class BenchmarkData:
    """What a benchmark supplies: the prompts to route and, per model, per-prompt quality.

    ``quality[model][i]`` is the quality of ``model``'s answer to ``prompts[i]``: correctness 0/1,
    or a judge score. ``strong_model`` and ``weak_model`` name the two keys of ``quality`` that a
    router chooses between. ``ids`` identify prompts (for caches and reports); ``notes`` carry
    human-readable facts such as how many contaminated prompts were dropped.
    """

    name: str
    prompts: list[str]
    quality: Mapping[str, np.ndarray]
    strong_model: str
    weak_model: str
    ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Optional: per model, the USD each prompt's answer cost (for N-model quality-vs-cost reports).
    cost: Mapping[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        import numpy as np

        n = len(self.prompts)
        for model in (self.strong_model, self.weak_model):
            if model not in self.quality:
                raise ValueError(f"benchmark '{self.name}': no quality scores for model '{model}'")
        for model, scores in self.quality.items():
            if np.shape(scores) != (n,):
                raise ValueError(
                    f"benchmark '{self.name}': model '{model}' has {np.shape(scores)} scores for {n} prompts"
                )
        for model, costs in (self.cost or {}).items():
            if model not in self.quality or np.shape(costs) != (n,):
                raise ValueError(f"benchmark '{self.name}': cost for '{model}' needs quality scores and {n} values")
        if self.ids and len(self.ids) != n:
            raise ValueError(f"benchmark '{self.name}': {len(self.ids)} ids for {n} prompts")

    def __len__(self) -> int:
        return len(self.prompts)


def listed_as_contaminated(path: Path, *columns: str) -> pl.Expr:
    """Polars filter for rows where any of ``columns`` is a prompt of RouteLLM's contamination list ``path``
    (JSON lines with an ``eval_prompt`` field)."""
    import polars as pl

    listed = pl.read_ndjson(path)["eval_prompt"].implode()
    return pl.any_horizontal(pl.col(column).is_in(listed) for column in columns)


def decontamination_note(benchmark: str, kept: int, total: int, unit: str) -> str:
    """The note a benchmark adds after dropping contaminated items, e.g. ``GSM8K: 1307/1319 questions remain ...``."""
    return f"{benchmark}: {kept}/{total} {unit} remain after decontamination"


class Benchmark(abc.ABC, Generic[ConfigT]):
    """A benchmark plugin's class: options in ``Config``, data from :meth:`load`."""

    Config: ClassVar[type[msgspec.Struct]] = EmptyConfig
    #: The validated options (an instance of :attr:`Config`).
    config: ConfigT
    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        config_from_generic(cls)

    def __init__(self, config: ConfigT | None = None) -> None:
        self.config = config if config is not None else cast(ConfigT, self.Config())

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None = None, *, name: str | None = None) -> Self:
        """Build the benchmark from its config section."""
        where = f"benchmark '{name or cls.name or cls.__name__}'"
        return cls(cast(ConfigT, convert_section(section, cls.Config, where=where)))

    @abc.abstractmethod
    def load(self) -> BenchmarkData:
        """Load (and cache) the benchmark's prompts and per-model quality."""
