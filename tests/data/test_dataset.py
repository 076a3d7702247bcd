"""Dataset, collation, prompts and the resumable sampler, on cuts with known codes (no codec needed)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from lhotse import AudioSource, CutSet, MonoCut, NumpyHdf5Writer, Recording, SupervisionSegment

from valle.data.config import CODES_FIELD, DataConfig
from valle.data.dataset import TtsDataset
from valle.data.prompts import PromptSelector
from valle.data.sampler import make_sampler
from valle.errors import DataError, InvalidInputError

FRAME_SHIFT = 320 / 24000
PHONES = ["a", "b", "c", "d", "e", "_"]


def make_cuts(folder: Path, speakers: int = 3, per_speaker: int = 6, seed: int = 0) -> CutSet:
    """Cuts with random int16 codes [T, 8] stored exactly in HDF5 and phoneme tokens in the supervision."""
    rng = np.random.default_rng(seed)
    cuts = []
    with NumpyHdf5Writer(folder / "codes") as writer:
        for s in range(speakers):
            for u in range(per_speaker):
                cut_id = f"{100 + s}_2000_{u:06d}_000000"
                frames = int(rng.integers(40, 200))
                duration = frames * FRAME_SHIFT
                codes = rng.integers(0, 1024, size=(frames, 8)).astype(np.int16)
                tokens = [PHONES[i] for i in rng.integers(0, len(PHONES), size=int(rng.integers(3, 30)))]
                rec = Recording(id=cut_id, sources=[AudioSource("file", [0], "/nonexistent.wav")],
                                sampling_rate=24000, num_samples=round(duration * 24000), duration=duration)
                sup = SupervisionSegment(id=cut_id, recording_id=cut_id, start=0, duration=duration,
                                         text=" ".join(tokens), speaker=str(100 + s),
                                         custom={"tokens": {"text": tokens}})
                cut = MonoCut(id=cut_id, start=0, duration=duration, channel=0, recording=rec, supervisions=[sup])
                cuts.append(cut.with_custom(CODES_FIELD, writer.store_array(cut_id, codes, frame_shift=FRAME_SHIFT,
                                                                             temporal_dim=0)))
    return CutSet.from_cuts(cuts)


@pytest.fixture
def cuts(tmp_path: Path) -> CutSet:
    return make_cuts(tmp_path)


@pytest.fixture
def collater():
    from valle.text import SymbolTable, TextTokenCollater

    return TextTokenCollater.from_symbol_table(SymbolTable.from_symbols(sorted(PHONES)))


def test_batch_keys_shapes_and_exact_codes(cuts: CutSet, collater) -> None:
    batch_cuts = cuts.subset(first=5)
    batch = TtsDataset(collater)[batch_cuts]
    B = 5
    assert batch["audio_features"].shape[0] == B and batch["audio_features"].shape[2] == 8
    assert batch["audio_features"].dtype == torch.int64
    assert batch["text_tokens"].shape[0] == B and batch["text_tokens"].dtype == torch.int64
    by_id = {c.id: c for c in batch_cuts}
    for b, cut_id in enumerate(batch["utt_id"]):
        cut = by_id[cut_id]
        T = int(batch["audio_features_lens"][b])
        expected = torch.from_numpy(cut.load_custom(CODES_FIELD).astype(np.int64))
        assert torch.equal(batch["audio_features"][b, :T], expected)
        assert (batch["audio_features"][b, T:] == 0).all()
        toks = cut.supervisions[0].custom["tokens"]["text"]
        L = int(batch["text_tokens_lens"][b])
        assert L == len(toks) + 2  # BOS + EOS
        ids = batch["text_tokens"][b, :L].tolist()
        assert ids[0] == 1 and ids[-1] == 2  # <bos>, <eos>
        assert [collater.vocab[i] for i in ids[1:-1]] == toks
        assert (batch["text_tokens"][b, L:] == 0).all()


def test_prompts_come_from_same_speaker_other_utterance_and_are_cropped(cuts: CutSet, collater) -> None:
    selector = PromptSelector(cuts, strategy="libritts", max_duration=1.0)
    ds = TtsDataset(collater, prompts=selector, seed=3)
    batch = ds[cuts.subset(first=6)]
    Tp = batch["prompts"].shape[1]
    assert batch["prompts"].shape == (6, Tp, 8)
    assert Tp <= round(1.0 / FRAME_SHIFT) + 1
    all_codes = {c.id: torch.from_numpy(c.load_custom(CODES_FIELD).astype(np.int64)) for c in cuts}
    for b, utt in enumerate(batch["utt_id"]):
        prompt = batch["prompts"][b, : int(batch["prompts_lens"][b])]
        speaker = utt.split("_")[0]
        hits = []
        for other, codes in all_codes.items():
            if other == utt or other.split("_")[0] != speaker:
                continue
            windows = codes.unfold(0, prompt.shape[0], 1)  # [N, 8, Tp]
            if (windows == prompt.T.unsqueeze(0)).all(dim=(1, 2)).any():
                hits.append(other)
        assert hits, f"prompt of {utt} is not a crop of another utterance of speaker {speaker}"
    again = TtsDataset(collater, prompts=selector, seed=3)[cuts.subset(first=6)]
    assert torch.equal(again["prompts"], batch["prompts"])  # seeded: reproducible


def test_prompt_strategy_is_validated(cuts: CutSet) -> None:
    with pytest.raises(InvalidInputError, match="prompt strategy"):
        PromptSelector(cuts, strategy="nope")


def test_sampler_passes_num_buckets_and_filters(cuts: CutSet) -> None:
    cfg = DataConfig(max_duration=5.0, num_buckets=3, filter_min_duration=1.0, filter_max_duration=2.0)
    sampler = make_sampler(cuts, cfg)
    assert len(sampler.duration_bins) == cfg.num_buckets - 1  # really bucketed by --num-buckets
    seen = [c for batch in sampler for c in batch]
    assert seen and all(1.0 <= c.duration <= 2.0 for c in seen)
    expected = {c.id for c in cuts if 1.0 <= c.duration <= 2.0}
    assert {c.id for c in seen} == expected
    assert all(sum(c.duration for c in b) <= 5.0 + 1e-6 for b in make_sampler(cuts, cfg))


def test_a_corpus_smaller_than_the_bucket_count_gets_fewer_buckets_and_no_cut_is_an_error(cuts: CutSet) -> None:
    few = cuts.subset(first=3)
    sampler = make_sampler(few, DataConfig(max_duration=100.0, num_buckets=10))
    assert len(sampler.duration_bins) <= 2  # at most 3 buckets (lhotse merges equal bins), not its assertion
    assert sorted(c.id for b in sampler for c in b) == sorted(few.ids)
    with pytest.raises(DataError, match="no training cuts last between 50 and 60 s"):
        make_sampler(cuts, DataConfig(filter_min_duration=50.0, filter_max_duration=60.0))


def test_sampler_restored_from_state_yields_exactly_the_remaining_batches(cuts: CutSet) -> None:
    cfg = DataConfig(max_duration=4.0, num_buckets=2, seed=7)
    full = [[c.id for c in b] for b in make_sampler(cuts, cfg)]
    assert len(full) >= 4
    sampler = make_sampler(cuts, cfg)
    it = iter(sampler)
    consumed = [[c.id for c in next(it)] for _ in range(2)]
    state = sampler.state_dict()
    resumed = make_sampler(cuts, cfg)
    resumed.load_state_dict(state)
    rest = [[c.id for c in b] for b in resumed]
    assert consumed + rest == full


def test_data_config_rejects_bad_values() -> None:
    with pytest.raises(InvalidInputError, match="--max-duration"):
        DataConfig(max_duration=0)
    with pytest.raises(InvalidInputError, match="--filter-min-duration"):
        DataConfig(filter_min_duration=5, filter_max_duration=1)
    with pytest.raises(InvalidInputError, match="--repeat-train"):
        DataConfig(repeat_train=0)


def test_repeat_train_makes_one_epoch_several_passes_with_prompts_from_the_originals(
    cuts: CutSet, collater, tmp_path: Path
) -> None:
    from valle.train.data import build_train_data

    cuts.to_file(tmp_path / "cuts_train.jsonl.gz")
    cfg = DataConfig(manifest_dir=tmp_path, max_duration=4.0, num_buckets=2, repeat_train=3)
    sampler, dataset, train_cuts = build_train_data(cfg, collater, with_prompts=True, seed=0)
    sampler.set_epoch(0)
    seen = [c.id for batch in sampler for c in batch]
    originals = sorted(c.id for c in cuts)
    assert len(seen) == 3 * len(originals) and len(set(seen)) == len(seen)  # every copy once, ids distinct
    assert sorted(i.rsplit("_repeat", 1)[0] for i in seen) == sorted(originals * 3)
    assert sum(c.duration for c in train_cuts) == pytest.approx(3 * sum(c.duration for c in cuts))
    batch = dataset[next(iter(sampler))]  # prefix mode 4 prompts: copies are looked up by their original id
    assert batch["prompts"].shape[0] == len(batch["utt_id"]) and all("_repeat" in u for u in batch["utt_id"])
    selector = PromptSelector(cuts, strategy="libritts")
    copy = next(iter(cuts.repeat(times=2, preserve_id=False)))
    assert copy.id.endswith("_repeat0") and len(selector.crops(CutSet.from_cuts([copy]), random.Random(0))) == 1
    with pytest.raises(InvalidInputError, match="no prompt candidates"):  # only the repeat suffix is forgiven
        selector.crops(CutSet.from_cuts([copy.with_id("999_9_000001_000000")]), random.Random(0))


def test_codes_round_trip_exactly_through_manifest_file(cuts: CutSet, tmp_path: Path) -> None:
    from lhotse import load_manifest

    path = tmp_path / "cuts.jsonl.gz"
    cuts.to_file(path)
    loaded = load_manifest(path)
    for a, b in zip(cuts, loaded):
        assert np.array_equal(a.load_custom(CODES_FIELD), b.load_custom(CODES_FIELD))
        assert b.load_custom(CODES_FIELD).dtype == np.int16


def test_concat_prompt_joins_a_short_same_speaker_utterance_in_front(cuts: CutSet, collater) -> None:
    from valle.data.concat import PromptConcatenator

    concat = PromptConcatenator(cuts, prob=1.0, max_duration=1.5)
    batch = TtsDataset(collater, concat=concat, seed=5)[cuts.subset(first=6)]
    by_id = {c.id: c for c in cuts}
    joined = 0
    for b, utt in enumerate(batch["utt_id"]):
        T, L = int(batch["audio_features_lens"][b]), int(batch["text_tokens_lens"][b])
        codes, ids = batch["audio_features"][b, :T], batch["text_tokens"][b, 1 : L - 1].tolist()
        if "+" not in utt:  # only a speaker with no other short utterance stays alone
            target = by_id[utt]
            assert not [c for c in cuts if c.supervisions[0].speaker == target.supervisions[0].speaker
                        and c.id != utt and c.duration <= 1.5]  # fmt: skip
            continue
        joined += 1
        first, target = (by_id[i] for i in utt.split("+"))
        assert first.id != target.id and first.supervisions[0].speaker == target.supervisions[0].speaker
        assert first.duration <= 1.5
        want = torch.cat([torch.from_numpy(c.load_custom(CODES_FIELD).astype(np.int64)) for c in (first, target)])
        assert torch.equal(codes, want)  # the prompt's codes, then the utterance's, exactly
        toks = first.supervisions[0].custom["tokens"]["text"] + ["_"] + target.supervisions[0].custom["tokens"]["text"]
        assert [collater.vocab[i] for i in ids] == toks
        assert batch["text"][b] == f"{first.supervisions[0].text} {target.supervisions[0].text}"
    assert joined >= 4
    again = TtsDataset(collater, concat=concat, seed=5)[cuts.subset(first=6)]
    assert again["utt_id"] == batch["utt_id"]  # seeded: reproducible


def test_concat_prompt_probability_and_repeat_copies(cuts: CutSet, collater) -> None:
    from valle.data.concat import PromptConcatenator

    never = TtsDataset(collater, concat=PromptConcatenator(cuts, prob=0.0, max_duration=9.0))[cuts]
    assert never["utt_id"] == [c.id for c in cuts.sort_by_duration(ascending=False)]
    half = PromptConcatenator(cuts, prob=0.5, max_duration=9.0)
    rng = random.Random(0)
    hits = sum(half.pick(c, rng) is not None for _ in range(50) for c in cuts)
    assert 0.4 < hits / (50 * len(cuts)) < 0.6
    copy = next(iter(cuts.repeat(times=2, preserve_id=False)))  # a --repeat-train copy never precedes itself
    picks = {PromptConcatenator(cuts, prob=1.0, max_duration=9.0).pick(copy, random.Random(k)).id for k in range(40)}
    assert copy.id.split("_repeat")[0] not in picks and len(picks) > 1


def test_concat_prompt_prob_is_validated_and_reaches_the_training_data(tmp_path: Path, cuts: CutSet, collater) -> None:
    from valle.train.data import build_train_data

    with pytest.raises(InvalidInputError, match="--concat-prompt-prob"):
        DataConfig(concat_prompt_prob=1.5)
    cuts.to_file(tmp_path / "cuts_train.jsonl.gz")
    cfg = DataConfig(manifest_dir=tmp_path, max_duration=4.0, num_buckets=2, concat_prompt_prob=1.0)
    sampler, dataset, _ = build_train_data(cfg, collater, with_prompts=False, seed=0)
    assert any("+" in u for batch in sampler for u in dataset[batch]["utt_id"])
