"""The synthetic corpus: LibriTTS layout, audio format, determinism, speaker splits, lhotse compatibility."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from valle.data.synth_corpus import PARTS, SynthCorpusConfig, generate_corpus, make_speakers
from valle.errors import InvalidInputError


def _wavs(root: Path, part: str) -> list[Path]:
    return sorted((root / part).rglob("*.wav"))


def test_layout_matches_libritts(small_corpus: Path) -> None:
    assert (small_corpus / "SPEAKERS.txt").is_file()
    for part in PARTS:
        wavs = _wavs(small_corpus, part)
        assert wavs, f"no audio in {part}"
        for wav in wavs:
            spk, chap = wav.parent.parent.name, wav.parent.name
            assert wav.parent.parent.parent.name == part
            assert wav.name.startswith(f"{spk}_{chap}_") and len(wav.stem.split("_")) == 4
            assert wav.with_suffix(".normalized.txt").is_file() and wav.with_suffix(".original.txt").is_file()
        for trans in (small_corpus / part).rglob("*.trans.tsv"):
            book = trans.with_name(trans.name.replace(".trans.tsv", ".book.tsv"))
            assert book.is_file()
            for line in trans.read_text().splitlines():
                utt_id, original, normalized = line.split("\t")
                assert (trans.parent / f"{utt_id}.wav").is_file()
                assert original.strip() and normalized.strip()
            for line in book.read_text().splitlines():
                float(line.split()[-1])  # lhotse reads the last column as an SNR


def test_audio_is_24k_mono_pcm16_and_not_silent(small_corpus: Path) -> None:
    for wav in _wavs(small_corpus, "train-clean-100")[:8]:
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype) == (24000, 1, "PCM_16")
        audio, _ = sf.read(str(wav))
        assert 0.5 < len(audio) / 24000 < 20
        assert 0.5 < np.abs(audio).max() <= 1.0
        assert np.sqrt(np.mean(audio**2)) > 0.01


def test_test_speakers_are_disjoint_from_training(small_corpus: Path) -> None:
    def speakers(part: str) -> set[str]:
        return {p.name for p in (small_corpus / part).iterdir() if p.is_dir()}

    train, dev, test = speakers("train-clean-100"), speakers("dev-clean"), speakers("test-clean")
    assert train and test and not (train & test)
    assert dev <= train  # dev holds held-out utterances of the training voices
    meta = json.loads((small_corpus / "synth_corpus.json").read_text())
    voices = {v["voice"] for k, v in meta["speakers"].items()}
    assert len(voices) == len(meta["speakers"]), "two speakers share a voice configuration"


def test_same_seed_same_corpus_other_seed_differs(tmp_path: Path, small_corpus: Path) -> None:
    again = generate_corpus(SynthCorpusConfig(out=tmp_path / "a", speakers=6, utterances_per_speaker=6, seed=1), progress=False)
    first = _wavs(small_corpus, "test-clean")
    second = _wavs(again, "test-clean")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
    other = make_speakers(SynthCorpusConfig(out=tmp_path / "b", speakers=6, seed=2))
    same = make_speakers(SynthCorpusConfig(out=tmp_path / "c", speakers=6, seed=1))
    assert [s.name for s in other] != [s.name for s in same]


def test_rerun_is_a_no_op_and_other_settings_are_refused(tmp_path: Path) -> None:
    cfg = SynthCorpusConfig(out=tmp_path / "c", speakers=2, utterances_per_speaker=2, seed=3, use_flite=False)
    generate_corpus(cfg, progress=False)
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "c").rglob("*.wav")}
    generate_corpus(cfg, progress=False)
    assert stamp == {p: p.stat().st_mtime_ns for p in (tmp_path / "c").rglob("*.wav")}
    with pytest.raises(InvalidInputError, match="other settings"):
        generate_corpus(SynthCorpusConfig(out=tmp_path / "c", speakers=3, utterances_per_speaker=2, seed=3), progress=False)


@pytest.mark.parametrize(
    ("speakers", "utts", "match"), [(1, 5, "--speakers"), (4, 1, "--utterances-per-speaker")]
)
def test_bad_settings_raise_one_clear_error(tmp_path: Path, speakers: int, utts: int, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        generate_corpus(SynthCorpusConfig(out=tmp_path, speakers=speakers, utterances_per_speaker=utts), progress=False)


def test_lhotse_prepare_libritts_accepts_it(small_corpus: Path, tmp_path: Path) -> None:
    from lhotse.recipes import prepare_libritts

    manifests = prepare_libritts(small_corpus, dataset_parts=list(PARTS), output_dir=tmp_path)
    n_wavs = {part: len(_wavs(small_corpus, part)) for part in PARTS}
    for part in PARTS:
        recs, sups = manifests[part]["recordings"], manifests[part]["supervisions"]
        assert len(recs) == len(sups) == n_wavs[part]
        sup = next(iter(sups))
        assert sup.text and sup.speaker == sup.id.split("_")[0] and sup.gender in ("M", "F")
        assert next(iter(recs)).sampling_rate == 24000
