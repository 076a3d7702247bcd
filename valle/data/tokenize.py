"""`valle tokenize`: lhotse manifests -> cuts with phoneme tokens and exact integer codec codes.

What the reference's `bin/tokenizer.py` does, plus what its users missed: bad items are skipped and counted
(never a crash mid-run, never dropped silently), a rerun skips finished parts, nothing is written half (the
cut manifest of a part is renamed into place last; a part that fails, a codec that cannot load included,
leaves no codes file), and `--num-jobs` workers encode in parallel with results identical to one worker
(batches are formed in the main process; workers only encode them).

Per part it writes to `output_dir`:
    {prefix}_codes_{part}.h5          int16 [T, Q] codes per cut (NumpyHdf5Writer; exact, unlike lilcom)
    {prefix}_cuts_{part}.{suffix}     cuts; supervision.custom["tokens"]["text"] = phonemes; cut.custom["codes"]
    {prefix}_summary_{part}.json      counts of kept and skipped items, with reasons
and once for all parts: `unique_text_tokens.k2symbols`, `text_tokenizer.json` and `codec.json` (what a
checkpoint trained on these cuts must store to be used without side files).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from valle.data.config import CODES_FIELD, TEXT_TOKENS_KEY
from valle.errors import InvalidInputError, MissingFileError, ValleError
from valle.utils import atomic_write

logger = logging.getLogger(__name__)

AUDIO_EXTRACTORS = ("Encodec", "Builtin", "Fbank")
CODEC_RATE = 24_000  # every codec backend: 24 kHz audio ...
FRAME_SHIFT = 320 / CODEC_RATE  # ... at 75 frames per second
TEXT_BY_PREFIX = {"aishell": "pypinyin_initials_finals"}  # the reference recipes' choices; else espeak


@dataclass(frozen=True)
class TokenizeConfig:
    """Settings of `valle tokenize` (flag names as lifeiteng/vall-e's bin/tokenizer.py)."""

    src_dir: Path = Path("data/manifests")  # lhotse recordings/supervisions manifests
    output_dir: Path = Path("data/tokenized")  # where cuts, codes and the symbol table go
    dataset_parts: tuple[str, ...] = ("dev-clean", "test-clean")  # parts to process
    prefix: str = "libritts"  # manifest prefix: {prefix}_recordings_{part}.{suffix}
    suffix: str = "jsonl.gz"  # manifest suffix
    text_extractor: str | None = None  # espeak | pypinyin | pypinyin_initials_finals | char; None = by prefix
    language: str | None = None  # G2P language; None = the backend's default (en-us for espeak)
    normalize: bool = True  # expand numbers/abbreviations before G2P (English); off = reference behaviour
    audio_extractor: str = "Builtin"  # Encodec | Builtin | Fbank
    codec: str | None = None  # fitted built-in codec file, or an EnCodec checkpoint; None = backend default
    batch_duration: float = 100.0  # seconds of audio encoded per codec call
    num_jobs: int = 1  # encoding worker processes (one per GPU when GPUs exist)
    min_duration: float = 0.1  # shorter cuts are skipped (seconds)
    max_duration: float = 40.0  # longer cuts are skipped (seconds)

    def validate(self) -> None:
        if self.audio_extractor == "Fbank":
            raise InvalidInputError(
                "--audio-extractor Fbank is not supported: VALL-E trains on codec codes; use Encodec or Builtin "
                "(valle.codec.FbankExtractor gives the reference's 100-bin features for other uses)"
            )
        if self.audio_extractor not in AUDIO_EXTRACTORS:
            raise InvalidInputError(
                f"--audio-extractor must be one of {', '.join(AUDIO_EXTRACTORS)}, got {self.audio_extractor!r}"
            )
        if self.batch_duration <= 0:
            raise InvalidInputError(f"--batch-duration must be > 0 seconds, got {self.batch_duration}")
        if self.num_jobs < 1:
            raise InvalidInputError(f"--num-jobs must be >= 1, got {self.num_jobs}")
        if not self.dataset_parts:
            raise InvalidInputError("--dataset-parts is empty; name at least one part, e.g. 'dev-clean'")
        if self.audio_extractor == "Builtin" and not self.codec:
            raise InvalidInputError(
                "--audio-extractor Builtin needs --codec PATH (a codec fitted by 'valle fit-codec')"
            )

    @property
    def text_backend(self) -> str:
        return self.text_extractor or TEXT_BY_PREFIX.get(self.prefix, "espeak")

    @property
    def codec_spec(self) -> str | None:
        if self.audio_extractor == "Encodec":
            return f"encodec:{self.codec}" if self.codec else "encodec"
        if self.audio_extractor == "Builtin":
            return self.codec  # never None once validate() passed
        return None


@dataclass
class PartSummary:
    """What happened to one part: kept cuts, audio hours and every skip with its reason."""

    part: str
    kept: int = 0
    hours: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


def build_text_tokenizer(cfg: TokenizeConfig) -> Any:
    from valle.text import TextTokenizer

    kwargs: dict[str, Any] = {"backend": cfg.text_backend, "normalize": cfg.normalize}
    if cfg.language:
        kwargs["language"] = cfg.language
    return TextTokenizer(**kwargs)


def tokenize_corpus(cfg: TokenizeConfig, progress: bool = True) -> list[PartSummary]:
    """Tokenize every part of `cfg` (see module docstring); returns one summary per processed part."""
    cfg.validate()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_text_tokenizer(cfg)
    summaries = []
    for part in cfg.dataset_parts:
        target = out / f"{cfg.prefix}_cuts_{part}.{cfg.suffix}"
        if target.is_file():
            logger.info("%s exists; skipping part %s", target, part)
            continue
        summaries.append(_tokenize_part(cfg, part, tokenizer, target, progress))
    _write_symbols(cfg, out)
    _write_json(out / "text_tokenizer.json", tokenizer.settings())
    if cfg.codec_spec is not None and not (out / "codec.json").is_file():
        from valle.codec import load_codec

        _write_json(out / "codec.json", load_codec(cfg.codec_spec).identity)
    return summaries


def _write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=str))


