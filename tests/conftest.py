"""Shared fixtures: repository paths, the reference data, a small synthetic corpus, fast torch settings."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI lays a copy of shared/ beside the clone; a developer checkout has it at ../shared too.
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"


def pytest_configure(config: pytest.Config) -> None:
    import torch

    # 2-core machines: one intra-op thread is faster and keeps parallel work predictable.
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """`../shared/reference` (test data written by lifeiteng/vall-e); skips when it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-speaker x 6-utterance synthetic corpus in LibriTTS layout (made once per test session, ~2 s)."""
    from valle.data.synth_corpus import SynthCorpusConfig, generate_corpus

    out = tmp_path_factory.mktemp("corpus") / "SynthTTS"
    return generate_corpus(SynthCorpusConfig(out=out, speakers=6, utterances_per_speaker=6, seed=1), progress=False)
