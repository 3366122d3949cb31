"""Example benchmark plugin: prompts and per-model quality from one CSV file."""

from __future__ import annotations

import msgspec

import routellm
from routellm.benchmark import Benchmark, BenchmarkData
from routellm.errors import ConfigError
from routellm.records import BenchmarkSpec


class CsvBenchmark(Benchmark):
    """Rows of a CSV: ``prompt_column`` holds the prompt, ``strong_model`` and ``weak_model`` name
    columns of per-prompt quality (True/False correctness or numeric scores)."""

    class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
        path: str
        strong_model: str
        weak_model: str
        prompt_column: str = "prompt"
        #: Optional benchmark name used in reports and caches (default: the file's stem).
        name: str | None = None

    def load(self) -> BenchmarkData:
        from pathlib import Path

        import polars as pl

        path = Path(self.config.path).expanduser()
        if not path.is_file():
            raise ConfigError(f"benchmark 'csv_results': file not found: {path}")
        frame = pl.read_csv(path, infer_schema_length=None)
        columns = (self.config.prompt_column, self.config.strong_model, self.config.weak_model)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ConfigError(
                f"benchmark 'csv_results': {path} has no column(s) {', '.join(missing)} "
                f"(columns: {', '.join(frame.columns)})"
            )
        frame = frame.drop_nulls(list(columns))
        quality = {m: frame[m].cast(pl.Float64).to_numpy() for m in columns[1:]}
        return BenchmarkData(
            name=self.config.name or path.stem,
            prompts=frame[self.config.prompt_column].cast(pl.String).to_list(),
            quality=quality,
            strong_model=self.config.strong_model,
            weak_model=self.config.weak_model,
            notes=[f"{path.name}: {frame.height} prompts"],
        )


@routellm.hookimpl
def routellm_benchmarks():
    yield BenchmarkSpec(
        name="csv_results",
        benchmark_class=CsvBenchmark,
        description="Any CSV of prompts with a quality column per model.",
    )
