"""`Synthesizer`: text + an acoustic prompt (or a saved voice) -> 24 kHz speech, one item or a batch.

    synth = Synthesizer.from_checkpoint("exp/best.pt")
    wav, sr = synth.synthesize("Hello there.", "prompt.wav", "Transcript of the prompt.", top_k=50, seed=0)
    voice = synth.make_voice("prompt.wav", "Transcript of the prompt.")        # encode once ...
    outs = synth.synthesize_batch([SynthesisRequest(t, voice=voice) for t in texts])   # ... reuse

Pipeline per request: split long text into sentences (`split_text`); tokenize `"{prompt text} {text}"`
exactly like lifeiteng/vall-e's infer.py; trim an over-long prompt; then all pieces of all requests are
grouped by options, sorted by length and decoded `batch_size` at a time (batched KV-cached AR with per-item
EOS, then batched NAR); the codec decodes each piece and the pieces of a request are joined with pauses.

Dimension legend: B batch, S text tokens, P prompt frames, N generated frames, Q codebooks.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from valle.codec.audio import FRAME_RATE
from valle.codec.base import AudioTokenizer
from valle.errors import CheckpointError, InvalidInputError, ValleError
from valle.infer.audio_input import AudioSource, as_list, read_prompt_audio, trim_trailing_padding
from valle.infer.auto_transcript import transcribe_prompt
from valle.infer.candidates import BestOfN, find_reader, reader_file
from valle.infer.options import DEFAULT_MAX_PROMPT_SECONDS, SynthesisOptions
from valle.infer.sampling import make_sampler
from valle.infer.silence import is_silent, peak_dbfs
from valle.infer.text_split import split_text
from valle.infer.voice import Voice, find_voice
from valle.models import VALLE
from valle.models.code_reader import CodeReader
from valle.models.expected import ExpectedFrames
from valle.models.generate import decode_nar, generate_batch
from valle.text import TextTokenCollater, TextTokenizer
from valle.utils import resolve_device

logger = logging.getLogger(__name__)

# lifeiteng/vall-e checkpoints carry no tokenizer settings; its infer.py phonemizes raw text with espeak.
REFERENCE_TOKENIZER = {"backend": "espeak", "language": "en-us", "normalize": False}
CONTINUAL_MAX_PROMPT_FRAMES = 3 * FRAME_RATE  # the reference's continual mode: at most the first 3 s


@dataclass
class SynthesisRequest:
    """One item of `synthesize_batch`: what to say and in which voice.

    Attributes:
        text: what to say (long text is split into sentences).
        prompt_audio: one prompt (path, waveform at 24 kHz, or (waveform, rate)) or several, concatenated.
        prompt_text: transcript of the prompt(s): one string, or one per prompt (aligned); None = heard by
            Whisper (see `Synthesizer.make_voice`).
        voice: a `Voice` or the name/path of a saved one, instead of prompt_audio/prompt_text.
        options: sampling options for this item (None = the synthesizer's).
        name: label for warnings (default "item i").
    """

    text: str
    prompt_audio: AudioSource | Sequence[AudioSource] | None = None
    prompt_text: str | Sequence[str] | None = None
    voice: Voice | str | None = None
    options: SynthesisOptions | None = None
    name: str = ""


@dataclass
class DecodedRequests:
    """Codes of decoded requests, ready for `Synthesizer.render` (`decode_requests`' result).

    Attributes:
        pieces: per request, the codes [N, Q] of each of its pieces in order, or its expected frames [N, D]
            with `nar_temperature > 0` (None: the request was skipped).
        pauses: per request, seconds of silence between its pieces.
        names: per request, its label for warnings.
        padded: per request, whether its prompt ends in padding (`without_trailing_padding` would shorten it).
    """

    pieces: list[list[Tensor] | None]
    pauses: list[float]
    names: list[str]
    padded: list[bool]


@dataclass
class _Job:
    """One piece of text to decode (a request, or one sentence of a split request)."""

    request: int
    name: str
    options: SynthesisOptions
    tokens: list[str]  # the text tokens of the piece this job speaks, alone (what the code reader reads for)
    ids: Tensor  # [S] text ids `[BOS, prompt text, text, EOS]`
    enroll_len: int  # length of `[BOS, prompt text, EOS]`
    prompt: Tensor  # [P, Q] prompt codes
    frames_per_token: float | None  # the prompt's speaking rate (None without a prompt transcript)

    def min_frames(self, opts: SynthesisOptions) -> int:
        """EOS is masked until this many frames: `min_new_frames`, raised to `min_length_ratio` times the
        length the prompt's speaking rate predicts for this text (target tokens x prompt frames per token)."""
        if not opts.min_length_ratio or self.frames_per_token is None:
            return opts.min_new_frames
        predicted = (len(self.ids) - self.enroll_len) * self.frames_per_token
        return max(opts.min_new_frames, math.ceil(opts.min_length_ratio * predicted))


def recommended_options(model: VALLE) -> SynthesisOptions:
    """`SynthesisOptions()` with the changes the checkpoint records under `extra["synthesis"]`.

    Why: how to sample depends on the model (a small model wants colder sampling and a held-back EOS), so
    a shipped checkpoint carries its settings and `valle infer` / the API / the server use them unless told
    otherwise.  Settings this version does not know are skipped with a warning, not fatal.
    """
    extra = getattr(getattr(model, "meta", None), "extra", None) or {}
    changes = extra.get("synthesis") or {}
    try:
        return SynthesisOptions().with_changes(**changes)
    except InvalidInputError as e:
        logger.warning("the checkpoint's recommended synthesis settings are ignored: %s", e)
        return SynthesisOptions()


class Synthesizer:
    """A loaded model with its text front-end and codec, ready to speak.

    Args:
        model: VALL-E / VALL-F (put in eval mode here).
        codec: the codec the model's codes come from.
        tokenizer: the text front-end the model was trained with.
        symbols: the text symbol table (a k2symbols list, `<eps>` included), which fixes the text ids.
        options: default synthesis options (per call: `synthesize(..., top_k=1)`); None = the settings the
            checkpoint recommends (`valle export-model --synthesis`), else `SynthesisOptions()`.
        voice_dir: where voices saved by name live (None = `$VALLE_VOICE_DIR` or ~/.cache/valle/voices).
        reader: the code reader that ranks draws when `candidates` > 1 (valle.infer.candidates); None = the one
            that ships with the package, if it reads this codec.  Loaded on first use.
    """

    def __init__(
        self,
        model: VALLE,
        codec: AudioTokenizer,
        tokenizer: TextTokenizer,
        symbols: Sequence[str],
        options: SynthesisOptions | None = None,
        voice_dir: str | os.PathLike[str] | None = None,
        reader: str | os.PathLike[str] | None = None,
    ) -> None:
        c = model.config
        if c.num_audio_tokens != codec.codebook_size or c.num_quantizers > codec.num_codebooks:
            raise CheckpointError(
                f"the model predicts {c.num_quantizers} codebooks of {c.num_audio_tokens} codes but the codec has "
                f"{codec.num_codebooks} of {codec.codebook_size}; load the codec the model was trained with"
            )
        self.model = model.eval()
        self.codec = codec
        self.tokenizer = tokenizer
        self.symbols = list(symbols)
        self.options = options or recommended_options(model)
        self.options.verify()
        self.voice_dir = voice_dir
        self.reader_path = reader
        self._reader: CodeReader | None = None
        self._collaters: dict[str, TextTokenCollater] = {}
        vocab = len(self.collater("error"))
        if vocab > c.num_text_tokens:
            raise CheckpointError(
                f"the symbol table gives {vocab} text ids but the model embeds only {c.num_text_tokens}; "
                "pass the unique_text_tokens.k2symbols file the model was trained with"
            )
        extra = getattr(model.meta, "extra", None) or {}
        self.max_prompt_seconds = float(extra.get("filter_max_duration") or DEFAULT_MAX_PROMPT_SECONDS)
        self.trained_for_guidance = bool(extra.get("text_dropout"))
        self._warned_guidance = False

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        codec: AudioTokenizer | str | os.PathLike[str] | None = None,
        text_tokens: str | os.PathLike[str] | None = None,
        *,
        tokenizer: TextTokenizer | dict[str, Any] | None = None,
        options: SynthesisOptions | None = None,
        voice_dir: str | os.PathLike[str] | None = None,
        reader: str | os.PathLike[str] | None = None,
    ) -> Synthesizer:
        """Load a valle or lifeiteng/vall-e checkpoint with its text front-end and codec.

        Args:
            path: the checkpoint.
            device: where the model and codec run.
            codec: codec object or `load_codec` spec; None = the one recorded in the checkpoint
                (see `valle.infer.codec_match`).
            text_tokens: a `unique_text_tokens.k2symbols` file; required for lifeiteng/vall-e checkpoints
                (they store no symbols); for a checkpoint that stores symbols it must hold the same ones.
            tokenizer: a `TextTokenizer` or its settings; None = the checkpoint's (reference checkpoints:
                espeak en-us without normalization, as the reference's infer.py).
            options: default synthesis options.
            voice_dir: where named voices are looked up.
            reader: the code reader for `candidates` > 1 (None = the shipped one, when it reads this codec).

        Raises:
            MissingFileError, CheckpointError, MissingDependencyError: one sentence each.
        """
        from valle.infer.codec_match import resolve_codec
        from valle.models import load_checkpoint
        from valle.text import SymbolTable

        device = resolve_device(device)
        model = load_checkpoint(path, device=device)
        meta = model.meta
        if text_tokens is not None:
            symbols = SymbolTable.from_file(text_tokens).symbols
            if meta.symbols and list(meta.symbols) != list(symbols):  # other ids would mean other phonemes
                raise CheckpointError(
                    f"checkpoint {path} stores its own text symbols, and {text_tokens} differs from them; leave out "
                    "--text-tokens (it is for lifeiteng/vall-e checkpoints, which store none)"
                )
        elif meta.symbols:
            symbols = list(meta.symbols)
        else:
            raise CheckpointError(
                f"checkpoint {path} has no text symbol table (a lifeiteng/vall-e checkpoint); pass "
                "--text-tokens unique_text_tokens.k2symbols from the data it was trained on"
            )
        if tokenizer is None:
            tokenizer = meta.tokenizer if meta.tokenizer else REFERENCE_TOKENIZER
        if isinstance(tokenizer, dict):
            tokenizer = TextTokenizer.from_settings(tokenizer)
        if meta.source in ("valle", "valle-train") and meta.codec is None and codec is None:
            raise CheckpointError(
                f"checkpoint {path} records no codec; pass --codec with the codec the model was trained with"
            )
        audio = resolve_codec(meta.codec, path, codec, device)
        return cls(model, audio, tokenizer, symbols, options=options, voice_dir=voice_dir, reader=reader)

    @property
    def sample_rate(self) -> int:
        """Rate of every waveform returned (24000)."""
        return self.codec.sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def collater(self, unknown: Literal["error", "drop"] = "error") -> TextTokenCollater:
        """The text-id collater for this model's symbols (unknown symbols: fail or drop)."""
        if unknown not in self._collaters:
            self._collaters[unknown] = TextTokenCollater(self.symbols, unknown=unknown)
        return self._collaters[unknown]

    # ------------------------------------------------------------------ voices
    def make_voice(
        self,
        prompt_audio: AudioSource | Sequence[AudioSource],
        prompt_text: str | Sequence[str] | None = None,
        *,
        name: str = "",
        trim_padding: bool = False,
    ) -> Voice:
        """Encode prompt audio once (several prompts are concatenated in time, as the reference does).

        Args:
            prompt_audio: a path, waveform or (waveform, rate), or a list of them.
            prompt_text: the transcript: one string, or one per prompt (joined with spaces); None = heard by
                Whisper (`valle.infer.auto_transcript`, needs the eval extra); "" = nothing was said.
            name: the voice's label.
            trim_padding: leave out digital silence at the end of each prompt (see `synthesize_batch`).

        Raises:
            InvalidInputError: counts do not match, or the transcript has symbols the model lacks.
            MissingFileError / DataError: unreadable prompt audio (or, with no transcript, no words heard).
            MissingDependencyError: no transcript, and no Whisper to find it.
        """
        sources = as_list(prompt_audio)
        if not sources:
            raise InvalidInputError("no prompt audio given; pass a prompt recording (or a saved voice)")
        texts = [str(t) for t in as_list(prompt_text)]
        if len(texts) > 1 and len(texts) != len(sources):
            raise InvalidInputError(
                f"got {len(sources)} audio prompt(s) but {len(texts)} text prompts; give one transcript per "
                "prompt, in the same order"
            )
        label = name or "prompt"
        what = [f"prompt audio #{i + 1}" if len(sources) > 1 else "prompt audio" for i in range(len(sources))]
        wavs = [read_prompt_audio(s, w) for s, w in zip(sources, what)]
        if trim_padding:
            wavs = [trim_trailing_padding(w) for w in wavs]
        if prompt_text is None:
            texts = [transcribe_prompt(w, self.codec.sample_rate, self.tokenizer, n) for w, n in zip(wavs, what)]
        codes = torch.cat(self.codec.encode(wavs), dim=1).T.contiguous().cpu()  # [T, Q]
        text = " ".join(t.strip() for t in texts).strip()
        if not text:
            logger.warning("%s has no transcript; the model will read its audio as if nothing was said", label)
        tokens = self.tokenizer.tokenize([text])[0] if text else []
        self.collater(self.options.unknown_symbols)([tokens], [text])  # unknown symbols: fail now, naming them
        names = [str(s) if isinstance(s, (str, os.PathLike)) else "<waveform>" for s in sources]
        return Voice(codes, text, tokens, self.codec.identity, self.tokenizer.settings(), name, names)

    # ------------------------------------------------------------------ synthesis
    def synthesize(
        self,
        text: str,
        prompt_audio: AudioSource | Sequence[AudioSource] | None = None,
        prompt_text: str | Sequence[str] | None = None,
        *,
        voice: Voice | str | None = None,
        options: SynthesisOptions | None = None,
        **sampling: Any,
    ) -> tuple[np.ndarray, int]:
        """Speak `text` in the voice of the prompt (or of a saved voice).

        Args:
            text: what to say; long text is split into sentences and joined with short pauses.
            prompt_audio, prompt_text: the acoustic prompt and its transcript (see `make_voice`).
            voice: a `Voice`, or the name/path of a saved voice, instead of the prompt.
            options: options for this call (None = the synthesizer's).
            **sampling: option overrides, e.g. `top_k=50, temperature=0.8, seed=0, ras=True`.

        Returns:
            (waveform float32 [T], sample_rate).
        """
        opts = (options or self.options).with_changes(**sampling)
        request = SynthesisRequest(text, prompt_audio, prompt_text, voice, opts, name="")
        (out,) = self.synthesize_batch([request])
        assert out is not None  # errors raise with on_error="raise"
        return out

    def synthesize_batch(
        self,
        requests: Sequence[SynthesisRequest | dict[str, Any] | tuple[Any, ...]],
        *,
        on_error: Literal["raise", "skip"] = "raise",
    ) -> list[tuple[np.ndarray, int] | None]:
        """Speak many items, decoding up to `options.batch_size` of them together.

        Args:
            requests: `SynthesisRequest`s, or dicts of its fields, or `(text, prompt_audio, prompt_text)` tuples.
            on_error: "raise" the first bad item's error, or "skip" it (warning naming it, result None).

        Returns:
            One `(waveform float32 [T], sample_rate)` per request, in order (None for skipped items).

        A request whose output comes out silent while its prompt ends in padding is decoded once more without
        the padding (`without_trailing_padding`): a small model stops at once after a prompt ending in digital
        silence, which the shipped one did for most short texts measured (`bench/silence.py`, docs/infer.md).  Only then,
        because on the demo's long texts the prompt as recorded speaks better.  An output still silent is
        returned, with a warning naming it.
        """
        reqs = [_as_request(r) for r in requests]
        decoded = self.decode_requests(reqs, on_error=on_error)
        results = self.render(decoded, warn_silent=False)
        retry = [i for i, r in enumerate(results) if r is not None and is_silent(r[0]) and decoded.padded[i]]
        if retry:
            logger.info("%s: silent after a prompt that ends in padding; decoding again without the padding",
                        ", ".join(decoded.names[i] for i in retry))  # fmt: skip
            again = [dataclasses.replace(reqs[i], name=decoded.names[i]) for i in retry]
            redone = self.render(self.decode_requests(again, on_error="skip", trim_padding=True), warn_silent=False)
            for i, r in zip(retry, redone):
                if r is not None and not is_silent(r[0]):
                    results[i] = r
        for name, r in zip(decoded.names, results):
            if r is not None:
                _warn_if_silent(name, r[0])
        return results

    def decode_requests(
        self,
        requests: Sequence[SynthesisRequest | dict[str, Any] | tuple[Any, ...]],
        *,
        on_error: Literal["raise", "skip"] = "raise",
        trim_padding: bool = False,
    ) -> DecodedRequests:
        """The model's half of `synthesize_batch`: plan and decode every request to codes, no vocoding.

        Why separate: a server vocodes one batch while the model decodes the next (`valle.serve`), and the
        codec is the part of the work that batching does not speed up on a CPU.  `trim_padding` decodes from
        prompts without their trailing padding (`without_trailing_padding`).
        """
        reqs = [_as_request(r) for r in requests]
        voices: dict[Any, Voice] = {}
        jobs: list[_Job] = []
        failed: set[int] = set()
        for i, req in enumerate(reqs):
            try:
                jobs += self._plan(i, req, voices, trim_padding)
            except ValleError as e:
                name = req.name or f"item {i}"
                if on_error == "raise":
                    if len(reqs) == 1:
                        raise
                    raise type(e)(f"{name}: {e}") from e
                logger.warning("%s: %s; skipped", name, e)
                failed.add(i)
        codes = self._decode(jobs)
        pieces: list[list[Tensor]] = [[] for _ in reqs]
        for job, c in zip(jobs, codes):
            pieces[job.request].append(c)
        pauses = [(r.options or self.options).pause_seconds for r in reqs]
        names = [r.name or f"item {i}" for i, r in enumerate(reqs)]
        padded = [False] * len(reqs)
        for job in jobs:
            padded[job.request] = len(without_trailing_padding(job.prompt)) < len(job.prompt)
        return DecodedRequests([None if i in failed else p for i, p in enumerate(pieces)], pauses, names, padded)

    def render(
        self, decoded: DecodedRequests, index: int | None = None, *, warn_silent: bool = True
    ) -> list[tuple[np.ndarray, int] | None]:
        """The codec's half: the waveform of every decoded request (or only of request `index`); a silent one is
        named in a warning unless `warn_silent` is False.

        Returns:
            One `(waveform float32 [T], sample_rate)` per request (None for skipped ones); with `index`, a
            list of that one request's result.
        """
        chosen = range(len(decoded.pieces)) if index is None else [index]
        out: list[tuple[np.ndarray, int] | None] = []
        for i in chosen:
            pieces = decoded.pieces[i]
            if pieces is None:
                out.append(None)
                continue
            pause = np.zeros(round(decoded.pauses[i] * self.sample_rate), dtype=np.float32)
            wavs = [self.vocode(c) for c in pieces]
            joined = [p for k, w in enumerate(wavs) for p in ((pause, w) if k else (w,))]
            wav = np.concatenate(joined).astype(np.float32)
            if warn_silent:
                _warn_if_silent(decoded.names[i], wav)
            out.append((wav, self.sample_rate))
        return out

    def continual(
        self, prompt_audio: AudioSource | Sequence[AudioSource], prompt_text: str | Sequence[str]
    ) -> tuple[np.ndarray, int]:
        """The reference's `--continual`: re-synthesize an utterance from its own first 3 s (at most half).

        The AR is not run: codebook 1 of the rest is the utterance's own, and the NAR predicts codebooks 2-8
        from the whole transcript.  Useful to hear what the NAR and the codec do to a known utterance.

        Returns:
            (waveform of the part after the prompt, sample_rate).
        """
        c = self.model.config
        if c.num_quantizers < 2:
            raise InvalidInputError("continual mode re-predicts codebooks 2-8; this model has no NAR stages")
        voice = self.make_voice(prompt_audio, prompt_text, name="continual prompt")
        y = voice.codes[:, : c.num_quantizers].to(self.device)  # [T, Q]
        prefix = min(y.shape[0] // 2, CONTINUAL_MAX_PROMPT_FRAMES)
        if prefix == 0:
            raise InvalidInputError(
                f"the utterance is {voice.duration:.2f} s; continual mode needs at least 2 code frames (27 ms)"
            )
        ids, lens = self.collater(self.options.unknown_symbols)([voice.tokens], [voice.text])
        ids, lens = ids.to(self.device), lens.to(self.device)
        with torch.inference_mode():
            keep_text = torch.tensor([2], device=self.device)  # modes 2/4: the NAR reads the whole transcript
            expected = self.expected_frames(self.options.nar_temperature)
            codes = decode_nar(
                self.model, ids, lens, y[None, :prefix], y[None, prefix:, 0], keep_text, expected=expected
            )
        return self.vocode(codes[0]), self.sample_rate

    def expected_frames(self, nar_temperature: float) -> ExpectedFrames | None:
        """What the NAR needs to return expected frames at this temperature (None at 0: argmax codes)."""
        return ExpectedFrames(self.codec.code_vectors(), nar_temperature) if nar_temperature else None

    def vocode(self, codes: Tensor) -> np.ndarray:
        """Codes [N, Q] (or expected frames [N, D], float) -> float32 waveform [N * 320] (empty for N = 0)."""
        if codes.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        if codes.dtype.is_floating_point:  # expected frames (nar_temperature > 0)
            wav = self.codec.decode_frames(codes.unsqueeze(0))
        else:
            wav = self.codec.decode(codes.T.unsqueeze(0))  # [1, N * 320]
        return wav[0, : codes.shape[0] * self.codec.hop_length].detach().float().cpu().numpy()

    # ------------------------------------------------------------------ internals
    def _voice_for(
        self, req: SynthesisRequest, name: str, voices: dict[Any, Voice], trim_padding: bool = False
    ) -> Voice:
        if req.voice is not None:
            if req.prompt_audio is not None:
                raise InvalidInputError("give either a voice or prompt audio, not both")
            if isinstance(req.voice, Voice):
                return req.voice
            key: Any = ("voice", str(req.voice))
            if key not in voices:
                voices[key] = find_voice(req.voice, self.voice_dir)
            return voices[key]
        if req.prompt_audio is None:
            raise InvalidInputError("no prompt; pass prompt audio with its transcript, or a voice")
        sources = as_list(req.prompt_audio)
        if all(isinstance(s, (str, os.PathLike)) for s in sources):  # the same files: encode once per call
            text_key = None if req.prompt_text is None else tuple(as_list(req.prompt_text))
            key = (tuple(str(s) for s in sources), text_key)
            if key not in voices:
                voices[key] = self.make_voice(req.prompt_audio, req.prompt_text, name=name, trim_padding=trim_padding)
            return voices[key]
        return self.make_voice(req.prompt_audio, req.prompt_text, name=name, trim_padding=trim_padding)

    def _plan(
        self, index: int, req: SynthesisRequest, voices: dict[Any, Voice], trim_padding: bool = False
    ) -> list[_Job]:
        """Validate one request and turn it into decoding jobs (one per piece of its text)."""
        name = req.name or f"item {index}"
        opts = req.options or self.options
        opts.verify()
        if not isinstance(req.text, str):
            raise InvalidInputError(
                f"the text to synthesize must be a string, got {type(req.text).__name__}; pass it as str"
            )
        if not req.text.strip():
            raise InvalidInputError("the text to synthesize is empty; give something to say")
        if not any(ch.isalnum() for ch in req.text):  # punctuation alone phonemizes to pauses: a silent wav
            raise InvalidInputError(f"the text {req.text.strip()!r} has no letters or digits; give something to say")
        voice = self._voice_for(req, name, voices, trim_padding)
        prompt = self._prompt_codes(voice, opts, name)
        if trim_padding and req.prompt_audio is None:  # a saved voice: no audio left to trim, so its codes
            prompt = without_trailing_padding(prompt)
        collate = self.collater(opts.unknown_symbols)
        settings_match = voice.tokenizer == self.tokenizer.settings()
        prompt_tokens = voice.tokens if settings_match else self._tokens(voice.text)
        _, enroll = collate([prompt_tokens], [voice.text])
        # The whole voice's frames per transcript token (its transcript covers all of it, trimmed or not).
        rate = voice.codes.shape[0] / (int(enroll[0]) - 2) if int(enroll[0]) > 2 else None
        whole = [req.text.strip()]
        pieces = split_text(req.text, opts.max_text_tokens, self._count_tokens) if opts.max_text_tokens else whole
        jobs = []
        for k, piece in enumerate(pieces):
            tokens = self._tokens(piece)
            if not tokens:
                raise InvalidInputError(f"the text {piece!r} gives no tokens to speak; check its language")
            # As lifeiteng/vall-e's infer.py: one string "{prompt text} {text}", tokenized together.
            ids, _ = collate([self._tokens(f"{voice.text} {piece}".strip())], [piece])
            label = name if len(pieces) == 1 else f"{name} (sentence {k + 1}/{len(pieces)})"
            jobs.append(_Job(index, label, opts, tokens, ids[0], int(enroll[0]), prompt, rate))
        return jobs

    def _tokens(self, text: str) -> list[str]:
        return self.tokenizer.tokenize([text])[0] if text else []

    def _count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    def _prompt_codes(self, voice: Voice, opts: SynthesisOptions, name: str) -> Tensor:
        """The voice's codes for this model ([P, Q]), keeping the last `max_prompt_seconds` of a long prompt."""
        voice.check_codec(self.codec.identity)
        q = self.model.config.num_quantizers
        if voice.codes.shape[1] < q:
            raise CheckpointError(f"the voice has {voice.codes.shape[1]} codebooks, the model needs {q}")
        limit = opts.max_prompt_seconds or self.max_prompt_seconds
        keep = max(1, int(limit * FRAME_RATE))
        codes = voice.codes[:, :q]
        if codes.shape[0] > keep:
            # The end is kept: it is what the generated speech continues from.
            logger.warning(
                "%s: the prompt is %.1f s, longer than the %g s the model was trained on; keeping its last %g s "
                "(its transcript now covers more than the audio: pass a shorter prompt for best results)",
                name, voice.duration, limit, limit,
            )  # fmt: skip
            codes = codes[-keep:]
        return codes

    def _decode(self, jobs: list[_Job]) -> list[Tensor]:
        """Codes [N, Q] per job: jobs with equal options are decoded together, longest first."""
        results: list[Tensor | None] = [None] * len(jobs)
        groups: dict[SynthesisOptions, list[int]] = defaultdict(list)
        for j, job in enumerate(jobs):
            groups[job.options].append(j)
        for opts, members in groups.items():
            if opts.guidance > 0 and not self.trained_for_guidance and not self._warned_guidance:
                logger.warning("guidance %g on a checkpoint not trained with --text-dropout: its logits without the "
                               "text are a guess, and such guidance made speech worse when measured", opts.guidance)
                self._warned_guidance = True
            members.sort(key=lambda j: -(len(jobs[j].ids) + jobs[j].prompt.shape[0]))  # less padding per batch
            step = max(1, opts.batch_size // opts.candidates)  # rows per batch stay near batch_size
            for start in range(0, len(members), step):
                chunk = members[start : start + step]
                for j, codes in zip(chunk, self._decode_batch([jobs[j] for j in chunk], opts)):
                    results[j] = codes
        assert all(r is not None for r in results), "every job is decoded once"
        return results  # type: ignore[return-value]

    def code_reader(self) -> CodeReader:
        """The code reader that ranks candidates (loaded on first use; see `valle.infer.candidates`)."""
        if self._reader is None:
            self._reader = find_reader(self.codec.identity, self.reader_path, self.device)
        return self._reader

    def require_reader(self, options: SynthesisOptions) -> None:
        """Load the code reader now if `options` draw more than once, so a missing or mismatched one fails before
        any decoding (a command's start, a request's check) rather than midway."""
        if options.candidates > 1:
            self.code_reader()

    def code_reader_path(self) -> Path:
        """The file `code_reader` loads (an explicit reader, else the shipped one)."""
        return reader_file(self.reader_path)

    def _best_of(self, jobs: list[_Job], n: int) -> BestOfN:
        """The `choose` rule for N draws of each job (its targets: each piece's phonemes alone)."""
        collate = self.collater(jobs[0].options.unknown_symbols)
        targets = [collate([j.tokens])[0][0, 1:-1] for j in jobs]
        return BestOfN(self.code_reader(), targets, collate.idx2token, n)

    def _decode_batch(self, jobs: list[_Job], opts: SynthesisOptions) -> list[Tensor]:
        dev = self.device
        n = opts.candidates
        choose = self._best_of(jobs, n) if n > 1 else None
        jobs = [j for j in jobs for _ in range(n)]  # N rows per text: its draws
        names = [j.name if n == 1 else f"{j.name} (draw {r % n + 1}/{n})" for r, j in enumerate(jobs)]
        x = pad_sequence([j.ids for j in jobs], batch_first=True).to(dev)  # [B, S]
        x_lens = torch.tensor([len(j.ids) for j in jobs], device=dev)
        prompts = pad_sequence([j.prompt for j in jobs], batch_first=True).to(dev)  # [B, P, Q]
        prompt_lens = torch.tensor([j.prompt.shape[0] for j in jobs], device=dev)
        enroll = torch.tensor([j.enroll_len for j in jobs], device=dev)
        expected = self.expected_frames(opts.nar_temperature)
        with torch.inference_mode():
            return generate_batch(
                self.model, x, x_lens, prompts, prompt_lens, enroll,
                max_new_frames=opts.max_new_frames, min_new_frames=[j.min_frames(opts) for j in jobs],
                use_cache=opts.use_cache, guidance=opts.guidance, expected=expected,
                sampler=make_sampler(opts, len(jobs), dev, n), names=names, choose=choose,
            )  # fmt: skip


def without_trailing_padding(codes: Tensor) -> Tensor:
    """Prompt codes [P, Q] without their trailing run of two or more frames equal to the last, in every codebook.

    Digital silence (padding of zeros, as a TTS engine or an editor leaves it) encodes as one frame repeated, since
    the codec sees the same input each time, while a natural pause (room tone, breath) varies from frame to frame.
    In training such a run only ever came right before EOS, so a model handed a prompt that ends in one tends to
    stop at once, or, held back by `min_length_ratio`, to fill its output with silence.  At least the first frame
    is kept.  Used to tell a padded prompt, and to trim a saved voice (audio is trimmed as audio, before encoding:
    `valle.infer.audio_input.trim_trailing_padding`).
    """
    same = (codes == codes[-1]).all(dim=1)  # [P]: frames equal to the last one
    run = int(same.flip(0).int().cumprod(0).sum())  # how many frames at the end are
    return codes[: len(codes) - run] if 2 <= run < len(codes) else codes


def _warn_if_silent(name: str, wav: np.ndarray) -> None:
    if is_silent(wav):
        logger.warning("%s: the output is silent (peak %.0f dBFS): the model spoke none of the text; try another "
                       "seed, a longer text or another prompt", name, peak_dbfs(wav))  # fmt: skip


def _as_request(r: SynthesisRequest | dict[str, Any] | tuple[Any, ...]) -> SynthesisRequest:
    if isinstance(r, SynthesisRequest):
        return r
    if isinstance(r, dict):
        try:
            return SynthesisRequest(**r)
        except TypeError as e:
            raise InvalidInputError(f"bad synthesis request {sorted(r)}: {e}") from None
    if isinstance(r, tuple) and 1 <= len(r) <= 3:
        return SynthesisRequest(*r)
    raise InvalidInputError(
        f"a synthesis request must be a SynthesisRequest, a dict or a (text, prompt_audio, prompt_text) tuple, "
        f"got {type(r).__name__}"
    )
