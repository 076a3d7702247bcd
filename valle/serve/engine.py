"""`SpeechEngine`: the server's only path to the model: a `Synthesizer` behind a `MicroBatcher`.

Every synthesis (a whole request, or one sentence of a streamed one) becomes a `SpeechJob`; the batcher's
worker thread hands the jobs that arrived together to `Synthesizer.decode_requests` in one call, which
splits long text and decodes all pieces in batches; `Synthesizer.render` then vocodes each job and joins
its pieces with pauses.  No model logic lives here.

Two stages, two threads (`overlap_vocoder`, on by default): on a CPU the codec costs the same per request
batched or not, so while the vocoder thread turns one batch's codes into audio, the worker is already
decoding the next batch.  Each job's answer is released as soon as its own audio is ready.

Two rules keep concurrent requests from hurting each other:

* the Synthesizer's model and text front-end (not documented as thread-safe) are only used under
  `self.lock` (by the batcher's worker and `make_voice`), its codec only under `self.codec_lock` (by the
  vocoder thread and `make_voice`);
* one bad job must not fail the jobs batched with it: a failing batch is split in halves and retried
  (`_run_isolated`).  Validation errors are raised before any decoding, so a retry costs little, the bad
  job ends with its own error and the good ones stay batched.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from valle.codec.audio import FRAME_RATE
from valle.errors import ValleError
from valle.infer.options import SynthesisOptions
from valle.infer.synthesizer import DecodedRequests, SynthesisRequest, Synthesizer
from valle.infer.text_split import SENTENCE_END, split_text
from valle.infer.voice import Voice
from valle.serve.batcher import MicroBatcher
from valle.serve.config import ServeConfig

logger = logging.getLogger(__name__)


class RequestTimeoutError(Exception):
    """A job was not done within the request timeout."""


class SynthesisFailedError(Exception):
    """The model failed on a job for a reason that is not the request's fault (a bug); logged in full."""


@dataclass(frozen=True)
class SpeechJob:
    """One call of the model: text in one voice with one set of options."""

    text: str
    voice: Voice
    options: SynthesisOptions
    name: str = "request"