def _read_part(cfg: TokenizeConfig, part: str) -> Any:
    from lhotse import CutSet
    from lhotse.recipes.utils import read_manifests_if_cached

    manifests = read_manifests_if_cached([part], output_dir=cfg.src_dir, prefix=cfg.prefix, suffix=cfg.suffix)
    m = (manifests or {}).get(part, {})
    if "recordings" not in m or "supervisions" not in m:
        expected = Path(cfg.src_dir) / f"{cfg.prefix}_{{recordings,supervisions}}_{part}.{cfg.suffix}"
        raise MissingFileError(f"no manifests for part {part!r}: expected {expected} (run 'lhotse prepare' first)")
    cuts = CutSet.from_manifests(recordings=m["recordings"], supervisions=m["supervisions"])
    if any(len(c.supervisions) > 1 for c in cuts):
        cuts = cuts.trim_to_supervisions(keep_overlapping=False)
    return cuts


def _text_of(cut: Any, prefix: str) -> str:
    sup = cut.supervisions[0]
    text = (sup.custom or {}).get("normalized_text") if prefix == "ljspeech" else None
    text = text or sup.text or ""
    return text.replace("\u201d", '"').replace("\u201c", '"').strip()


def _screen(cfg: TokenizeConfig, cuts: Iterable[Any], summary: PartSummary) -> list[Any]:
    """Drop cuts that cannot be used, counting why: no supervision, empty text, missing audio, duration."""
    kept = []
    for cut in cuts:
        if not cut.supervisions:
            summary.skip("no_supervision")
        elif not _text_of(cut, cfg.prefix):
            summary.skip("empty_text")
        elif any(s.type == "file" and not Path(s.source).is_file() for s in cut.recording.sources):
            summary.skip("missing_audio")
        elif cut.duration < cfg.min_duration:
            summary.skip("too_short")
        elif cut.duration > cfg.max_duration:
            summary.skip("too_long")
        else:
            kept.append(cut)
    return kept


def _tokenize_part(cfg: TokenizeConfig, part: str, tokenizer: Any, target: Path, progress: bool) -> PartSummary:
    from lhotse import CutSet

    summary = PartSummary(part)
    cuts = _screen(cfg, _read_part(cfg, part), summary)
    texts = [_text_of(c, cfg.prefix) for c in cuts]
    tokens = _phonemize(tokenizer, texts, progress, desc=f"phonemizing {part}")
    with_text = []
    for cut, toks in zip(cuts, tokens):
        if not toks:
            summary.skip("no_tokens")
            continue
        cut.supervisions[0].custom = {**(cut.supervisions[0].custom or {}), TEXT_TOKENS_KEY: {"text": toks}}
        with_text.append(cut)

    storage = (Path(cfg.output_dir) / f"{cfg.prefix}_codes_{part}.h5").resolve()
    try:
        done = _store_codes(cfg, with_text, storage, summary, progress, desc=f"encoding {part}")
    except BaseException:
        storage.unlink(missing_ok=True)  # a codec that cannot load, a crash or Ctrl-C: no stub codes file
        raise
    summary.kept = len(done)
    summary.hours = round(sum(c.duration for c in done) / 3600, 4)
    with atomic_write(target) as tmp:
        CutSet.from_cuts(done).to_file(tmp)
    _write_json(Path(cfg.output_dir) / f"{cfg.prefix}_summary_{part}.json", asdict(summary))
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(summary.skipped.items())) or "none"
    logger.info("%s: kept %d cuts (%.2f h); skipped: %s", part, summary.kept, summary.hours * 1, skipped)
    return summary


