"""A small multi-speaker English speech corpus made offline, in LibriTTS's exact on-disk layout.

Why: tests, the demo and the `egs/synthetic` recipe need speech from many distinct voices with
transcripts, and nothing can be downloaded here.  Speakers are espeak-ng voice variants that a speaker
encoder tells apart (default male, female, klatt and m7 families), plus flite's voices when flite is
installed, each varied in pitch and speaking rate.  Sentences come from `valle.data.sentences`.

Layout written under `out` (what `lhotse prepare libritts -p PART` reads):

    SPEAKERS.txt                                  ;ID |SEX| SUBSET |MINUTES| NAME
    synth_corpus.json                             settings, written last (marks the corpus complete)
    <part>/<spk>/<chap>/<spk>_<chap>.trans.tsv    id \t original \t normalized
    <part>/<spk>/<chap>/<spk>_<chap>.book.tsv     id \t original \t normalized \t snr
    <part>/<spk>/<chap>/<id>.wav                  24 kHz mono 16-bit PCM
    <part>/<spk>/<chap>/<id>.{original,normalized}.txt

Splits: test-clean holds whole speakers never seen in train-clean-100 (honest zero-shot evaluation);
dev-clean holds held-out utterances of the training speakers (validation loss on seen voices).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from valle.data.sentences import load_sentences
from valle.errors import InvalidInputError, MissingDependencyError
from valle.utils import atomic_write

logger = logging.getLogger(__name__)

SAMPLE_RATE = 24_000  # LibriTTS and the codecs work at 24 kHz
PARTS = ("train-clean-100", "dev-clean", "test-clean")
PEAK = 0.9  # peak-normalise every utterance to this (no clipping, comparable loudness)

# Base voices, interleaved so the first few speakers already cover the distinct families.
# (engine, voice, gender).  espeak variants that a speaker encoder separates: see shared NOTES.
ESPEAK_VOICES = [
    ("espeak", "en-us", "M"),
    ("espeak", "en-us+f2", "F"),
    ("espeak", "en-us+klatt", "M"),
    ("espeak", "en-us+m7", "M"),
    ("espeak", "en-us+f4", "F"),
    ("espeak", "en-us+klatt4", "M"),
    ("espeak", "en-us+Annie", "F"),
    ("espeak", "en-us+m3", "M"),
    ("espeak", "en-us+f1", "F"),
    ("espeak", "en-us+Andy", "M"),
]
FLITE_VOICES = [("flite", "slt", "F"), ("flite", "awb", "M"), ("flite", "rms", "M"), ("flite", "kal16", "M")]


@dataclass(frozen=True)
class SynthCorpusConfig:
    """What `valle synth-corpus` builds."""

    out: Path  # corpus root (created)
    speakers: int = 6  # number of speakers, >= 2 (at least one is held out for test-clean)
    utterances_per_speaker: int = 20  # >= 2 (training speakers give >= 1 to dev-clean)
    seed: int = 0  # everything (voices, pitch, rate, sentences, splits) follows from it
    test_fraction: float = 0.2  # share of speakers held out for test-clean (at least one)
    dev_fraction: float = 0.1  # share of each training speaker's utterances kept for dev-clean
    use_flite: bool | None = None  # None: use flite voices when the program is installed
    num_jobs: int = 2  # synthesis processes run at once

    def validate(self) -> None:
        """Raise `InvalidInputError` for settings that cannot make a usable corpus."""
        if self.speakers < 2:
            raise InvalidInputError(f"--speakers must be >= 2 (one is held out for test-clean), got {self.speakers}")
        if self.utterances_per_speaker < 2:
            raise InvalidInputError(
                f"--utterances-per-speaker must be >= 2 (train and dev need one each), got {self.utterances_per_speaker}"
            )
        if not 0.0 < self.test_fraction < 1.0 or not 0.0 < self.dev_fraction < 1.0:
            raise InvalidInputError("test and dev fractions must lie strictly between 0 and 1")
        if self.num_jobs < 1:
            raise InvalidInputError(f"--num-jobs must be >= 1, got {self.num_jobs}")


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: a base voice with its own pitch and rate."""

    id: str
    engine: str  # "espeak" or "flite"
    voice: str
    gender: str  # "M" or "F" (as LibriTTS's SPEAKERS.txt)
    pitch: int  # espeak -p (0-99, default 50); for flite the F0 mean in Hz
    rate: float  # espeak -s words/min; for flite the duration stretch factor
    part: str  # "train-clean-100" or "test-clean" (its dev utterances go to dev-clean)

    @property
    def name(self) -> str:
        return f"{self.engine}:{self.voice}:p{self.pitch}:r{self.rate:g}"