class SpeechEngine:
    """A `Synthesizer` shared by all requests through micro-batching.

    Args:
        synth: the loaded model.
        config: batching limits (`max_batch`, `max_wait_ms`, `max_queue`) and `max_audio_seconds`.
    """

    def __init__(self, synth: Synthesizer, config: ServeConfig) -> None:
        self.synth = synth
        self.config = config
        self.lock = threading.Lock()  # the model and text front-end
        self.codec_lock = threading.Lock()  # the codec (the vocoder thread decodes while the model runs)
        self._vocoder: ThreadPoolExecutor | None = None
        cap = None if config.max_audio_seconds is None else max(1, round(config.max_audio_seconds * FRAME_RATE))
        # All requests share these options unless they change a sampling field: the Synthesizer batches only
        # jobs with equal options.  batch_size >= max_batch lets a whole micro-batch decode in one pass.
        self.options = synth.options.with_changes(
            batch_size=max(config.max_batch, synth.options.batch_size), max_new_frames=cap
        )
        self.batcher: MicroBatcher[SpeechJob, np.ndarray] = MicroBatcher(
            self._run_batch, config.max_batch, config.max_wait_ms / 1000.0, config.max_queue
        )

    @property
    def sample_rate(self) -> int:
        return self.synth.sample_rate

    def start(self) -> None:
        if self.config.overlap_vocoder:
            self._vocoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="valle-vocoder")
        self.batcher.start()

    def stop(self) -> None:
        self.batcher.stop()
        if self._vocoder is not None:
            self._vocoder.shutdown(wait=True, cancel_futures=False)  # answers already decoded are still sent
            self._vocoder = None

    # ------------------------------------------------------------------ requests
    def options_for(self, **sampling: object) -> SynthesisOptions:
        """The server's options with the request's sampling fields (None = not given); checked, including that
        a code reader is there when they ask for several draws."""
        options = self.options.with_changes(**{k: v for k, v in sampling.items() if v is not None})
        self.synth.require_reader(options)  # loaded once; a missing or mismatched one is this request's 400
        return options

    def check_voice(self, voice: Voice) -> None:
        """Raise `CheckpointError` if the voice was made with another codec than this model's."""
        voice.check_codec(self.synth.codec.identity)

    def submit(self, job: SpeechJob) -> Future[np.ndarray]:
        """Queue a job (raises `QueueFullError` when the queue is full)."""
        return self.batcher.submit(job)

    async def result(self, future: Future[np.ndarray], timeout: float) -> np.ndarray:
        """Wait for a submitted job; on timeout cancel it (dropped if not started) and raise `RequestTimeoutError`."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=max(0.0, timeout))
        except asyncio.TimeoutError:
            future.cancel()
            raise RequestTimeoutError(
                f"the speech was not ready within {self.config.request_timeout:g} s; retry, or send shorter text"
            ) from None

    async def synthesize(self, job: SpeechJob) -> np.ndarray:
        """The whole waveform of a job (float32 [T] at `sample_rate`)."""
        return await self.result(self.submit(job), self.config.request_timeout)

    async def stream(self, job: SpeechJob) -> AsyncGenerator[np.ndarray, None]:
        """The job's audio sentence by sentence, each yielded as soon as it is ready.

        A sentence after the first starts with the pause that separates sentences.  The next sentence is
        queued before the current one is yielded, so it decodes while the current one is being sent.
        The request timeout applies to each sentence.
        """
        pieces = self.split(job.text, job.options) or [job.text]
        pause = np.zeros(round(job.options.pause_seconds * self.sample_rate), dtype=np.float32)
        pending = self.submit(_piece(job, pieces, 0))
        try:
            for k in range(len(pieces)):
                wav = await self.result(pending, self.config.request_timeout)
                if k + 1 < len(pieces):
                    pending = self.submit(_piece(job, pieces, k + 1))
                yield np.concatenate([pause, wav]) if k else wav
        finally:
            pending.cancel()  # the client went away or a sentence failed: do not decode what nobody hears

    @staticmethod
    def split(text: str, options: SynthesisOptions) -> list[str]:
        """Pieces for streaming: every sentence on its own (the first audio comes sooner), and a sentence
        longer than `max_text_tokens` non-space characters cut further by `split_text`'s rules.

        Characters stand in for tokens here because counting real tokens needs the text front-end, which
        only the worker may use; the Synthesizer still splits a piece further if its tokens exceed the limit.
        """
        sentences = [s.strip() for s in SENTENCE_END.split(" ".join(text.split())) if s.strip()]
        limit = options.max_text_tokens
        return [piece for s in sentences for piece in (split_text(s, limit) if limit else [s])]

    def make_voice(self, wav: np.ndarray, sample_rate: int, transcript: str, name: str) -> Voice:
        """Encode an uploaded prompt (blocking; call from a worker thread, not the event loop)."""
        with self.lock, self.codec_lock:
            return self.synth.make_voice((wav, sample_rate), transcript, name=name)

    # ------------------------------------------------------------------ worker side
    def _run_batch(self, jobs: list[SpeechJob]) -> list[np.ndarray | BaseException | Future[np.ndarray]]:
        """Decode the jobs together (model lock held), then vocode each: here, or on the vocoder thread."""
        requests = [SynthesisRequest(j.text, voice=j.voice, options=j.options, name=j.name) for j in jobs]
        with self.lock:
            decoded = self._decode_isolated(requests)
        if self._vocoder is None:
            return [d if isinstance(d, BaseException) else self._vocode_or_error(*d) for d in decoded]
        return [d if isinstance(d, BaseException) else self._vocoder.submit(self._vocode, *d) for d in decoded]

    def _vocode_or_error(self, decoded: DecodedRequests, index: int, name: str) -> np.ndarray | BaseException:
        """`_vocode` on this thread, its failure returned as this job's result (its batch mates still get audio)."""
        try:
            return self._vocode(decoded, index, name)
        except SynthesisFailedError as e:
            return e

    def _vocode(self, decoded: DecodedRequests, index: int, name: str) -> np.ndarray:
        """One job's waveform from its codes (the codec lock keeps `make_voice`'s encoder off it meanwhile)."""
        try:
            with self.codec_lock:
                result = self.synth.render(decoded, index)[0]
        except Exception as e:  # the codec failing on codes the model made is a bug, not the request's fault
            logger.error("%s: vocoding failed", name, exc_info=e)
            raise SynthesisFailedError(f"synthesis failed ({type(e).__name__}); the server log has the details") from e
        assert result is not None  # on_error="raise": no request is skipped
        return result[0]

    def _decode_isolated(
        self, requests: Sequence[SynthesisRequest]
    ) -> list[tuple[DecodedRequests, int, str] | BaseException]:
        """Per request: (its batch's codes, its index there, its name), or the error that is its own."""
        try:
            decoded = self.synth.decode_requests(requests)
        except Exception as e:  # any failure, bug or bad input, is isolated to its job
            if len(requests) == 1:
                if isinstance(e, ValleError):
                    return [e]  # the request's fault: its message goes back to the client
                logger.error("%s: synthesis failed", requests[0].name, exc_info=e)
                return [SynthesisFailedError(f"synthesis failed ({type(e).__name__}); the server log has the details")]
            half = len(requests) // 2
            return self._decode_isolated(requests[:half]) + self._decode_isolated(requests[half:])
        return [(decoded, i, r.name) for i, r in enumerate(requests)]


def _piece(job: SpeechJob, pieces: list[str], k: int) -> SpeechJob:
    name = job.name if len(pieces) == 1 else f"{job.name} (sentence {k + 1}/{len(pieces)})"
    return SpeechJob(pieces[k], job.voice, job.options, name)

