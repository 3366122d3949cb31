"""Calibrated thresholds: ask for a share of strong calls instead of a raw win-rate threshold.

``routellm calibrate`` scores every prompt of a data set (by default the Chatbot Arena battles)
with each router and saves, per router, the win-rate quantiles to a calibration file. A model name
can then ask for a share of strong calls:

* ``router-<router>-<threshold>``: RouteLLM's form, a raw threshold in [0, 1], e.g. ``router-mf-0.11593``;
* ``router-<router>-p<percent>``: about ``percent`` % of calls (on prompts like the calibration
  data) go to the strong model, e.g. ``router-mf-p20`` or ``router-mf-p12.5``. The threshold is the
  ``1 - percent/100`` quantile of the router's win rates on the calibration data (RouteLLM's rule).

The file is JSON (see :class:`CalibrationFile`); its location comes from the config's top-level
``calibration:`` section (``calibration: {file: path/to/calibration.json}``), else
:func:`default_path`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.errors import ConfigError
from routellm.multi_model_calibration import MultiModelCalibration
from routellm.paths import cache_dir
from routellm.structs import convert_section

#: Format version of calibration files.
FORMAT_VERSION = 1
#: Resolution of the stored quantile grid: strong-call shares 0, 1/GRID, ..., 1.
GRID = 1000
#: What ``routellm calibrate`` scores when no ``--dataset`` is given.
DEFAULT_DATASET = "lmsys/lmsys-arena-human-preference-55k"
#: Router options that change how fast, not what, a router scores: changing them needs no recalibration.
NON_SCORING_OPTIONS = frozenset({"num_threads", "device", "batch_size", "max_batch_size", "timeout", "max_retries"})



class RouterCalibration(msgspec.Struct, frozen=True):
    """One router's calibration: thresholds by share of strong calls."""

    #: Hash of the router's fingerprint (name, class, version, config) when it was calibrated.
    config_sha256: str
    config: str
    num_prompts: int
    #: ``grid[i]`` is the threshold that sends ``i / GRID`` of calls to the strong model
    #: (the ``1 - i / GRID`` quantile of the win rates), so it decreases with ``i``.
    grid: list[float]
    #: Thresholds computed exactly for the shares asked for on the command line, e.g. ``{"0.2": 0.116}``.
    requested: dict[str, float] = {}

    def threshold(self, strong_share: float) -> float:
        """The threshold that sends about ``strong_share`` (0..1) of calls to the strong model."""
        if math.isnan(strong_share) or not 0.0 <= strong_share <= 1.0:
            raise ValueError(f"share of strong calls must be between 0 and 1, got {strong_share!r}")
        for key, value in self.requested.items():
            if math.isclose(float(key), strong_share, abs_tol=1e-12):
                return value
        shares = np.linspace(0.0, 1.0, len(self.grid))
        return float(np.interp(strong_share, shares, self.grid))

    def is_current(self, router: Any, name: str | None = None) -> bool:
        """Whether ``router`` (an instance) has the name, class, version and config it was calibrated with;
        a server should warn, or recalibrate, when it has not."""
        from routellm.evaluation.scoring import router_fingerprint

        return fingerprint_sha256(router_fingerprint(router, name)) == self.config_sha256


class CalibrationFile(msgspec.Struct):
    """The calibration file: where the prompts came from, and one entry per router."""

    dataset: str
    version: int = FORMAT_VERSION
    created: str = ""
    routers: dict[str, RouterCalibration] = {}
    #: Knob calibrations for routing among N priced models, by router (see :mod:`routellm.multi_model_calibration`).
    multi: dict[str, MultiModelCalibration] = {}

    def router(self, name: str) -> RouterCalibration:
        try:
            return self.routers[name]
        except KeyError:
            calibrated = ", ".join(self.routers) or "none"
            raise ConfigError(
                f"router '{name}' has no calibrated thresholds (calibrated: {calibrated}); "
                f"run `routellm calibrate --routers {name} --strong-model-pct 0.2`"
            ) from None


class CalibrationSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The config's top-level ``calibration:`` section."""

    #: Path of the calibration file (relative paths are relative to the config file).
    file: str | None = None


def _scoring_only(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scoring_only(v) for k, v in value.items() if k not in NON_SCORING_OPTIONS}
    if isinstance(value, list):
        return [_scoring_only(v) for v in value]
    return value