@dataclass(frozen=True)
class Utterance:
    id: str
    speaker: Speaker
    chapter: str
    part: str
    text: str


def _flite_available(use_flite: bool | None) -> bool:
    have = shutil.which("flite") is not None
    if use_flite and not have:
        raise MissingDependencyError("flite voices were requested but flite is not installed (apt-get install flite)")
    return have if use_flite is None else use_flite


def make_speakers(cfg: SynthCorpusConfig) -> list[Speaker]:
    """Deterministic speaker list; the last `test_fraction` (after a seeded shuffle) go to test-clean."""
    if shutil.which("espeak-ng") is None:
        raise MissingDependencyError("espeak-ng is not installed: run 'make install' or apt-get install espeak-ng")
    bases = list(ESPEAK_VOICES)
    if _flite_available(cfg.use_flite):
        # interleave: espeak, flite, espeak, flite, ... so small corpora mix both engines
        bases = [v for pair in zip(ESPEAK_VOICES, FLITE_VOICES + [None] * 10) for v in pair if v is not None]
    rng = random.Random(f"speakers-{cfg.seed}")
    specs = []
    for i in range(cfg.speakers):
        engine, voice, gender = bases[i % len(bases)]
        if engine == "espeak":
            pitch, rate = rng.randint(30, 75), float(rng.randint(140, 195))
        else:
            f0 = {"F": (150, 220), "M": (90, 140)}[gender]
            pitch, rate = rng.randint(*f0), round(rng.uniform(0.85, 1.2), 2)
        specs.append((engine, voice, gender, pitch, rate))
    order = list(range(cfg.speakers))
    rng.shuffle(order)
    n_test = max(1, round(cfg.test_fraction * cfg.speakers))
    test_ids = set(order[-n_test:])
    return [
        Speaker(
            id=str(1000 + 11 * i),
            engine=e,
            voice=v,
            gender=g,
            pitch=p,
            rate=r,
            part="test-clean" if i in test_ids else "train-clean-100",
        )
        for i, (e, v, g, p, r) in enumerate(specs)
    ]


def plan_utterances(cfg: SynthCorpusConfig, speakers: list[Speaker]) -> list[Utterance]:
    """Assign distinct sentences (while they last) and a part to every utterance."""
    sentences = list(load_sentences())
    rng = random.Random(f"sentences-{cfg.seed}")
    needed = cfg.speakers * cfg.utterances_per_speaker
    picks = rng.sample(sentences, needed) if needed <= len(sentences) else [rng.choice(sentences) for _ in range(needed)]
    n_dev = max(1, round(cfg.dev_fraction * cfg.utterances_per_speaker))
    utts = []
    for s_idx, spk in enumerate(speakers):
        chapter = str(100_000 + 37 * s_idx)
        for u in range(cfg.utterances_per_speaker):
            if spk.part == "test-clean":
                part = "test-clean"
            else:
                part = "dev-clean" if u >= cfg.utterances_per_speaker - n_dev else "train-clean-100"
            text = picks[s_idx * cfg.utterances_per_speaker + u]
            utts.append(Utterance(f"{spk.id}_{chapter}_{u:06d}_000000", spk, chapter, part, text))
    return utts


