"""The hook specifications: the whole contract between routellm and its plugins.

Hooks take no arguments (except command registration) and yield typed records; the registry
(:mod:`routellm.registry`) is the only code that calls them. An implementation may accept fewer
arguments than its spec, so specs can grow without breaking plugins.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from routellm.records import BenchmarkSpec, EmbedderSpec, RouterSpec

PROJECT = "routellm"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def routellm_routers() -> Iterable[RouterSpec]:
    """Yield the routers this plugin provides.

    A complete router plugin, as its own distribution ``routellm-router-length``::

        # pyproject.toml
        [project]
        name = "routellm-router-length"
        version = "0.1.0"
        dependencies = ["routellm-core>=0.1,<0.2"]

        [project.entry-points.routellm]
        length = "routellm_router_length"

        # routellm_router_length/__init__.py
        import msgspec
        import routellm
        from routellm.records import RouterSpec
        from routellm.router import Router


        class LengthConfig(msgspec.Struct, forbid_unknown_fields=True):
            scale: float = 500.0


        class LengthRouter(Router[LengthConfig]):
            '''Longer prompts are harder: send them to the strong model.'''

            def calculate_strong_win_rate(self, prompt: str) -> float:
                return min(1.0, len(prompt) / self.config.scale)


        @routellm.hookimpl
        def routellm_routers():
            yield RouterSpec(name="length", router_class=LengthRouter,
                             description="Longer prompts go to the strong model.")
    """
    ...


@hookspec
def routellm_benchmarks() -> Iterable[BenchmarkSpec]:
    """Yield the benchmarks this plugin provides.

    A complete benchmark plugin, as its own distribution ``routellm-benchmark-tiny``::

        # pyproject.toml
        [project]
        name = "routellm-benchmark-tiny"
        version = "0.1.0"
        dependencies = ["routellm-core>=0.1,<0.2"]

        [project.entry-points.routellm]
        tiny = "routellm_benchmark_tiny"

        # routellm_benchmark_tiny/__init__.py
        import numpy as np
        import routellm
        from routellm.benchmark import Benchmark, BenchmarkData
        from routellm.records import BenchmarkSpec


        class TinyBenchmark(Benchmark):
            '''Three arithmetic questions with precomputed correctness per model.'''

            def load(self) -> BenchmarkData:
                return BenchmarkData(
                    name="tiny",
                    prompts=["1+1?", "Integrate x^2 sin x.", "Capital of France?"],
                    quality={"strong": np.array([1.0, 1.0, 1.0]), "weak": np.array([1.0, 0.0, 1.0])},
                    strong_model="strong",
                    weak_model="weak",
                )


        @routellm.hookimpl
        def routellm_benchmarks():
            yield BenchmarkSpec(name="tiny", benchmark_class=TinyBenchmark)
    """
    ...


@hookspec
def routellm_embedders() -> Iterable[EmbedderSpec]:
    """Yield the prompt embedders this plugin provides.

    A complete embedder plugin, as its own distribution ``routellm-embedder-hashing``::

        # pyproject.toml
        [project]
        name = "routellm-embedder-hashing"
        version = "0.1.0"
        dependencies = ["routellm-core>=0.1,<0.2"]

        [project.entry-points.routellm]
        hashing = "routellm_embedder_hashing"

        # routellm_embedder_hashing/__init__.py
        import zlib

        import msgspec
        import numpy as np
        import routellm
        from routellm.embedder import Embedder
        from routellm.records import EmbedderSpec


        class HashingConfig(msgspec.Struct, forbid_unknown_fields=True):
            dim: int = 256


        class HashingEmbedder(Embedder[HashingConfig]):
            '''Bag of hashed words, L2-normalised.'''

            @property
            def dim(self) -> int:
                return self.config.dim

            def _embed(self, texts):
                out = np.zeros((len(texts), self.dim), dtype=np.float32)
                for i, text in enumerate(texts):
                    for word in text.lower().split():
                        out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
                return out


        @routellm.hookimpl
        def routellm_embedders():
            yield EmbedderSpec(name="hashing", embedder_class=HashingEmbedder)
    """
    ...


@hookspec
def routellm_register_commands(cli: typer.Typer, train: typer.Typer) -> None:
    """Add commands to the ``routellm`` command line.

    ``cli`` is the top-level app; ``train`` is the ``routellm train`` group, where a router plugin
    adds ``routellm train <router>``. A complete plugin adding ``routellm hello``::

        # pyproject.toml
        [project]
        name = "routellm-hello"
        version = "0.1.0"
        dependencies = ["routellm-core>=0.1,<0.2"]

        [project.entry-points.routellm]
        hello = "routellm_hello"

        # routellm_hello/__init__.py
        import typer
        import routellm


        @routellm.hookimpl
        def routellm_register_commands(cli: typer.Typer):
            @cli.command()
            def hello(name: str = "world"):
                '''Say hello.'''
                typer.echo(f"Hello, {name}!")
    """
