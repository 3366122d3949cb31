"""LMSYS RouteLLM installed beside routellm-core: a one-line warning."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError

import pytest

from routellm import conflicts
from routellm.cli import main


def test_no_warning_without_lmsys_routellm(monkeypatch):
    def absent(name):
        raise PackageNotFoundError(name)

    monkeypatch.setattr(conflicts, "version", absent)
    assert conflicts.conflict_warning() is None


def test_warning_when_lmsys_routellm_is_installed(monkeypatch, capsys):
    monkeypatch.setattr(conflicts, "version", lambda name: "0.2.0" if name == "routellm" else "9")
    warning = conflicts.conflict_warning()
    assert warning is not None and "\n" not in warning
    assert "LMSYS RouteLLM" in warning and "0.2.0" in warning and "pip uninstall routellm" in warning
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().err.strip() == warning
