"""Our checkpoint format, safe loading of untrusted files, and `valle model-info` on both formats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from tests.models.conftest import make_batch, randomize_, write_reference_checkpoint
from valle.cli import main
from valle.errors import CheckpointError, InvalidInputError, MissingFileError
from valle.models import build_model, debug_config, load_checkpoint, save_checkpoint
from valle.models.checkpoint import FORMAT_VERSION

SYMBOLS = ["<pad>", "<bos>", "<eos>", "a", "b", "ʃ"]


def test_round_trip_keeps_weights_config_and_metadata(tmp_path: Path) -> None:
    model = randomize_(build_model(debug_config(model_name="VALL-F", prepend_bos=True, add_prenet=True)))
    path = save_checkpoint(
        tmp_path / "m.pt", model, symbols=SYMBOLS, tokenizer={"backend": "espeak", "language": "en-us"},
        codec={"name": "encodec_24khz", "bandwidth": 6.0, "sample_rate": 24000}, extra={"step": 12, "note": None},
    )  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind
    loaded = load_checkpoint(path)
    assert loaded.config == model.config and not loaded.training
    assert loaded.meta.source == "valle" and loaded.meta.format_version == FORMAT_VERSION
    assert loaded.meta.symbols == SYMBOLS and loaded.meta.codec["bandwidth"] == 6.0
    assert loaded.meta.tokenizer == {"backend": "espeak", "language": "en-us"} and loaded.meta.extra["step"] == 12
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    x, x_lens, y, y_lens = make_batch(model.config, [7, 5], [10, 8])
    with torch.no_grad():
        torch.testing.assert_close(loaded.nar_logits(x, x_lens, y, y_lens, 3, 2), model.nar_logits(x, x_lens, y, y_lens, 3, 2))


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path: Path) -> None:
    model = build_model(debug_config(share_embedding=True))
    unshared = build_model(debug_config(share_embedding=False))
    a = save_checkpoint(tmp_path / "tied.pt", model)
    b = save_checkpoint(tmp_path / "untied.pt", unshared)
    assert os.path.getsize(a) < os.path.getsize(b) - 5 * 1024 * 32 * 4  # 6 tied 1024 x 32 tables not duplicated
    loaded = load_checkpoint(a)
    assert loaded.nar_predict_layers[3].weight is loaded.nar_audio_embeddings[5].word_embeddings.weight


def test_metadata_must_be_plain_data(tmp_path: Path) -> None:
    model = build_model(debug_config())
    with pytest.raises(InvalidInputError, match=r"codec\['path'\] is a PosixPath"):
        save_checkpoint(tmp_path / "m.pt", model, codec={"path": Path("/x")})
    assert not any(tmp_path.iterdir())


class _Exploit:
    """Pickles as a call to os.mkdir: a loader that runs pickled code would create the directory."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (str(self.target),))


def test_untrusted_pickle_is_refused_not_executed(tmp_path: Path) -> None:
    model = build_model(debug_config())
    marker = tmp_path / "pwned"
    from tests.models.conftest import reference_format_dict

    ckpt = reference_format_dict(model)
    ckpt["sampler"] = _Exploit(marker)
    torch.save(ckpt, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize(
    "content,error,match",
    [
        (None, MissingFileError, "does not exist"),
        (b"not a zip or pickle", CheckpointError, "cannot read .*written by torch.save"),
        ({"weights": 1}, CheckpointError, "neither"),
        ({"model": {}, "decoder_dim": 64}, CheckpointError, "lacks the model flags"),
        ({"format": "valle-checkpoint", "format_version": 99, "model_config": {}}, CheckpointError, "version 99"),
        ({"format": "valle-checkpoint", "format_version": 1, "model_config": {"nhead": 5, "decoder_dim": 32}},
         CheckpointError, "divisible"),
    ],
    ids=["missing", "garbage", "unknown_dict", "no_flags", "too_new", "bad_config"],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, content, error, match: str) -> None:
    path = tmp_path / "c.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(error, match=match):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config_are_reported(tmp_path: Path) -> None:
    model = build_model(debug_config(share_embedding=False))
    ckpt = {"format": "valle-checkpoint", "format_version": 1, "model_config": debug_config().to_dict(),
            "state_dict": {k: v for k, v in model.state_dict().items() if "ar_decoder.norm" not in k}}
    torch.save(ckpt, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="missing .*ar_decoder.norm"):
        load_checkpoint(tmp_path / "c.pt")


def test_model_info_on_both_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build_model(debug_config(model_name="VALL-F", num_quantizers=4))
    ours = save_checkpoint(tmp_path / "ours.pt", model, symbols=SYMBOLS, codec={"name": "mel-kmeans"})
    theirs = write_reference_checkpoint(tmp_path / "epoch-1.pt", model)
    counts = model.parameter_counts()
    assert counts["total"] == counts["ar"] + counts["nar"] > 0
    for path, fmt in ((ours, "valle"), (theirs, "lifeiteng")):
        assert main(["model-info", str(path), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["format"] == fmt and info["parameters"] == counts
        assert info["config"]["model_name"].lower() in ("vall-f", "vallf") and info["config"]["num_quantizers"] == 4
    assert main(["model-info", str(ours)]) == 0
    text = capsys.readouterr().out
    assert "decoder_dim" in text and f"{counts['nar']:,}" in text and "text symbols: 6" in text
    assert main(["model-info", str(tmp_path / "nope.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_export_model_writes_lean_float16_checkpoints_that_load_as_float32(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = randomize_(build_model(debug_config(num_quantizers=4)))
    full = save_checkpoint(tmp_path / "m.pt", model, symbols=SYMBOLS, codec={"name": "mel-kmeans"}, extra={"step": 3})
    assert main(["export-model", str(full), str(tmp_path / "half.pt"), "--dtype", "float16"]) == 0
    assert "float16 weights" in capsys.readouterr().out
    half = load_checkpoint(tmp_path / "half.pt")
    unique = {t.data_ptr(): t for t in model.state_dict().values() if t.is_floating_point()}  # tied tables once
    weight_bytes = sum(t.numel() * 4 for t in unique.values())
    assert os.path.getsize(tmp_path / "half.pt") < os.path.getsize(full) - 0.45 * weight_bytes  # the weights halved
    assert half.config == model.config and half.meta.symbols == SYMBOLS and half.meta.codec == {"name": "mel-kmeans"}
    assert half.meta.extra["step"] == 3 and half.meta.extra["weights_dtype"] == "float16"
    for (name, a), (_, b) in zip(model.state_dict().items(), half.state_dict().items()):
        assert b.dtype == a.dtype, name  # float32 again once loaded
        expected = a.half().to(a.dtype) if a.is_floating_point() else a
        assert torch.equal(b, expected), name  # each weight rounded to float16, nothing else changed
    x, x_lens, y, y_lens = make_batch(model.config, [7, 5], [10, 8])
    with torch.no_grad():
        ref, got = model.nar_logits(x, x_lens, y, y_lens, 3, 2), half.nar_logits(x, x_lens, y, y_lens, 3, 2)
    assert not torch.equal(ref, got) and torch.allclose(ref, got, rtol=0.02, atol=0.02)
    assert main(["export-model", str(full), str(tmp_path / "x.pt"), "--dtype", "int8"]) == 2
    assert "--dtype must be one of" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()
    assert main(["export-model", str(tmp_path / "nope.pt"), str(tmp_path / "y.pt")]) == 2
