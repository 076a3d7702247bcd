"""Tokenized corpora for trainer tests, made in a second without a codec (built on tests/data's `make_cuts`).

`random_corpus`: codes are uniform noise (enough to exercise the loop, resume and DDP).
`learnable_corpus`: codes are a deterministic function of the phonemes (token id, position inside the
token, codebook), so a tiny model can learn them and the validation loss must fall.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet, NumpyHdf5Writer

from tests.data.test_dataset import FRAME_SHIFT, PHONES, make_cuts
from valle.data.config import CODES_FIELD, DataConfig
from valle.models import debug_config
from valle.train import TrainConfig

CODEC = {"backend": "fake", "content_hash": "0" * 64, "sample_rate": 24000, "frame_rate": 75,
         "num_codebooks": 8, "codebook_size": 1024}  # fmt: skip
TOKENIZER = {"backend": "fake", "language": "xx"}


def learnable_codes(tokens: list[str], frames: int) -> np.ndarray:
    """int16 [frames, 8]: frame f spells token floor(f * n / frames); code depends on token, offset, codebook."""
    n = len(tokens)
    ids = np.array([PHONES.index(t) for t in tokens])
    token_of = (np.arange(frames) * n) // frames  # which token each frame belongs to
    start = np.searchsorted(token_of, token_of)  # first frame of that token
    offset = np.arange(frames) - start
    q = np.arange(8)
    codes = (37 * ids[token_of][:, None] + 5 * np.minimum(offset, 4)[:, None] + 101 * q[None, :]) % 1024
    return codes.astype(np.int16)


def _relabel(cuts: CutSet, folder: Path) -> CutSet:
    out = []
    with NumpyHdf5Writer(folder / "learnable") as writer:
        for cut in cuts:
            tokens = cut.supervisions[0].custom["tokens"]["text"]
            frames = cut.load_custom(CODES_FIELD).shape[0]
            stored = writer.store_array(cut.id, learnable_codes(tokens, frames), frame_shift=FRAME_SHIFT, temporal_dim=0)
            out.append(cut.with_custom(CODES_FIELD, stored))
    return CutSet.from_cuts(out)


def write_corpus(root: Path, train: tuple[int, int], dev: tuple[int, int], learnable: bool) -> Path:
    """A manifest dir as `valle tokenize` + `valle combine-cuts` leave it; (speakers, utterances) per split."""
    for split, (speakers, per_speaker), seed in (("train", train, 0), ("dev", dev, 1)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        cuts = make_cuts(folder, speakers=speakers, per_speaker=per_speaker, seed=seed)
        if learnable:
            cuts = _relabel(cuts, folder)
        cuts.to_file(root / f"cuts_{split}.jsonl.gz")
    table = ["<eps>"] + sorted(PHONES)  # k2symbols: <eps> 0, then sorted tokens
    (root / "unique_text_tokens.k2symbols").write_text("".join(f"{s} {i}\n" for i, s in enumerate(table)))
    (root / "text_tokenizer.json").write_text(json.dumps(TOKENIZER))
    (root / "codec.json").write_text(json.dumps(CODEC))
    return root


@pytest.fixture(scope="session")
def random_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("random_corpus"), train=(3, 6), dev=(2, 2), learnable=False)


@pytest.fixture(scope="session")
def learnable_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("learnable_corpus"), train=(4, 8), dev=(2, 3), learnable=True)


def tiny_config(manifest_dir: Path, exp_dir: Path, **overrides: object) -> TrainConfig:
    """A fast TrainConfig: debug model, in-process data, no tensorboard/oom-check unless overridden."""
    model = overrides.pop("model", debug_config())
    data = overrides.pop("data", DataConfig(manifest_dir=manifest_dir, max_duration=6.0, num_buckets=2, num_workers=0,
                                            seed=0))  # fmt: skip
    base = {"model": model, "data": data, "exp_dir": exp_dir, "num_epochs": 2, "log_interval": 2,
            "valid_interval": 1000, "save_every_n": 1000, "tensorboard": False, "oom_check": False, "num_threads": 1,
            "seed": 3, "device": "cpu"}  # fmt: skip
    base.update(overrides)
    return TrainConfig(**base)  # type: ignore[arg-type]
