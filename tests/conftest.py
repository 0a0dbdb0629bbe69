"""Shared fixtures: real photos from ../shared/data and a tiny, really trained model."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"{DATA} is missing: the tests read real photos from ../shared/data")
    return DATA


@pytest.fixture(scope="session")
def mtfl_records(data_dir):
    from research_and_train_nn.datasets import load_mtfl
    return load_mtfl(data_dir / "mtfl", "train")