def _store_codes(
    cfg: TokenizeConfig, cuts: list[Any], storage: Path, summary: PartSummary, progress: bool, desc: str
) -> list[Any]:
    """Encode `cuts` into the HDF5 file `storage`; returns the encoded cuts pointing at their codes."""
    from lhotse import NumpyHdf5Writer
    from lhotse.utils import compute_num_frames

    done = []
    with NumpyHdf5Writer(storage, mode="w") as writer:
        for cut, codes, reason in _encode_all(cfg, cuts, progress, desc=desc):
            if codes is None:
                summary.skip(reason)
                continue
            # lhotse reads a temporal array back as round(duration / frame_shift) frames; store exactly that
            # many (the codec's last, partial frame may go) so what training loads is bit-identical to disk.
            frames = compute_num_frames(cut.duration, FRAME_SHIFT, CODEC_RATE)
            manifest = writer.store_array(cut.id, codes[:frames], frame_shift=FRAME_SHIFT, temporal_dim=0)
            done.append(cut.with_custom(CODES_FIELD, manifest))
    return done


def _phonemize(tokenizer: Any, texts: list[str], progress: bool, desc: str, chunk: int = 512) -> list[list[str]]:
    """Phonemize in large chunks: one G2P call per chunk (thousands of sentences/s), with a progress bar."""
    out: list[list[str]] = []
    with tqdm(total=len(texts), desc=desc, disable=not progress) as bar:
        for i in range(0, len(texts), chunk):
            out.extend(tokenizer.tokenize(texts[i : i + chunk]))
            bar.update(min(chunk, len(texts) - i))
    return out


def _batches(cuts: list[Any], batch_duration: float) -> Iterator[list[Any]]:
    batch: list[Any] = []
    total = 0.0
    for cut in cuts:
        if batch and total + cut.duration > batch_duration:
            yield batch
            batch, total = [], 0.0
        batch.append(cut)
        total += cut.duration
    if batch:
        yield batch


# ---- encoding (runs in the main process for --num-jobs 1, else in worker processes) ----

_WORKER_CODEC: Any = None


def _init_worker_process(spec: str, devices: Any) -> None:
    """Initializer of a worker process: one torch thread each (N workers share the cores), then the codec."""
    import torch

    torch.set_num_threads(1)
    _init_worker(spec, devices)


def _init_worker(spec: str, devices: Any) -> None:
    from valle.codec import load_codec

    global _WORKER_CODEC
    device = devices.get() if devices is not None else "cpu"
    _WORKER_CODEC = load_codec(spec, device=device)


def _load_wav(cut: Any, sample_rate: int) -> np.ndarray:
    import soxr

    audio = cut.load_audio()  # [channels, samples] at the recording's rate
    wav = np.asarray(audio, dtype=np.float32).mean(axis=0)
    if cut.sampling_rate != sample_rate:
        wav = soxr.resample(wav, cut.sampling_rate, sample_rate).astype(np.float32)
    if not np.isfinite(wav).all():
        raise InvalidInputError(f"{cut.id}: audio holds NaN or infinite samples")
    return wav


