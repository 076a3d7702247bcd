"""The demo's per-system output folders: outputs of another checkpoint or other settings are never reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from valle.demo.speak import forget_stale_outputs, system_stamp, write_wav


def test_outputs_are_kept_for_the_same_system_and_dropped_for_another(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"weights of model a")
    b.write_bytes(b"weights of model b")
    folder = tmp_path / "outputs" / "mine"
    stamp_a = system_stamp(a, seed=0, max_frames=750)
    assert stamp_a == system_stamp(a, seed=0, max_frames=750)
    assert stamp_a != system_stamp(b, seed=0, max_frames=750)  # other bytes
    assert stamp_a != system_stamp(a, seed=1, max_frames=750)  # other seed
    assert stamp_a != system_stamp(a, seed=0, max_frames=300)  # other length cap

    forget_stale_outputs(folder, stamp_a)
    write_wav(folder / "x.wav", np.zeros(240, dtype=np.float32), 24000)
    forget_stale_outputs(folder, stamp_a)  # the same system again: reused
    assert (folder / "x.wav").is_file()
    forget_stale_outputs(folder, system_stamp(b, seed=0, max_frames=750))  # another checkpoint: dropped
    assert not (folder / "x.wav").exists()


def test_outputs_without_a_record_are_not_trusted(tmp_path: Path) -> None:
    """A folder written before the record existed cannot say which model made it: re-synthesize."""
    folder = tmp_path / "demo"
    write_wav(folder / "old.wav", np.full(240, 0.5, dtype=np.float32), 24000)
    (tmp_path / "m.pt").write_bytes(b"m")
    forget_stale_outputs(folder, system_stamp(tmp_path / "m.pt", seed=0, max_frames=None))
    assert not list(folder.glob("*.wav")) and (folder / "system.json").is_file()


def test_write_wav_leaves_no_temporary_file_and_clips(tmp_path: Path) -> None:
    path = tmp_path / "o" / "w.wav"
    write_wav(path, np.array([2.0, -2.0, 0.25], dtype=np.float32), 24000)
    data, sr = sf.read(path)
    assert sr == 24000 and data[0] > 0.99 and data[1] < -0.99 and abs(data[2] - 0.25) < 1e-3
    assert [p.name for p in path.parent.iterdir()] == ["w.wav"]


def test_scores_are_reused_only_for_the_same_wavs_and_items(tmp_path: Path) -> None:
    from valle.demo.scores import cached_summary, scoring_key, store_summary
    from valle.demo.speak import Item

    folder = tmp_path / "demo"
    wavs = [folder / "a.wav", folder / "b.wav"]
    for k, w in enumerate(wavs):
        write_wav(w, np.full(240, 0.1 * (k + 1), dtype=np.float32), 24000)
    items = [Item(w.stem, "1", tmp_path / "p.wav", "prompt", f"text {w.stem}", tmp_path / "gt.wav") for w in wavs]
    key = scoring_key(items, wavs)
    assert cached_summary(folder, key) is None  # nothing stored yet
    store_summary(folder, key, {"items": 2, "wer": 0.5})
    assert cached_summary(folder, scoring_key(items, wavs)) == {"items": 2, "wer": 0.5}
    other_text = [Item(it.id, it.speaker, it.prompt, it.prompt_text, "other", it.ground_truth) for it in items]
    assert scoring_key(other_text, wavs) != key
    write_wav(wavs[1], np.full(240, 0.7, dtype=np.float32), 24000)  # a re-synthesized output
    assert cached_summary(folder, scoring_key(items, wavs)) is None