def fingerprint_sha256(fingerprint: Mapping[str, str]) -> str:
    """sha256 of a router fingerprint (see :func:`routellm.evaluation.scoring.fingerprint`), leaving out
    :data:`NON_SCORING_OPTIONS` (e.g. ``num_threads``) wherever they sit in the router's config."""
    import hashlib

    data = dict(fingerprint)
    if "config" in data:
        try:
            config = msgspec.json.decode(data["config"])
        except msgspec.DecodeError:
            pass
        else:
            data["config"] = msgspec.json.encode(_scoring_only(config), order="sorted").decode()
    return hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()


def calibrate_hint(router: str, *, config: Any = None, dataset: str | None = None) -> str:
    """The ``routellm calibrate`` command, ready to paste, that (re)calibrates ``router`` into the file the
    server reads: the config (whose ``calibration:`` names the file) and the data set included."""
    import shlex

    words = ["routellm", "calibrate", "--routers", router, "--strong-model-pct", "0.2"]
    words += ["--dataset", dataset or DEFAULT_DATASET]
    path = getattr(config, "path", None)
    if path is not None:
        words += ["--config", str(path)]
    return shlex.join(words)


def calibrate_router(win_rates: np.ndarray, shares: list[float], *, config_sha256: str, config: str) -> RouterCalibration:
    """A router's calibration from its win rates on the calibration prompts (one per battle)."""
    win_rates = np.asarray(win_rates, dtype=np.float64)
    if win_rates.size == 0:
        raise ValueError("cannot calibrate on zero prompts")
    grid = np.quantile(win_rates, 1.0 - np.linspace(0.0, 1.0, GRID + 1))
    requested = {repr(float(s)): float(np.quantile(win_rates, 1.0 - float(s))) for s in shares}
    return RouterCalibration(
        config_sha256=config_sha256, config=config, num_prompts=int(win_rates.size), grid=grid.tolist(), requested=requested
    )


def default_path() -> Path:
    """Where ``routellm calibrate`` saves when no file is configured: ``<cache>/calibration/thresholds.json``."""
    return cache_dir("calibration") / "thresholds.json"


def calibration_path(config: Any = None) -> Path:
    """The calibration file named by a :class:`~routellm.config.Config`'s ``calibration:`` section, else the default."""
    section = config.section("calibration") if config is not None else None
    parsed = convert_section(section, CalibrationSection, where=f"{getattr(config, 'where', 'config')}: calibration")
    if parsed.file is None:
        return default_path()
    path = Path(parsed.file).expanduser()
    config_path = getattr(config, "path", None)
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    return path


def load_calibration(path: str | Path) -> CalibrationFile:
    """Read a calibration file; a missing or malformed file raises :class:`ConfigError` saying what to do."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"calibration file not found: {path}; run `routellm calibrate --routers ROUTER --strong-model-pct 0.2` "
            "or set `calibration: {file: ...}` in the config"
        ) from None
    try:
        loaded = msgspec.json.decode(raw, type=CalibrationFile)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not a routellm calibration file ({exc})") from None
    if loaded.version != FORMAT_VERSION:
        raise ConfigError(f"{path}: calibration format {loaded.version}, this routellm reads {FORMAT_VERSION}")
    return loaded


def save_calibration(calibration: CalibrationFile, path: str | Path) -> Path:
    """Write a calibration file (JSON, indented)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    calibration.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path.write_bytes(msgspec.json.format(msgspec.json.encode(calibration), indent=2) + b"\n")
    return path


def resolve_threshold(model: str, calibration: CalibrationFile | None = None) -> tuple[str, float]:
    """``(router, threshold)`` for a model name; a ``p<percent>`` name needs ``calibration``."""
    from routellm.model_names import parse_model_name

    parsed = parse_model_name(model)
    if parsed.threshold is not None:
        return parsed.router, parsed.threshold
    if calibration is None:
        raise ConfigError(
            f"model '{model}' asks for a share of strong calls but no calibration file is loaded; "
            f"run `routellm calibrate --routers {parsed.router}` or use a raw threshold"
        )
    assert parsed.strong_share is not None  # a name without a threshold has a share
    return parsed.router, calibration.router(parsed.router).threshold(parsed.strong_share)


def merge(existing: CalibrationFile | None, dataset: str, routers: Mapping[str, RouterCalibration]) -> CalibrationFile:
    """Add ``routers`` to ``existing`` when it was calibrated on the same data set, else start afresh."""
    if existing is None or existing.dataset != dataset:
        return CalibrationFile(dataset=dataset, routers=dict(routers))
    return CalibrationFile(dataset=dataset, routers={**existing.routers, **routers}, multi=dict(existing.multi))
