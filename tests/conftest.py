"""Shared fixtures: the real-data folder (tests skip when it is absent) and offscreen Qt."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from ecgviewer.paths import data_dir as _data_dir  # noqa: E402


@pytest.fixture(scope="session")
def data_dir():
    d = _data_dir()
    if d is None:
        pytest.skip("real data folder not found (set ECGVIEWER_DATA or place ../shared/data)")
    return d


@pytest.fixture(scope="session")
def cinc_dir(data_dir):
    d = data_dir / "cinc2017" / "training2017"
    if not d.is_dir():
        pytest.skip(f"{d} missing")
    return d


@pytest.fixture(scope="session")
def ptbxl_dir(data_dir):
    d = data_dir / "ptbxl"
    if not d.is_dir():
        pytest.skip(f"{d} missing")
    return d


@pytest.fixture(scope="session")
def scans_dir(data_dir):
    d = data_dir / "scans"
    if not d.is_dir():
        pytest.skip(f"{d} missing")
    return d
