"""`valle train-reader`: the code reader learns to spell a corpus's phonemes from codebook 1."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import torch

from tests.train.conftest import CODEC
from valle.cli import main as cli_main
from valle.data.config import DataConfig
from valle.models.code_reader import load_reader
from valle.text import SymbolTable, TextTokenCollater
from valle.train.data import build_valid_loader
from valle.train.reader import ReaderTrainConfig, dev_loss, train_reader


def _dev_loader(corpus: Path):  # the dev batches, as train_reader reads them
    collater = TextTokenCollater(SymbolTable.from_file(corpus / "unique_text_tokens.k2symbols").symbols)
    return build_valid_loader(DataConfig(manifest_dir=corpus, max_duration=5.0, num_workers=0), collater, False, 0)


def test_reader_learns_to_spell_the_learnable_corpus(learnable_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "reader.pt"
    cfg = ReaderTrainConfig(manifest_dir=learnable_corpus, out=out, max_duration=5.0, num_epochs=40, lr=5e-3,
                            warmup_steps=20, dim=48, valid_interval=1000, num_workers=0)  # fmt: skip
    best = train_reader(cfg)
    reader, meta = load_reader(out)
    assert meta["codec"] == CODEC  # the codec its codes come from, for the check at inference
    assert meta["extra"]["dev_loss_per_token"] == pytest.approx(best)
    assert best < 0.3, best  # from ~10 nats per token untrained
    torch.manual_seed(0)
    untrained = dev_loss(type(reader)(reader.config), _dev_loader(learnable_corpus))
    assert untrained > 5 * best
    # Best-path transcripts of the dev cuts: most tokens right (the reader maps codes to phonemes, not to noise).
    right = total = 0
    for batch in _dev_loader(learnable_corpus):
        codes, lens = batch["audio_features"][..., 0], batch["audio_features_lens"].long()
        for got, ids, n in zip(reader.greedy(codes, lens), batch["text_tokens"], batch["text_tokens_lens"]):
            want = ids[1 : int(n) - 1].tolist()
            right += sum(m.size for m in difflib.SequenceMatcher(None, got, want).get_matching_blocks())
            total += len(want)
    assert right / total > 0.9


def test_reader_from_the_cli(learnable_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.pt"
    argv = ["train-reader", "--manifest-dir", str(learnable_corpus), "--out", str(out), "--num-epochs", "1",
            "--max-duration", "5", "--dim", "16", "--num-workers", "0"]  # fmt: skip
    assert cli_main(argv) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*tmp*"))  # written through a temp file and renamed


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "0"], "--lr must be > 0"),
        (["--max-minutes", "-1"], "--max-minutes must be > 0"),
        (["--manifest-dir", "/nonexistent"], "cuts_train.jsonl.gz"),
    ],
)
def test_reader_cli_rejects_bad_input(
    learnable_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    argv = ["train-reader", "--manifest-dir", str(learnable_corpus), "--out", str(tmp_path / "r.pt"), *flags]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_reader_stops_at_the_time_limit_and_keeps_its_checkpoint(learnable_corpus: Path, tmp_path: Path) -> None:
    cfg = ReaderTrainConfig(manifest_dir=learnable_corpus, out=tmp_path / "r.pt", max_duration=5.0, num_epochs=50,
                            max_minutes=1e-6, dim=16, num_workers=0)  # fmt: skip
    train_reader(cfg)
    _, meta = load_reader(tmp_path / "r.pt")
    assert meta["extra"]["step"] == 1  # one step, then the time stop (and its dev evaluation)


def test_reader_goes_on_from_init(learnable_corpus: Path, tmp_path: Path) -> None:
    def run(out: str, epochs: int, init: Path | None = None) -> float:
        cfg = ReaderTrainConfig(manifest_dir=learnable_corpus, out=tmp_path / out, max_duration=5.0, lr=5e-3,
                                num_epochs=epochs, warmup_steps=5, dim=32, valid_interval=1000, num_workers=0,
                                init=init)  # fmt: skip
        return train_reader(cfg)

    first = run("a.pt", 2)
    steps = load_reader(tmp_path / "a.pt")[1]["extra"]["step"]
    went_on = run("b.pt", 2, init=tmp_path / "a.pt")
    scratch = run("c.pt", 2)
    assert went_on < first  # it starts from a.pt's weights, not from scratch ...
    assert went_on < scratch
    reader, meta = load_reader(tmp_path / "b.pt")
    assert meta["extra"]["init"] == str(tmp_path / "a.pt") and meta["extra"]["init_steps"] == steps
    assert reader.config.dim == 32
    # ... and never writes a reader worse than the one it started from (b.pt as loaded: float16 weights).
    start = dev_loss(reader, _dev_loader(learnable_corpus))
    cfg = ReaderTrainConfig(manifest_dir=learnable_corpus, out=tmp_path / "d.pt", max_duration=5.0, lr=1e-9,
                            num_epochs=1, dim=32, num_workers=0, init=tmp_path / "b.pt")  # fmt: skip
    assert train_reader(cfg) <= start


def test_reader_init_must_fit_the_corpus(
    learnable_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from valle.models.code_reader import CodeReader, CodeReaderConfig, save_reader

    other_vocab = tmp_path / "vocab.pt"
    save_reader(CodeReader(CodeReaderConfig(vocab=["<pad>", "a", "b"], dim=8)), other_vocab, CODEC, {})
    collater = TextTokenCollater(SymbolTable.from_file(learnable_corpus / "unique_text_tokens.k2symbols").symbols)
    other_codec = tmp_path / "codec.pt"
    save_reader(CodeReader(CodeReaderConfig(vocab=list(collater.vocab), codebook_size=CODEC["codebook_size"], dim=8)),
                other_codec, {**CODEC, "sample_rate": 16000}, {})  # fmt: skip
    not_a_reader = tmp_path / "x.pt"
    torch.save({"format": "something else"}, not_a_reader)
    cases = [(tmp_path / "missing.pt", "does not exist"), (other_vocab, "other symbols or codes"),
             (other_codec, "another codec"), (not_a_reader, "is not a code reader checkpoint")]  # fmt: skip
    for init, message in cases:
        argv = ["train-reader", "--manifest-dir", str(learnable_corpus), "--out", str(tmp_path / "r.pt"),
                "--init", str(init), "--num-workers", "0"]  # fmt: skip
        assert cli_main(argv) == 2, init
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r.pt").exists()


def test_reader_training_flushes_denormals_and_restores_the_cpu_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """A confident reader's backward runs on denormals, 2.5x slower unflushed (valle.utils.flush_denormals)."""
    import valle.train.reader as reader_module
    from valle.utils import flush_denormals

    tiny = torch.tensor([1e-39])  # a float32 denormal
    with flush_denormals() as supported:
        inside = float(tiny * 1.0)
    assert float(tiny * 1.0) > 0  # restored on the way out
    if not supported:
        pytest.skip("this CPU cannot flush denormals")
    assert inside == 0.0
    seen = []
    monkeypatch.setattr(reader_module, "_train", lambda cfg: seen.append(float(tiny * 1.0)) or 0.5)
    assert train_reader(None) == 0.5 and seen == [0.0]  # type: ignore[arg-type]
    assert float(tiny * 1.0) > 0
