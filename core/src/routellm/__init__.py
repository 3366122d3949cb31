"""routellm: serve, train, calibrate and evaluate LLM routers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("routellm-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__", "hookimpl"]

from routellm.hookspecs import hookimpl  # noqa: E402
