"""`valle average-checkpoints` and `valle.models.average`: the weighted mean of checkpoints of one network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.models.conftest import make_batch, randomize_, write_reference_checkpoint
from valle.cli import main
from valle.errors import InvalidInputError
from valle.models import build_model, debug_config, load_checkpoint, save_checkpoint
from valle.models.average import average_checkpoints, normalized_weights

SYMBOLS = ["<pad>", "<bos>", "<eos>", "a", "b", "ʃ"]
CODEC = {"name": "synth-codec", "sample_rate": 24000}


def _two(tmp_path: Path, **config: object) -> tuple[Path, Path, dict, dict]:
    """Two differently randomised models of one config, saved as exports; their float32 state dicts."""
    a = randomize_(build_model(debug_config(num_quantizers=4, **config)), seed=1)
    b = randomize_(build_model(debug_config(num_quantizers=4, **config)), seed=2)
    extra = {"synthesis": {"top_k": 10}}
    pa = save_checkpoint(tmp_path / "a.pt", a, symbols=SYMBOLS, codec=CODEC, extra=extra)
    pb = save_checkpoint(tmp_path / "b.pt", b, symbols=SYMBOLS, codec=CODEC)
    return pa, pb, a.state_dict(), b.state_dict()


def test_cli_average_is_the_elementwise_mean_keeps_ties_and_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pa, pb, sa, sb = _two(tmp_path)
    assert main(["average-checkpoints", str(pa), str(pb), "--out", str(tmp_path / "avg.pt")]) == 0
    assert "averaged over 2 checkpoints with weights 0.5, 0.5" in capsys.readouterr().out
    avg = load_checkpoint(tmp_path / "avg.pt")
    assert avg.meta.symbols == SYMBOLS and avg.meta.codec == CODEC
    assert avg.meta.extra["synthesis"] == {"top_k": 10}  # the first checkpoint's recommendation
    assert avg.meta.extra["averaged_from"] == [str(pa), str(pb)] and avg.meta.extra["average_weights"] == [0.5, 0.5]
    changed = floats = 0
    for name, v in avg.state_dict().items():
        if v.is_floating_point():
            floats += 1
            expected = ((sa[name].double() + sb[name].double()) / 2).float()
            assert torch.equal(v, expected), name
            changed += not torch.equal(v, sa[name])
        else:
            assert torch.equal(v, sa[name]), name
    assert changed == floats > 50  # every randomised tensor moved
    tied = avg.nar_predict_layers[0].weight  # the reference ties NAR output layer j to embedding j + 2
    assert tied is avg.nar_audio_embeddings[2].word_embeddings.weight
    x, x_lens, y, y_lens = make_batch(avg.config, [7, 5], [10, 8])
    a, b = load_checkpoint(pa), load_checkpoint(pb)
    with torch.no_grad():
        outs = [m.ar_logits(x, x_lens, y, y_lens) for m in (a, b, avg)]
    assert not torch.allclose(outs[2], outs[0]) and not torch.allclose(outs[2], outs[1])


def test_weights_and_part_ar_leave_the_nar_of_the_first_checkpoint(tmp_path: Path) -> None:
    pa, pb, sa, sb = _two(tmp_path)
    avg = average_checkpoints([pa, pb], weights=[3, 1], part="ar")
    ar = nar = 0
    for name, v in avg.state_dict().items():
        if not v.is_floating_point():
            continue
        if name.startswith("nar_"):
            assert torch.equal(v, sa[name]), name
            nar += 1
        else:
            assert torch.equal(v, (0.75 * sa[name].double() + 0.25 * sb[name].double()).float()), name
            ar += 1
    assert ar > 20 and nar > 20
    only_nar = average_checkpoints([pa, pb], part="nar").state_dict()
    assert all(torch.equal(v, sa[k]) for k, v in only_nar.items() if not k.startswith("nar_"))
    assert not torch.equal(only_nar["nar_decoder.layers.0.linear1.weight"], sa["nar_decoder.layers.0.linear1.weight"])


def test_float16_exports_and_reference_checkpoints_average_in_float32(tmp_path: Path) -> None:
    a = randomize_(build_model(debug_config(num_quantizers=4)), seed=1)
    half = tmp_path / "half.pt"
    save_checkpoint(tmp_path / "full.pt", a, symbols=SYMBOLS)
    assert main(["export-model", str(tmp_path / "full.pt"), str(half), "--dtype", "float16"]) == 0
    ref = write_reference_checkpoint(tmp_path / "epoch-1.pt", a)  # lifeiteng layout, no symbol table
    avg = average_checkpoints([half, ref])
    assert avg.meta.symbols == SYMBOLS
    for name, v in avg.state_dict().items():
        if v.is_floating_point():
            w = a.state_dict()[name].double()
            assert v.dtype == torch.float32 and torch.equal(v, ((w.half().double() + w) / 2).float()), name
    assert (
        main(["average-checkpoints", str(half), str(half), "-o", str(tmp_path / "same.pt"), "--dtype", "float16"]) == 0
    )
    same = torch.load(tmp_path / "same.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(v, a.state_dict()[k].half()) for k, v in same.items() if v.is_floating_point())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{a}"], "at least two checkpoints"),
        (["{a}", "{other}"], "different model configs (num_decoder_layers)"),
        (["{a}", "{symbols}"], "different text symbol tables"),
        (["{a}", "{codec}"], "different codecs"),
        (["{a}", "{b}", "--weights", "1,x"], "--weights must be comma-separated numbers"),
        (["{a}", "{b}", "--weights", "1"], "got 1 weights for 2 checkpoints"),
        (["{a}", "{b}", "--weights", "1,-1"], "weights must be finite numbers >= 0"),
        (["{a}", "{b}", "--weights", "1,nan"], "weights must be finite numbers >= 0"),  # would write NaN weights
        (["{a}", "{b}", "--weights", "1,inf"], "weights must be finite numbers >= 0"),
        (["{a}", "{b}", "--part", "decoder"], "part must be one of all, ar, nar"),
        (["{a}", "{b}", "--dtype", "int8"], "--dtype must be one of"),
        (["{a}", "{b}", "--synthesis", '{"top_k": "x"}'], "top_k"),
        (["{a}", "{tmp}/missing.pt"], "checkpoint {tmp}/missing.pt does not exist; give checkpoint files"),
        (["{tmp}", "{a}"], "checkpoint {tmp} is a folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    pa, pb, _, _ = _two(tmp_path)
    model = build_model(debug_config(num_quantizers=4))
    paths = {
        "a": pa, "b": pb, "tmp": tmp_path,
        "other": save_checkpoint(tmp_path / "o.pt", build_model(debug_config(num_quantizers=4, num_decoder_layers=3))),
        "symbols": save_checkpoint(tmp_path / "s.pt", model, symbols=[*SYMBOLS, "x"]),
        "codec": save_checkpoint(tmp_path / "c.pt", model, symbols=SYMBOLS, codec={"name": "encodec_24khz"}),
    }  # fmt: skip
    out = tmp_path / "avg.pt"
    argv = [str(paths[a[1:-1]]) if a[1:-1] in paths else a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["average-checkpoints", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if "averaging:" not in line and line.strip()]
    message = message.replace("{tmp}", str(tmp_path))
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err  # tqdm's bar aside, one line
    assert not out.exists()
    assert main(["average-checkpoints", str(pa), str(pb), "--out", str(pa)]) == 2  # never overwrite an input
    assert "is one of the inputs" in capsys.readouterr().err


def test_normalized_weights() -> None:
    assert normalized_weights(None, 4) == [0.25] * 4
    assert normalized_weights([2, 6], 2) == [0.25, 0.75]
    with pytest.raises(InvalidInputError, match="positive sum"):
        normalized_weights([0, 0], 2)