def _encode_batch(cut_dicts: list[dict]) -> list[tuple[str, np.ndarray | None, str]]:
    """Encode one batch; returns (cut id, int16 codes [T, Q] or None, skip reason) per cut, in order."""
    from lhotse.serialization import deserialize_item

    codec = _WORKER_CODEC
    cuts = [deserialize_item(d) for d in cut_dicts]
    wavs: list[np.ndarray | None] = []
    reasons: list[str] = []
    for cut in cuts:
        try:
            wavs.append(_load_wav(cut, codec.sample_rate))
            reasons.append("")
        except Exception as e:  # noqa: BLE001 -- unreadable or corrupt audio: counted, never fatal
            logger.warning("skipping %s: cannot read audio (%s)", cut.id, e)
            wavs.append(None)
            reasons.append("unreadable_audio")
    good = [i for i, w in enumerate(wavs) if w is not None]
    codes: dict[int, np.ndarray | None] = {}
    try:
        for i, c in zip(good, _encode_list(codec, [wavs[i] for i in good])):
            codes[i] = c
    except ValleError:
        for i in good:  # isolate the item the codec refuses (silent, too short, ...)
            try:
                codes[i] = _encode_list(codec, [wavs[i]])[0]
            except ValleError as e:
                logger.warning("skipping %s: %s", cuts[i].id, e)
                codes[i], reasons[i] = None, "codec_refused"
    return [(cut.id, codes.get(i), reasons[i]) for i, cut in enumerate(cuts)]


def _encode_list(codec: Any, wavs: list[np.ndarray]) -> list[np.ndarray]:
    """Encode variable-length mono waveforms; each item's codes trimmed to ceil(samples / hop) frames."""
    import torch

    if not wavs:
        return []
    hop = codec.sample_rate // codec.frame_rate
    with torch.inference_mode():
        result = codec.encode([torch.from_numpy(w) for w in wavs], sample_rate=codec.sample_rate)
    if isinstance(result, tuple):  # (padded codes [B, Q, T], frame counts [B])
        padded, lens = result
        items = [padded[b, :, : int(lens[b])] for b in range(padded.shape[0])]
    elif isinstance(result, torch.Tensor):
        items = [result[b] for b in range(result.shape[0])]
    else:
        items = list(result)
    out = []
    for w, c in zip(wavs, items):
        frames = math.ceil(len(w) / hop)
        assert c.shape[-1] == frames, f"codec returned {c.shape[-1]} frames for {len(w)} samples, expected {frames}"
        out.append(c.T.cpu().numpy().astype(np.int16))  # [T, Q]
    return out


def _encode_all(
    cfg: TokenizeConfig, cuts: list[Any], progress: bool, desc: str
) -> Iterator[tuple[Any, np.ndarray | None, str]]:
    """Yield (cut, codes, reason) in input order, encoding batches in-process or in worker processes."""
    import torch

    by_id = {c.id: c for c in cuts}
    batches = [[c.to_dict() for c in b] for b in _batches(cuts, cfg.batch_duration)]
    spec = cfg.codec_spec
    assert spec is not None, "validate() admits only codec extractors"
    bar = tqdm(total=len(cuts), desc=desc, disable=not progress)
    n_gpu = torch.cuda.device_count()
    jobs = n_gpu if n_gpu > 1 else cfg.num_jobs
    if jobs == 1:
        _init_worker(spec, _device_queue(["cuda:0"] if n_gpu else ["cpu"]))
        yield from _drain(map(_encode_batch, batches), by_id, bar)
        return
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch/h5py state
    devices = ctx.Manager().Queue() if n_gpu > 1 else None
    if devices is not None:
        for i in range(n_gpu):
            devices.put(f"cuda:{i}")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker_process, initargs=(spec, devices)) as pool:
        yield from _drain(pool.map(_encode_batch, batches), by_id, bar)


def _device_queue(devices: list[str]) -> Any:
    import queue

    q: queue.Queue[str] = queue.Queue()
    for d in devices:
        q.put(d)
    return q


def _drain(results: Iterable[list], by_id: dict[str, Any], bar: tqdm) -> Iterator[tuple[Any, np.ndarray | None, str]]:
    for batch in results:
        for cut_id, codes, reason in batch:
            bar.update(1)
            yield by_id[cut_id], codes, reason
    bar.close()


def _write_symbols(cfg: TokenizeConfig, out: Path) -> None:
    """The symbol table is the union of tokens over every tokenized part found in `out` (finished earlier too)."""
    from lhotse import load_manifest_lazy

    from valle.text import SymbolTable

    symbols: Counter[str] = Counter()
    for path in sorted(out.glob(f"{cfg.prefix}_cuts_*.{cfg.suffix}")):
        for cut in load_manifest_lazy(path):
            symbols.update(cut.supervisions[0].custom[TEXT_TOKENS_KEY]["text"])
    table = SymbolTable.from_symbols(sorted(symbols))
    with atomic_write(out / "unique_text_tokens.k2symbols") as tmp:
        table.to_file(tmp)
