"""`valle tokenize` end to end on the synthetic corpus with a tiny fitted codec: exact codes, symbols,
resumability, bad-data accounting, and identical results with 2 workers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from lhotse import RecordingSet, SupervisionSet, load_manifest
from lhotse.recipes import prepare_libritts

from valle.data.config import CODES_FIELD
from valle.data.tokenize import TokenizeConfig, tokenize_corpus
from valle.errors import InvalidInputError, MissingFileError

PARTS = ("train-clean-100", "dev-clean", "test-clean")


@pytest.fixture(scope="module")
def prepared(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(manifest dir, tiny codec file) for the small synthetic corpus."""
    from valle.codec import fit_builtin_codec

    root = tmp_path_factory.mktemp("prepared")
    prepare_libritts(small_corpus, dataset_parts=list(PARTS), output_dir=root / "manifests")
    wavs = sorted((small_corpus / "train-clean-100").rglob("*.wav"))[:6]
    codec = fit_builtin_codec(wavs, num_codebooks=8, codebook_size=16, iterations=3, vocoder="griffin-lim")
    codec.save(root / "codec.pt")
    return root / "manifests", root / "codec.pt"


def _config(prepared: tuple[Path, Path], out: Path, **kw) -> TokenizeConfig:
    manifests, codec = prepared
    return TokenizeConfig(src_dir=manifests, output_dir=out, dataset_parts=PARTS, prefix="libritts",
                          audio_extractor="Builtin", codec=str(codec), batch_duration=10.0, **kw)


def test_tokenize_writes_exact_codes_tokens_and_symbols(prepared: tuple[Path, Path], tmp_path: Path) -> None:
    from valle.codec import load_audio, load_codec
    from valle.text import SymbolTable

    out = tmp_path / "tok"
    summaries = tokenize_corpus(_config(prepared, out), progress=False)
    assert [s.part for s in summaries] == list(PARTS) and all(s.kept > 0 for s in summaries)
    codec = load_codec(str(prepared[1]))
    cuts = load_manifest(out / "libritts_cuts_test-clean.jsonl.gz")
    for cut in list(cuts)[:3]:
        stored = cut.load_custom(CODES_FIELD)
        assert stored.dtype == np.int16 and stored.shape[1] == 8
        wav, _ = load_audio(cut.recording.sources[0].source)
        fresh = codec.encode(wav[None])[0].T.numpy()
        # exact integer codes (never lossy storage); lhotse keeps round(duration * 75) frames
        assert len(stored) == round(len(wav) / 320) and len(fresh) - len(stored) in (0, 1)
        assert np.array_equal(stored, fresh[: len(stored)])
        tokens = cut.supervisions[0].custom["tokens"]["text"]
        assert tokens and "_" in tokens
    table = SymbolTable.from_file(out / "unique_text_tokens.k2symbols")
    used = {t for p in PARTS for c in load_manifest(out / f"libritts_cuts_{p}.jsonl.gz")
            for t in c.supervisions[0].custom["tokens"]["text"]}
    assert used <= set(table.symbols)
    assert json.loads((out / "codec.json").read_text()) == codec.identity
    assert json.loads((out / "text_tokenizer.json").read_text())["backend"] == "espeak"


def test_two_workers_give_the_same_manifests_as_one(prepared: tuple[Path, Path], tmp_path: Path) -> None:
    one = tmp_path / "one"
    two = tmp_path / "two"
    cfg = dataclasses.replace(_config(prepared, one), dataset_parts=("test-clean",))
    tokenize_corpus(cfg, progress=False)
    tokenize_corpus(dataclasses.replace(cfg, output_dir=two, num_jobs=2), progress=False)
    a = list(load_manifest(one / "libritts_cuts_test-clean.jsonl.gz"))
    b = list(load_manifest(two / "libritts_cuts_test-clean.jsonl.gz"))
    assert [c.id for c in a] == [c.id for c in b]
    for x, y in zip(a, b):
        assert np.array_equal(x.load_custom(CODES_FIELD), y.load_custom(CODES_FIELD))
        assert x.supervisions[0].custom == y.supervisions[0].custom


def test_rerun_skips_finished_parts(prepared: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = dataclasses.replace(_config(prepared, tmp_path), dataset_parts=("dev-clean",))
    assert len(tokenize_corpus(cfg, progress=False)) == 1
    manifest = tmp_path / "libritts_cuts_dev-clean.jsonl.gz"
    before = manifest.stat().st_mtime_ns
    assert tokenize_corpus(cfg, progress=False) == []
    assert manifest.stat().st_mtime_ns == before
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_bad_items_are_skipped_and_counted(prepared: tuple[Path, Path], tmp_path: Path) -> None:
    manifests, _ = prepared
    src = tmp_path / "manifests"
    src.mkdir()
    recs = load_manifest(manifests / "libritts_recordings_dev-clean.jsonl.gz")
    sups = load_manifest(manifests / "libritts_supervisions_dev-clean.jsonl.gz")
    recs, sups = list(recs), list(sups)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage")
    recs[0] = dataclasses.replace(recs[0], sources=[dataclasses.replace(recs[0].sources[0], source=str(corrupt))])
    recs[1] = dataclasses.replace(recs[1], sources=[dataclasses.replace(recs[1].sources[0], source="/gone.wav")])
    sups[2] = dataclasses.replace(sups[2], text="   ")
    RecordingSet.from_recordings(recs).to_file(src / "libritts_recordings_dev-clean.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(src / "libritts_supervisions_dev-clean.jsonl.gz")
    cfg = dataclasses.replace(_config(prepared, tmp_path / "out"), src_dir=src, dataset_parts=("dev-clean",))
    [summary] = tokenize_corpus(cfg, progress=False)
    assert summary.skipped == {"unreadable_audio": 1, "missing_audio": 1, "empty_text": 1}
    assert summary.kept == len(sups) - 3


def test_clear_errors(prepared: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="no manifests for part 'nope'"):
        tokenize_corpus(dataclasses.replace(_config(prepared, tmp_path), dataset_parts=("nope",)), progress=False)
    with pytest.raises(InvalidInputError, match="--audio-extractor"):
        tokenize_corpus(dataclasses.replace(_config(prepared, tmp_path), audio_extractor="Mp3"), progress=False)
    with pytest.raises(InvalidInputError, match="--codec"):
        tokenize_corpus(dataclasses.replace(_config(prepared, tmp_path), codec=None), progress=False)



@pytest.mark.parametrize("codec", [None, "gone.pt", "broken.pt"])
def test_a_codec_that_fails_to_load_leaves_no_codes_file(
    prepared: tuple[Path, Path], tmp_path: Path, codec: str | None
) -> None:
    """Builtin without --codec, or a codec file that cannot be loaded, used to leave a stub {prefix}_codes_*.h5
    (the codes file was opened before the codec loaded)."""
    from valle.errors import ValleError

    (tmp_path / "broken.pt").write_bytes(b"not a codec")
    out = tmp_path / "out"
    path = None if codec is None else str(tmp_path / codec)
    cfg = dataclasses.replace(_config(prepared, out), codec=path, dataset_parts=("dev-clean",))
    with pytest.raises(InvalidInputError if codec is None else ValleError):
        tokenize_corpus(cfg, progress=False)
    left = sorted(p.name for p in out.glob("*")) if out.exists() else []
    assert not [name for name in left if "codes" in name or "cuts" in name], left
