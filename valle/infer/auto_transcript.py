"""Transcripts for prompts given without one, heard by the Whisper model `valle eval` uses (the eval extra).

Why: VALL-E continues a prompt whose words it reads; given prompt audio but no transcript, the model takes the
target text for what the prompt says and stops at once (a 0.01 s output from the shipped model).  People often
have a voice clip but not its words, and Whisper base ships in a wheel, so the words can be found offline.
An empty transcript given on purpose ("" in the Python API) still means "nothing was said".
"""

from __future__ import annotations

import logging

from torch import Tensor

from valle.errors import DataError, MissingDependencyError
from valle.text import TextTokenizer

logger = logging.getLogger(__name__)

_CHINESE_BACKENDS = ("pypinyin", "pypinyin_initials_finals")


def whisper_language(tokenizer: TextTokenizer) -> str | None:
    """Whisper's language code for the text front-end ("en-us" -> "en"; pinyin -> "zh"); None = let it detect."""
    if tokenizer.backend in _CHINESE_BACKENDS or tokenizer.language.startswith("cmn"):
        return "zh"
    if tokenizer.backend == "espeak":
        return tokenizer.language.split("-")[0] or None
    return None


def transcribe_prompt(wav: Tensor, sample_rate: int, tokenizer: TextTokenizer, what: str) -> str:
    """What is said in `wav` (mono), in the language of `tokenizer`; logged so the user can check it.

    Raises:
        MissingDependencyError: faster-whisper or the Whisper weights are not installed.
        DataError: Whisper heard no words.
    """
    try:
        from valle.eval.asr import transcribe

        text = transcribe(wav.detach().cpu().numpy(), sample_rate, language=whisper_language(tokenizer))
    except (ImportError, MissingDependencyError) as e:
        raise MissingDependencyError(
            f"{what} has no transcript, and finding it needs Whisper ({e}); pass the transcript (--text-prompts)"
        ) from None
    if not text.strip():
        raise DataError(f"{what}: Whisper heard no words in it; pass its transcript (--text-prompts) or another prompt")
    logger.info("%s: no transcript given; Whisper heard %r (pass --text-prompts to give your own)", what, text)
    return text
