"""Telling a silent output from speech, so that no caller passes silence off as the text spoken.

Why: a model that wants to stop at once (a short text after a long prompt, an undertrained checkpoint) is held
back by `min_new_frames` / `min_length_ratio` and fills the frames with the codec's silence, a wav of the asked-for
length.  The shipped model's silence peaks near -76 dBFS and its speech near -5 dBFS (docs/infer.md), so a peak
under `SILENT_PEAK_DBFS` is taken for no speech at all.
"""

from __future__ import annotations

import numpy as np

SILENT_PEAK_DBFS = -50.0


def peak_dbfs(wav: np.ndarray) -> float:
    """The waveform's peak in dB below full scale (-inf for all zeros or no samples)."""
    peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
    return 20.0 * float(np.log10(peak)) if peak > 0 else float("-inf")


def is_silent(wav: np.ndarray) -> bool:
    """True when `wav` holds no speech (peak below `SILENT_PEAK_DBFS`)."""
    return peak_dbfs(wav) < SILENT_PEAK_DBFS
