"""`ServeConfig`: every limit and knob of the HTTP server, in one frozen dataclass checked once at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valle.errors import InvalidInputError

MIB = 1024 * 1024
# Multipart framing and form fields beside the audio file; a request body may exceed the file limit by this.
BODY_SLACK_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServeConfig:
    """Limits, batching and access settings of `valle serve`.

    The defaults suit one CPU box; every field maps to a `valle serve` flag of the same name.
    """

    voices_dir: Path  # where voices are saved as ID.voice.pt (the only folder the API reads or writes)
    api_key: str | None = None  # bearer token every /v1 request must carry; None = no authentication
    default_voice: str | None = None  # voice used when a request names none; None = the voice is required
    model_name: str = "valle"  # reported by /healthz; the `model` field of a request is accepted as is
    max_batch: int = 8  # requests decoded together; 1 = serial handling (one request at a time)
    overlap_vocoder: bool = True  # vocode a batch on its own thread while the model decodes the next one
    max_wait_ms: float = 25.0  # how long the first request of a batch waits for others to join it
    max_queue: int = 64  # requests (or streamed sentences) waiting; beyond it: 503 with Retry-After
    request_timeout: float = 120.0  # seconds from arrival to the answer; beyond it: 504
    max_input_chars: int = 4096  # longest `input` text (OpenAI's limit); longer: 400
    max_upload_bytes: int = 10 * MIB  # largest voice upload; larger: 413
    max_prompt_seconds: float = 30.0  # longest uploaded prompt audio; longer: 400
    max_audio_seconds: float | None = 30.0  # cap on the audio of one sentence (AR length cap); None = the
    # model's own cap (16 frames per text token)

    def verify(self) -> None:
        """Raise `InvalidInputError` naming the first setting that cannot work."""
        positive = {
            "max_batch": self.max_batch,
            "max_queue": self.max_queue,
            "request_timeout": self.request_timeout,
            "max_input_chars": self.max_input_chars,
            "max_upload_bytes": self.max_upload_bytes,
            "max_prompt_seconds": self.max_prompt_seconds,
        }
        for name, value in positive.items():
            if not value > 0:
                raise InvalidInputError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        if self.max_wait_ms < 0:
            raise InvalidInputError(f"--max-wait-ms must be >= 0, got {self.max_wait_ms}")
        if self.max_audio_seconds is not None and not self.max_audio_seconds > 0:
            raise InvalidInputError(f"--max-audio-seconds must be > 0, got {self.max_audio_seconds}")
        if self.api_key is not None and not self.api_key.strip():
            raise InvalidInputError("--api-key is empty; pass a non-empty token or leave the flag out")

    @property
    def max_body_bytes(self) -> int:
        """Largest request body read at all (an upload plus its form fields)."""
        return self.max_upload_bytes + BODY_SLACK_BYTES