def synthesize(speaker: Speaker, text: str) -> np.ndarray:
    """Speak `text` in `speaker`'s voice; float32 mono at 24 kHz, peak-normalised."""
    if speaker.engine == "espeak":
        cmd = ["espeak-ng", "-v", speaker.voice, "-p", str(speaker.pitch), "-s", str(int(speaker.rate)), "-w", "/dev/stdout"]
        cmd += ["--stdin"]
        stdin = text.encode()
    else:
        cmd = ["flite", "-voice", speaker.voice, "--setf", f"duration_stretch={speaker.rate}"]
        cmd += ["--setf", f"int_f0_target_mean={speaker.pitch}", "-t", text, "-o", "/dev/stdout"]
        stdin = None
    proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if proc.returncode != 0 or len(proc.stdout) < 100:
        raise RuntimeError(f"{speaker.engine} failed for {text!r}: {proc.stderr.decode(errors='replace').strip()}")
    # Writing to a pipe leaves the RIFF sizes unset; read the PCM after the 44-byte header directly.
    raw = proc.stdout
    data_at = raw.find(b"data")
    rate = int.from_bytes(raw[24:28], "little")
    pcm = np.frombuffer(raw[data_at + 8 :], dtype="<i2").astype(np.float32) / 32768.0
    wav = soxr.resample(pcm, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    peak = float(np.abs(wav).max())
    if peak <= 0:
        raise RuntimeError(f"{speaker.engine} produced silence for {text!r}")
    return wav * (PEAK / peak)


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _write_wav(path: Path, wav: np.ndarray) -> None:
    buf = io.BytesIO()
    sf.write(buf, wav, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    with atomic_write(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def _settings(cfg: SynthCorpusConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d.pop("out")
    d.pop("num_jobs")  # does not change the output
    d["use_flite"] = _flite_available(cfg.use_flite)
    return d


def generate_corpus(cfg: SynthCorpusConfig, progress: bool = True) -> Path:
    """Write the corpus (see module docstring); returns `cfg.out`.

    A corpus already complete with the same settings is left as is.  Every file is written atomically and
    `synth_corpus.json` last, so an interrupted run simply starts over the missing part.
    """
    cfg.validate()
    out = Path(cfg.out)
    meta_path = out / "synth_corpus.json"
    settings = _settings(cfg)
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old.get("settings") == settings:
            logger.info("%s already holds this corpus; nothing to do", out)
            return out
        raise InvalidInputError(
            f"{out} holds a synthetic corpus made with other settings; choose another --out or delete it"
        )
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails here, not after a progress bar
    speakers = make_speakers(cfg)
    utts = plan_utterances(cfg, speakers)

    def work(u: Utterance) -> float:
        folder = out / u.part / u.speaker.id / u.chapter
        wav_path = folder / f"{u.id}.wav"
        if wav_path.is_file():
            return sf.info(str(wav_path)).duration
        wav = synthesize(u.speaker, u.text)
        _write_wav(wav_path, wav)
        _write_text(folder / f"{u.id}.original.txt", u.text)
        _write_text(folder / f"{u.id}.normalized.txt", u.text)
        return len(wav) / SAMPLE_RATE

    with ThreadPoolExecutor(cfg.num_jobs) as pool:  # subprocess calls release the GIL
        durations = list(tqdm(pool.map(work, utts), total=len(utts), desc="synthesizing", disable=not progress))

    _write_transcripts(out, utts)
    _write_speakers(out, speakers, utts, durations)
    summary = {"settings": settings, "utterances": len(utts), "hours": round(sum(durations) / 3600, 4)}
    summary["speakers"] = {s.id: {"voice": s.name, "part": s.part, "gender": s.gender} for s in speakers}
    _write_text(meta_path, json.dumps(summary, indent=1))
    logger.info("wrote %d utterances (%.1f min) from %d speakers to %s", len(utts), sum(durations) / 60, len(speakers), out)
    return out


def _write_transcripts(out: Path, utts: list[Utterance]) -> None:
    chapters: dict[Path, list[Utterance]] = {}
    for u in utts:
        chapters.setdefault(out / u.part / u.speaker.id / u.chapter, []).append(u)
    for folder, items in chapters.items():
        stem = f"{items[0].speaker.id}_{items[0].chapter}"
        _write_text(folder / f"{stem}.trans.tsv", "".join(f"{u.id}\t{u.text}\t{u.text}\n" for u in items))
        # book.tsv: lhotse reads the utterance order and the last column (an SNR in dB) from it
        _write_text(folder / f"{stem}.book.tsv", "".join(f"{u.id}\t{u.text}\t{u.text}\t40.0\n" for u in items))


def _write_speakers(out: Path, speakers: list[Speaker], utts: list[Utterance], durations: list[float]) -> None:
    minutes: dict[tuple[str, str], float] = {}
    for u, d in zip(utts, durations):
        key = (u.speaker.id, u.part)
        minutes[key] = minutes.get(key, 0.0) + d / 60
    lines = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    by_id = {s.id: s for s in speakers}
    for (spk, part), mins in sorted(minutes.items()):
        lines.append(f"{spk:<5}| {by_id[spk].gender} | {part:<16} | {mins:5.2f} | {by_id[spk].name}")
    _write_text(out / "SPEAKERS.txt", "\n".join(lines) + "\n")
