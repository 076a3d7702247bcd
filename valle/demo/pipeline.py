"""`valle demo`: the embedded default end to end on CPU, each stage skipped when its output exists.

    corpus      synthetic multi-speaker corpus (LibriTTS layout)             demo/corpus/
    manifests   lhotse recordings + supervisions                              demo/manifests/
    codec       built-in codec fitted on the training audio                   demo/codec.pt
    tokens      phonemes + codes, cuts_{train,dev,test}                       demo/tokenized/
    train       a small VALL-E within a time budget                           demo/exp/
    speak       test sentences in voices never seen in training              demo/outputs/<system>/
    evaluate    WER / speaker similarity / DNSMOS for every system            demo/report.md (+ PNGs)

Why the codec can come from the package: fitting 8 x 1024 codebooks on the 42 minutes of training audio takes
about 10 minutes on this machine's CPU, a third of the demo's budget.  `valle/assets/` carries the codec fitted
with exactly this recipe on exactly this corpus (same seed, same settings); it is used when the corpus settings
match, and `--fit-codec` refits it instead.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from valle.data.synth_corpus import SynthCorpusConfig, generate_corpus
from valle.infer.api import SHIPPED_MODEL
from valle.infer.codec_match import SHIPPED_CODEC

logger = logging.getLogger(__name__)

ASSETS = SHIPPED_CODEC.parent  # valle/assets (the codec's path is defined once, where inference looks for it)
SHIPPED_CORPUS = ASSETS / "synth-corpus.json"  # the corpus settings the shipped files were made from


@dataclass
class DemoConfig:
    """What `valle demo` runs."""

    work_dir: Path = Path("demo")  # every stage writes below it (reused on rerun)
    speakers: int = 40  # synthetic corpus speakers (8 of them held out as unseen test voices)
    utterances_per_speaker: int = 24
    seed: int = 0
    minutes: float = 15.0  # training budget (wall clock); 15 keeps a fresh `make demo` near 30 minutes; 0 = no
    # training (the "demo" system is left out; e.g. to evaluate `extra_systems` only)
    fit_codec: bool = False  # refit the codec even when the shipped one matches the corpus
    # Test sentences synthesized per system (2 per unseen speaker).  16, not 8: one item where Whisper hears a
    # loop in babble moves a mean of 8 by up to 0.6, and the README's 16-item rows are then the same sentences.
    eval_items: int = 16
    max_seconds: float = 10.0  # longest synthesized sentence (caps an undertrained model that never stops)
    codec_size: int = 1024  # codebook entries when the codec is fitted here (tests use fewer)
    vocoder: str = "hifigan"  # decoder of a codec fitted here: "hifigan" or "griffin-lim" (faster, tests)
    num_threads: int = 1  # torch threads for training and synthesis
    decoder_dim: int = 128  # the demo model: small enough to learn something in minutes on a CPU
    nhead: int = 4
    num_decoder_layers: int = 4
    systems: list[str] = field(default_factory=lambda: ["untrained", "demo", "pretrained"])
    extra_systems: dict[str, Path] = field(default_factory=dict)  # more checkpoints to evaluate, by name

    @property
    def corpus_config(self) -> SynthCorpusConfig:
        return SynthCorpusConfig(
            out=self.work_dir / "corpus",
            speakers=self.speakers,
            utterances_per_speaker=self.utterances_per_speaker,
            seed=self.seed,
        )


PARTS = ("train-clean-100", "dev-clean", "test-clean")


def stage_corpus(cfg: DemoConfig) -> Path:
    return generate_corpus(cfg.corpus_config)


def stage_manifests(cfg: DemoConfig, corpus: Path) -> Path:
    from lhotse.recipes import prepare_libritts

    out = cfg.work_dir / "manifests"
    if not all((out / f"libritts_supervisions_{p}.jsonl.gz").is_file() for p in PARTS):
        prepare_libritts(corpus, dataset_parts=list(PARTS), output_dir=out)
    return out


def _corpus_settings(corpus: Path) -> dict:
    return json.loads((corpus / "synth_corpus.json").read_text())["settings"]


def stage_codec(cfg: DemoConfig, corpus: Path) -> Path:
    """The shipped codec when it was fitted on this very corpus, else a freshly fitted one."""
    from valle.codec import fit_builtin_codec

    out = cfg.work_dir / "codec.pt"
    if out.is_file():
        return out
    shipped_ok = SHIPPED_CODEC.is_file() and SHIPPED_CORPUS.is_file()
    if shipped_ok and not cfg.fit_codec and json.loads(SHIPPED_CORPUS.read_text()) == _corpus_settings(corpus):
        logger.info("using the shipped codec %s (fitted on this corpus; --fit-codec refits it)", SHIPPED_CODEC)
        shutil.copyfile(SHIPPED_CODEC, out)
        return out
    wavs = sorted((corpus / "train-clean-100").rglob("*.wav"))
    logger.info("fitting the built-in codec on %d training files (about 10 minutes on one core)", len(wavs))
    fit_builtin_codec(wavs, codebook_size=cfg.codec_size, vocoder=cfg.vocoder, progress=True, seed=cfg.seed).save(out)
    return out


def stage_tokens(cfg: DemoConfig, manifests: Path, codec: Path) -> Path:
    from valle.data.recipes import combine_splits
    from valle.data.tokenize import TokenizeConfig, tokenize_corpus

    out = cfg.work_dir / "tokenized"
    if not (out / "cuts_test.jsonl.gz").is_file():
        tokenize_corpus(TokenizeConfig(src_dir=manifests, output_dir=out, dataset_parts=PARTS, prefix="libritts",
                                       audio_extractor="Builtin", codec=str(codec)))
        combine_splits("synthetic", out)
    return out


def model_config(cfg: DemoConfig) -> object:
    from valle.models import ModelConfig

    # No attention dropout: on a CPU it forces PyTorch's explicit attention path, and the demo is short of
    # steps, not of regularisation (a training step is ~1.5x faster without it).
    return ModelConfig(decoder_dim=cfg.decoder_dim, nhead=cfg.nhead, num_decoder_layers=cfg.num_decoder_layers,
                       prefix_mode=1, attention_dropout=0.0)


def stage_train(cfg: DemoConfig, tokenized: Path) -> Path:
    """Train within the budget; a finished run (model-last.pt present) is reused as is."""
    from valle.data.config import DataConfig
    from valle.train import TrainConfig, train

    exp = cfg.work_dir / "exp"
    if (exp / "model-last.pt").is_file() and (exp / "demo-done.json").is_file():
        return exp / "model-last.pt"
    tcfg = TrainConfig(
        model=model_config(cfg),
        data=DataConfig(manifest_dir=tokenized, max_duration=40, num_workers=0),
        exp_dir=exp,
        num_epochs=1000,
        max_minutes=cfg.minutes,
        base_lr=0.03,
        warmup_steps=200,
        log_interval=50,
        tensorboard=False,
        keep_last_k=2,
        num_threads=cfg.num_threads,
        resume="latest" if (exp / "latest.txt").is_file() else None,
        seed=cfg.seed,
    )
    result = train(tcfg)
    assert result.model_checkpoint is not None, "training wrote no model checkpoint"
    (exp / "demo-done.json").write_text(json.dumps({"step": result.step, "epoch": result.epoch}))
    return result.model_checkpoint


def trained_before(cfg: DemoConfig) -> Path | None:
    """The demo model a finished earlier run left (reported even when this run trains nothing), or None."""
    exp = cfg.work_dir / "exp"
    done = (exp / "model-last.pt").is_file() and (exp / "demo-done.json").is_file()
    return exp / "model-last.pt" if done else None


def stage_speak_and_evaluate(cfg: DemoConfig, corpus: Path, codec: Path, demo_model: Path | None) -> Path:
    """Synthesize the test items with every system, evaluate them, write demo/report.md."""
    from valle.demo.report import spectrogram, training_curve, write_report
    from valle.demo.speak import (
        forget_stale_outputs,
        load_system,
        pick_items,
        speak_ground_truth,
        speak_system,
        system_stamp,
    )
    from valle.errors import MissingDependencyError

    items = pick_items(corpus, cfg.eval_items)
    out = cfg.work_dir / "outputs"
    speak_ground_truth(items, out, codec)
    # without a demo model, the untrained baseline takes the shipped model's shape (the same small size)
    checkpoints = {"untrained": demo_model or SHIPPED_MODEL, "demo": demo_model, "pretrained": SHIPPED_MODEL,
                   **cfg.extra_systems}  # fmt: skip
    notes = []
    systems = ["ground_truth", "codec"]
    max_frames = round(cfg.max_seconds * 75)
    for name in [s for s in cfg.systems if checkpoints[s] is not None] + list(cfg.extra_systems):
        checkpoint = checkpoints[name]
        assert checkpoint is not None
        synth = load_system(name, checkpoint, codec, seed=cfg.seed)
        if synth is None:
            notes.append(f"{name}: not available ({checkpoint} missing or built for another codec)")
            continue
        forget_stale_outputs(out / name, system_stamp(checkpoint, cfg.seed, max_frames))
        speak_system(synth, items, out / name, max_frames=max_frames)
        systems.append(name)
    curve = "exp_curve.png" if training_curve(cfg.work_dir / "exp" / "metrics.jsonl", cfg.work_dir / "exp_curve.png") else None
    pngs = []
    for it in items[:4]:
        wav = out / "demo" / f"{it.id}.wav"
        if wav.is_file():
            spectrogram(wav, cfg.work_dir / "spectrograms" / f"{it.id}.png", f"{it.id}: {it.text}")
            pngs.append(f"spectrograms/{it.id}.png")
    try:
        summaries, baseline = _evaluate(items, out, systems)
    except MissingDependencyError as e:
        notes.append(f"no objective evaluation: {e}")
        summaries, baseline = {}, None
    report = cfg.work_dir / "report.md"
    write_report(report, summaries, baseline, curve, pngs, notes)
    (cfg.work_dir / "report.json").write_text(json.dumps({"systems": summaries, "sim_different_speakers": baseline},
                                                         indent=1))
    return report


def _evaluate(items: list, out: Path, systems: list[str]) -> tuple[dict[str, dict], float | None]:
    """Each system's summary (reused from its folder while its wavs and the scoring are unchanged)."""
    from valle.demo.scores import cached_summary, scoring_key, store_summary
    from valle.eval.evaluate import EvalItem, different_speaker_baseline, evaluate, summarize

    summaries: dict[str, dict] = {}
    prompts = [EvalItem(output=it.prompt, text=it.prompt_text, prompt=it.prompt, speaker=it.speaker) for it in items]
    for name in systems:
        done = [it for it in items if (out / name / f"{it.id}.wav").is_file()]
        if not done:
            summaries[name] = summarize([])  # every metric None, the same keys as a scored system
            continue
        wavs = [out / name / f"{it.id}.wav" for it in done]
        key = scoring_key(done, wavs)
        summary = cached_summary(out / name, key)
        if summary is None:
            logger.info("scoring %s (%d outputs)", name, len(wavs))
            evals = [EvalItem(output=w, text=it.text, prompt=it.prompt, speaker=it.speaker)
                     for it, w in zip(done, wavs)]  # fmt: skip
            summary = summarize(evaluate(evals))
            store_summary(out / name, key, summary)
        summaries[name] = summary
    return summaries, different_speaker_baseline(prompts)


def run_demo(cfg: DemoConfig) -> Path:
    """Every stage in order (each reused when done); returns the report's path."""
    from valle.utils import set_num_threads

    set_num_threads(cfg.num_threads)
    corpus = stage_corpus(cfg)
    manifests = stage_manifests(cfg, corpus)
    codec = stage_codec(cfg, corpus)
    tokenized = stage_tokens(cfg, manifests, codec)
    model = stage_train(cfg, tokenized) if cfg.minutes > 0 else trained_before(cfg)
    return stage_speak_and_evaluate(cfg, corpus, codec, model)
