"""VoiceStore: ids that could escape the folder are refused; save / load / list / delete round trip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from valle.errors import DataError, InvalidInputError, MissingFileError
from valle.infer.voice import Voice
from valle.serve.voices import VoiceExistsError, VoiceStore, check_voice_id

BAD_IDS = ["../x", "..", ".", ".hidden", "a/b", "a\\b", "/etc/passwd", "", "x" * 65, "a b", "ä", "-lead", "a.b",
           "a\x00b", "%2e%2e"]  # fmt: skip


def make_voice(frames: int = 150, text: str = "Hello.") -> Voice:
    codes = torch.arange(frames * 8).reshape(frames, 8) % 1024
    return Voice(codes, text, list(text), {"backend": "encodec", "content_hash": "abc"}, {"backend": "char"}, "v")


@pytest.mark.parametrize("voice_id", BAD_IDS)
def test_unsafe_ids_are_refused_before_any_file_access(tmp_path: Path, voice_id: str) -> None:
    store = VoiceStore(tmp_path / "voices")
    with pytest.raises(InvalidInputError, match="not allowed"):
        store.get(voice_id)
    with pytest.raises(InvalidInputError):
        store.add(voice_id, make_voice())
    with pytest.raises(InvalidInputError):
        store.delete(voice_id)
    assert sorted(os.listdir(tmp_path)) == ["voices"] and os.listdir(tmp_path / "voices") == []


@pytest.mark.parametrize("voice_id", ["a", "Alice_2", "x-1", "9" * 64])
def test_plain_ids_are_accepted(voice_id: str) -> None:
    assert check_voice_id(voice_id) == voice_id


def test_round_trip_list_and_delete(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    info = store.add("alice", make_voice(150, "Hi there."))
    assert (info.id, info.transcript, info.duration_s) == ("alice", "Hi there.", 2.0)
    assert (tmp_path / "alice.voice.pt").is_file()
    fresh = VoiceStore(tmp_path)  # a new process reads the same file
    loaded = fresh.get("alice")
    assert torch.equal(loaded.codes, make_voice(150).codes) and loaded.text == "Hi there."
    store.add("bob", make_voice(75))
    assert [i.id for i in store.list()] == ["alice", "bob"]
    with pytest.raises(VoiceExistsError, match="exists already"):
        store.add("bob", make_voice())
    store.delete("alice")
    assert store.ids() == ["bob"]
    with pytest.raises(MissingFileError, match="saved voices: bob"):
        store.get("alice")
    with pytest.raises(MissingFileError):
        store.delete("alice")


def test_a_changed_file_is_reloaded(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    store.add("v", make_voice(75, "One."))
    assert store.get("v").text == "One."
    make_voice(90, "Two.").save(tmp_path / "v.voice.pt")
    os.utime(tmp_path / "v.voice.pt", (1, 1))  # a different mtime, whatever the clock resolution
    assert store.get("v").text == "Two." and store.get("v").num_frames == 90


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.voice.pt"
    make_voice().save(outside)
    root = tmp_path / "voices"
    store = VoiceStore(root)
    (root / "evil.voice.pt").symlink_to(outside)
    with pytest.raises(InvalidInputError, match="outside the voices folder"):
        store.get("evil")
    assert [i.id for i in store.list()] == []


def test_a_foreign_file_is_a_data_error_and_skipped_in_listings(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    (tmp_path / "junk.voice.pt").write_bytes(b"not a voice")
    store.add("good", make_voice())
    with pytest.raises(DataError):
        store.get("junk")
    assert [i.id for i in store.list()] == ["good"]


def test_an_unusable_folder_is_a_one_sentence_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InvalidInputError, match="cannot create the voices folder"):
        VoiceStore(blocker / "voices")
