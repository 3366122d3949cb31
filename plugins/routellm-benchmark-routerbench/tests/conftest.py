"""Read the RouterBench files from the shared reference data (tests never download)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module", autouse=True)
def _routerbench_data(shared_data):
    before = os.environ.get("ROUTELLM_DATA_DIR")
    os.environ["ROUTELLM_DATA_DIR"] = str(shared_data)
    yield
    if before is None:
        os.environ.pop("ROUTELLM_DATA_DIR", None)
    else:
        os.environ["ROUTELLM_DATA_DIR"] = before
