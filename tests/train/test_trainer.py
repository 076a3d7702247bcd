"""The training loop in-process: learning, exact resume, stage switching, skipped updates, outputs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from valle.models import VALLE, load_checkpoint, read_checkpoint_dict
from valle.models.config import PrefixMode
from valle.text import SymbolTable, TextTokenCollater
from valle.train import train
from valle.train.hooks import register_inf_check_hooks

from .conftest import CODEC, TOKENIZER, tiny_config


def test_validation_loss_falls_on_learnable_codes(learnable_corpus: Path, tmp_path: Path) -> None:
    result = train(tiny_config(learnable_corpus, tmp_path / "exp", num_epochs=3, warmup_steps=0))
    valid = [loss for _, loss in result.valid_losses]
    assert len(valid) == 3  # one validation per epoch
    assert valid[0] > valid[1] > valid[2], valid
    assert valid[-1] < 0.6 * valid[0], valid


def test_resume_mid_epoch_reproduces_the_uninterrupted_run(random_corpus: Path, tmp_path: Path) -> None:
    kwargs = {"num_epochs": 2, "save_every_n": 3, "valid_interval": 4}
    full = train(tiny_config(random_corpus, tmp_path / "full", **kwargs))
    assert full.step >= 10
    first = train(tiny_config(random_corpus, tmp_path / "split", max_steps=5, **kwargs))
    assert first.stopped_by == "max_steps" and first.step == 5 and first.epoch == 1  # stopped mid-epoch 1
    rest = train(tiny_config(random_corpus, tmp_path / "split", resume="latest", **kwargs))
    assert first.train_losses + rest.train_losses == full.train_losses  # bit-identical, step by step
    # The stopped run validated once more when it stopped (step 5); everything else is identical.
    assert first.valid_losses[-1][0] == 5
    assert first.valid_losses[:-1] + rest.valid_losses == full.valid_losses
    a = read_checkpoint_dict(tmp_path / "full" / "epoch-2.pt")
    b = read_checkpoint_dict(tmp_path / "split" / "epoch-2.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    # metrics.jsonl of the resumed run reads as one run (lines past the resume point were dropped, none doubled)
    lines = [json.loads(x) for x in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    full_lines = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    lines = [x for x in lines if (x["split"], x["step"]) != ("valid", 5)]
    assert [(x["split"], x["step"], x["loss"]) for x in lines] == [(x["split"], x["step"], x["loss"]) for x in full_lines]


def test_resume_with_worker_processes_and_prompts(random_corpus: Path, tmp_path: Path) -> None:
    # Prefix mode 4 (prompts drawn by the dataset) with a DataLoader worker that reads ahead of training.
    from dataclasses import replace

    from valle.models import debug_config

    model = debug_config(prefix_mode=PrefixMode.OTHER)
    base = tiny_config(random_corpus, tmp_path / "unused", model=model)
    data = replace(base.data, num_workers=1)
    kwargs = {"model": model, "data": data, "num_epochs": 1}
    full = train(tiny_config(random_corpus, tmp_path / "full", **kwargs))
    first = train(tiny_config(random_corpus, tmp_path / "split", max_steps=3, **kwargs))
    rest = train(tiny_config(random_corpus, tmp_path / "split", resume="latest", **kwargs))
    assert first.train_losses + rest.train_losses == full.train_losses


def test_stage_switch_keeps_weights_resets_state_and_honours_start_epoch(random_corpus: Path, tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    ar = train(tiny_config(random_corpus, exp, num_epochs=1, train_stage=1))
    assert ar.epoch == 1 and (exp / "best-valid-loss.pt").is_file()
    # The reference README's recipe: copy the AR's best model to epoch-2.pt, train the NAR from epoch 3.
    (exp / "epoch-2.pt").write_bytes((exp / "best-valid-loss.pt").read_bytes())
    ar_weights = read_checkpoint_dict(exp / "epoch-2.pt")["model"]
    nar = train(tiny_config(random_corpus, exp, num_epochs=3, start_epoch=3, train_stage=2))
    assert nar.epoch == 3  # --start-epoch honoured (the reference reset it to 1)
    assert nar.train_losses[0][0] == 1  # fresh step counter (and so a fresh warmup)
    assert (exp / "best-valid-loss-stage1.pt").is_file()
    assert (exp / "metrics_stage1.jsonl").stat().st_size and (exp / "metrics_stage2.jsonl").stat().st_size
    after = read_checkpoint_dict(exp / "epoch-3.pt")
    assert after["state"]["train_stage"] == 2 and after["state"]["epoch"] == 3
    for name, tensor in after["model"].items():
        same = torch.equal(tensor, ar_weights[name])
        assert same if name.startswith("ar_") else True, f"AR weight {name} changed while training the NAR"
    assert any(not torch.equal(t, ar_weights[k]) for k, t in after["model"].items() if k.startswith("nar_"))


def test_non_finite_loss_skips_the_update(random_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    original = VALLE.forward
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:  # the third training batch
            out.loss = out.loss * float("inf")
        return out

    monkeypatch.setattr(VALLE, "forward", poisoned)
    with caplog.at_level(logging.WARNING):
        result = train(tiny_config(random_corpus, tmp_path / "exp", num_epochs=1))
    assert result.skipped_steps == 1
    assert any("loss is not finite" in r.message for r in caplog.records)
    final = read_checkpoint_dict(tmp_path / "exp" / "epoch-1.pt")
    assert all(torch.isfinite(t).all() for t in final["model"].values() if t.is_floating_point())
    assert final["state"]["skipped_steps"] == 1


@pytest.mark.parametrize("dtype", ["bf16", "float16"])
def test_reduced_precision_autocast_trains(random_corpus: Path, tmp_path: Path, dtype: str) -> None:
    result = train(tiny_config(random_corpus, tmp_path / "exp", num_epochs=1, max_steps=4, dtype=dtype))
    assert result.step == 4 and all(torch.isfinite(torch.tensor(v)) for _, v in result.train_losses)


def test_fp32_attention_trains_under_bf16_and_changes_the_arithmetic(random_corpus: Path, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    plain = train(tiny_config(random_corpus, tmp_path / "a", num_epochs=1, max_steps=3, dtype="bf16"))
    with caplog.at_level(logging.INFO):
        kept = train(tiny_config(random_corpus, tmp_path / "b", num_epochs=1, max_steps=3, dtype="bf16",
                                 fp32_attention=True))  # fmt: skip
    assert any("attention blocks run in float32" in r.message for r in caplog.records)
    assert kept.step == 3 and all(torch.isfinite(torch.tensor(v)) for _, v in kept.train_losses)
    assert [v for _, v in plain.train_losses] != [v for _, v in kept.train_losses]


def test_text_dropout_reaches_the_loss_and_is_recorded_for_synthesis(random_corpus: Path, tmp_path: Path) -> None:
    """--text-dropout changes what the AR trains on, and the inference checkpoint says so (the Synthesizer warns
    about guidance on checkpoints that do not)."""
    plain = train(tiny_config(random_corpus, tmp_path / "a", num_epochs=1, max_steps=4, train_stage=1))
    dropped = train(tiny_config(random_corpus, tmp_path / "b", num_epochs=1, max_steps=4, train_stage=1,
                                text_dropout=0.5))  # fmt: skip
    assert dropped.step == 4 and all(torch.isfinite(torch.tensor(v)) for _, v in dropped.train_losses)
    assert [v for _, v in plain.train_losses] != [v for _, v in dropped.train_losses]
    assert load_checkpoint(tmp_path / "b" / "model-last.pt").meta.extra["text_dropout"] == 0.5
    assert load_checkpoint(tmp_path / "a" / "model-last.pt").meta.extra["text_dropout"] == 0.0


def test_outputs_checkpoints_and_inference_model(random_corpus: Path, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    exp = tmp_path / "exp"
    with caplog.at_level(logging.INFO):
        result = train(tiny_config(random_corpus, exp, num_epochs=1, save_every_n=2, keep_last_k=2, tensorboard=True,
                                   average_period=1, oom_check=True, valid_interval=3, visualize=True))  # fmt: skip
    progress = [r.message for r in caplog.records if "frames/s" in r.message]
    assert progress and all(k in progress[0] for k in ("loss", "top10", "lr", "ETA"))
    assert any("pessimistic batch" in r.message for r in caplog.records)  # --oom-check ran
    assert list((exp / "eval").glob("step-*/*.png"))  # --visualize
    steps = sorted(int(p.stem.split("-")[1]) for p in exp.glob("checkpoint-*.pt"))
    assert len(steps) == 2 and steps[-1] == max(s for s in range(2, result.step + 1, 2))
    for name in ("epoch-1.pt", "best-train-loss.pt", "best-valid-loss.pt", "model-last.pt", "model-best-valid.pt",
                 "model-avg.pt"):  # fmt: skip
        assert (exp / name).is_file(), name
    assert list((exp / "tensorboard").glob("events.out.tfevents.*"))
    lines = [json.loads(x) for x in (exp / "metrics.jsonl").read_text().splitlines()]
    assert {x["split"] for x in lines} == {"train", "valid"}
    train_line = next(x for x in lines if x["split"] == "train")
    for key in ("loss", "ar_loss", "ar_top10_acc", "nar_loss", "nar_top10_acc", "lr", "grad_norm", "frames_per_s"):
        assert key in train_line and train_line[key] == train_line[key], key  # present and not NaN
    # The small inference checkpoint carries what synthesis needs: no side files.
    model = load_checkpoint(exp / "model-last.pt")
    assert model.meta.symbols == SymbolTable.from_file(random_corpus / "unique_text_tokens.k2symbols").symbols
    assert model.meta.tokenizer == TOKENIZER and model.meta.codec == CODEC
    assert (exp / "model-last.pt").stat().st_size < 0.6 * (exp / "epoch-1.pt").stat().st_size
    # The training checkpoint also loads where a reference checkpoint is expected (model + flags at top level).
    ref_style = load_checkpoint(exp / "best-valid-loss.pt")
    assert ref_style.meta.source == "valle-train"  # and it carries what synthesis needs, like model-*.pt
    assert (ref_style.meta.symbols, ref_style.meta.tokenizer, ref_style.meta.codec) == (
        model.meta.symbols, model.meta.tokenizer, model.meta.codec)  # fmt: skip
    saved = read_checkpoint_dict(exp / "best-valid-loss.pt")["model"]
    for k, v in ref_style.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_inf_check_names_the_module(caplog: pytest.LogCaptureFixture) -> None:
    class Blow(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x / 0.0

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), Blow())
    handles = register_inf_check_hooks(model)
    with caplog.at_level(logging.WARNING):
        model(torch.ones(1, 2)).sum().backward()
    messages = " ".join(r.message for r in caplog.records)
    assert "module 1 " in messages and "module 0 " not in messages
    assert "gradient of parameter 0.weight" in messages
    for h in handles:
        h.remove()


def test_accumulation_steps_the_optimizer_every_n_batches(random_corpus: Path, tmp_path: Path) -> None:
    result = train(tiny_config(random_corpus, tmp_path / "exp", num_epochs=1, accumulate_grad_steps=2, save_every_n=2))
    batches = result.step
    assert batches % 2 == 1  # the epoch ends mid-accumulation: the leftover is applied too
    opt = read_checkpoint_dict(tmp_path / "exp" / "epoch-1.pt")["optimizer"]
    assert max(s["step"] for s in opt["state"].values()) == (batches + 1) // 2


def test_cosine_schedule_spans_all_epochs_without_max_steps(random_corpus: Path, tmp_path: Path) -> None:
    result = train(tiny_config(random_corpus, tmp_path / "exp", num_epochs=2, scheduler_name="cosine",
                               optimizer_name="AdamW", base_lr=1e-3, warmup_steps=2))  # fmt: skip
    sched = read_checkpoint_dict(tmp_path / "exp" / "epoch-2.pt")["scheduler"]
    # Estimated before training as epochs x batches of the first epoch (bucketed epochs differ slightly).
    assert abs(sched["total_steps"] - result.step) <= 0.2 * result.step, (sched["total_steps"], result.step)
    assert sched["total_steps"] >= 10


def test_starts_from_a_reference_checkpoint(reference_dir: Path, random_corpus: Path, tmp_path: Path) -> None:
    # The reference README flow: put epoch-N.pt in --exp-dir and pass --start-epoch N+1.
    from valle.models import ModelConfig

    ref = reference_dir / "lifeiteng_ckpt" / "epoch-1.pt"
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "epoch-1.pt").write_bytes(ref.read_bytes())
    model = ModelConfig(decoder_dim=64, nhead=4, num_decoder_layers=2, prefix_mode=1)
    result = train(tiny_config(random_corpus, exp, model=model, start_epoch=2, num_epochs=2, max_steps=2))
    assert result.step == 2 and result.epoch == 2
    before = read_checkpoint_dict(ref)["model"]
    after = read_checkpoint_dict(exp / "checkpoint-2.pt")["model"]
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert moved and len(moved) < len(before)  # trained from the reference weights (not from scratch)


def test_fine_tuning_from_weights_with_other_symbols_moves_each_embedding_row_to_its_symbol(
    random_corpus: Path, tmp_path: Path
) -> None:
    """A corpus with a new phoneme shifts the ids after it; the start weights follow their symbols."""
    from valle.models import build_model, debug_config
    from valle.text import TextTokenCollater
    from valle.train.resume import TEXT_EMBEDDINGS, load_start_checkpoint, read_start_checkpoint

    exp = tmp_path / "exp"
    train(tiny_config(random_corpus, exp, num_epochs=1, max_steps=1))
    source = load_checkpoint(exp / "model-last.pt")
    old = source.meta.symbols
    new = sorted(old + ["!new"])  # sorts before every phoneme: all their ids move by one
    cfg = tiny_config(random_corpus, tmp_path / "exp2", resume=str(exp / "model-last.pt"))
    torch.manual_seed(0)
    target = build_model(debug_config())
    untouched = {k: target.state_dict()[k].clone() for k in TEXT_EMBEDDINGS}
    start = read_start_checkpoint(cfg)
    assert load_start_checkpoint(cfg, target, target.config, True, start, new) == (None, None)  # fresh optimizer state
    old_ids, new_ids = TextTokenCollater(old).token2idx, TextTokenCollater(new).token2idx
    for key in TEXT_EMBEDDINGS:
        before, after = source.state_dict()[key], target.state_dict()[key]
        for token in old:
            assert torch.equal(after[new_ids[token]], before[old_ids[token]]), (key, token)
        assert torch.equal(after[new_ids["!new"]], untouched[key][new_ids["!new"]])  # a new symbol: fresh row
    assert torch.equal(target.state_dict()["ar_audio_embedding.word_embeddings.weight"],
                       source.state_dict()["ar_audio_embedding.word_embeddings.weight"])  # fmt: skip


def test_fine_tuning_keeps_the_symbols_the_start_checkpoint_knows_and_the_corpus_lacks(
    random_corpus: Path, tmp_path: Path
) -> None:
    """A fine-tune on a smaller corpus must not forget how to read a symbol: it stays in the table, in every
    checkpoint written (training and inference), with its embedding row; a resume keeps it too."""
    from valle.train.resume import TEXT_EMBEDDINGS, remap_text_rows

    exp = tmp_path / "exp"
    train(tiny_config(random_corpus, exp, num_epochs=1, max_steps=1))
    ckpt = read_checkpoint_dict(exp / "model-last.pt")
    corpus_symbols = list(ckpt["symbols"])
    wider = corpus_symbols + ["!old"]  # sorts before every phoneme, so every id moves
    marked = {k: torch.full_like(v, 7.0) for k, v in ckpt["state_dict"].items()}
    ckpt["state_dict"] = remap_text_rows(ckpt["state_dict"], corpus_symbols, wider, marked, exp / "model-last.pt")
    ckpt["symbols"] = wider
    torch.save(ckpt, tmp_path / "start.pt")

    exp2 = tmp_path / "exp2"
    train(tiny_config(random_corpus, exp2, num_epochs=1, max_steps=1, resume=str(tmp_path / "start.pt")))
    old_id = TextTokenCollater(wider).token2idx["!old"]
    for name in ("model-last.pt", "checkpoint-1.pt"):
        written = read_checkpoint_dict(exp2 / name)
        assert sorted(written["symbols"]) == sorted(wider), name
    weights = load_checkpoint(exp2 / "model-last.pt").state_dict()
    for key in TEXT_EMBEDDINGS:  # never seen in this corpus: its row is the start checkpoint's
        assert torch.allclose(weights[key][old_id], torch.full_like(weights[key][old_id], 7.0), atol=1e-3), key

    train(tiny_config(random_corpus, exp2, num_epochs=1, max_steps=2, resume="latest"))  # same-stage resume
    assert sorted(read_checkpoint_dict(exp2 / "checkpoint-2.pt")["symbols"]) == sorted(wider)


def test_fine_tuning_carries_the_start_checkpoints_recommended_synthesis(random_corpus: Path, tmp_path: Path) -> None:
    """Sampling settings tuned on the starting model travel into every checkpoint a fine-tune writes (training
    and inference, across a resume and a stage switch), so `valle infer` on the result samples as recommended;
    a run from scratch recommends nothing."""
    from valle.infer import SynthesisOptions
    from valle.infer.synthesizer import recommended_options

    exp = tmp_path / "exp"
    train(tiny_config(random_corpus, exp, num_epochs=1, max_steps=1))
    assert read_checkpoint_dict(exp / "checkpoint-1.pt")["synthesis"] is None
    assert "synthesis" not in read_checkpoint_dict(exp / "model-last.pt")["extra"]
    assert recommended_options(load_checkpoint(exp / "model-last.pt")) == SynthesisOptions()
    settings = {"top_k": 7, "temperature": 0.6}
    ckpt = read_checkpoint_dict(exp / "model-last.pt")
    ckpt["extra"]["synthesis"] = settings
    torch.save(ckpt, tmp_path / "start.pt")
    wanted = SynthesisOptions().with_changes(**settings)

    exp2 = tmp_path / "exp2"
    train(tiny_config(random_corpus, exp2, num_epochs=1, max_steps=1, resume=str(tmp_path / "start.pt")))
    train(tiny_config(random_corpus, exp2, num_epochs=1, max_steps=2, resume="latest"))  # same-stage resume
    train(tiny_config(random_corpus, exp2, num_epochs=1, max_steps=1, train_stage=2,
                      resume=str(exp2 / "checkpoint-2.pt")))  # fmt: skip  # stage switch
    for name in ("checkpoint-1.pt", "checkpoint-2.pt", "model-last.pt"):
        assert recommended_options(load_checkpoint(exp2 / name)) == wanted, name
    assert read_checkpoint_dict(exp2 / "model-last.pt")["extra"]["synthesis"] == settings
    assert read_checkpoint_dict(exp2 / "model-last.pt")["extra"]["train_stage"] == 2
