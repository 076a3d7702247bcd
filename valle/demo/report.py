"""The demo's report: metrics of every system, spectrograms and the training curve (markdown + PNGs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from valle.eval.metrics import max_units_per_second
from valle.utils import atomic_write

SYSTEM_NOTES = {
    "ground_truth": "real recording of the text by the prompt's speaker (WER/SIM ceiling)",
    "codec": "ground truth through the built-in codec (the ceiling of any model on this codec)",
    "untrained": "the demo model's shape with random weights (the floor)",
    "demo": "trained by this `make demo` run",
    "pretrained": "the checkpoint shipped in valle/assets",
}


def training_curve(metrics: Path, png: Path) -> bool:
    """Plot train/valid loss (AR and NAR) against the step; False when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not metrics.is_file():
        return False
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for split, style in (("train", "-"), ("valid", "o-")):
        for key in ("ar_loss", "nar_loss"):
            pts = [(r["step"], r[key]) for r in rows if r["split"] == split and key in r]
            if pts:
                ax.plot(*zip(*pts), style, label=f"{split} {key.replace('_', ' ')}", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per token")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True


def spectrogram(wav_path: Path, png: Path, title: str) -> None:
    """Log-magnitude spectrogram (torch.stft) of one file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf
    import torch

    wav, sr = sf.read(str(wav_path), dtype="float32")
    wav = np.pad(wav, (0, max(0, 1024 - len(wav))))  # an output of a frame or two still gets a picture
    spec = torch.stft(torch.from_numpy(wav), n_fft=1024, hop_length=256, window=torch.hann_window(1024),
                      return_complex=True).abs()
    db = 20 * np.log10(spec.numpy() + 1e-5)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80,
              extent=(0, len(wav) / sr, 0, sr / 2000))
    ax.set_xlabel("seconds")
    ax.set_ylabel("kHz")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)
    plt.close(fig)


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def write_report(path: Path, summaries: dict[str, dict], baseline: float | None, curve: str | None,
                 spectrograms: list[str], notes: list[str]) -> None:
    """Markdown: one row per system, the different-speaker baseline, the curve, spectrograms, notes."""
    lines = ["# valle demo report", "", "Test sentences in voices never seen in training (test-clean speakers).", "",
             "| system | items | WER ↓ | median WER ↓ | SIM prompt↔output ↑ | DNSMOS ↑ | what |",
             "|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        lines.append(f"| {name} | {s['items']} | {_fmt(s['wer'])} | {_fmt(s['wer_median'])} | "
                     f"{_fmt(s['sim_prompt_output'])} | "
                     f"{_fmt(s['dnsmos'])} | {SYSTEM_NOTES.get(name, 'a checkpoint given with --system')} |")
    lines += ["", (f"Different-speaker baseline (mean similarity between prompts of different unseen speakers): "
                   f"**{_fmt(baseline)}** — a system speaks in the prompt's voice when its SIM is above it."), ""]
    fast = {name: s["too_fast"] for name, s in summaries.items() if s.get("too_fast")}  # None: not scored
    if fast:
        which = ", ".join(f"{n} of {summaries[name]['items']} ({name})" for name, n in fast.items())
        lines += [(f"Transcripts faster than anyone speaks (> {max_units_per_second():g} words/s, Whisper hearing "
                   f"babble as words): {which}. Their WER counts in full; the median WER is the typical item."), ""]
    if curve:
        lines += ["## Training curve", "", f"![training curve]({curve})", ""]
    if spectrograms:
        lines += ["## Spectrograms (demo model)", ""] + [f"![{Path(s).stem}]({s})" for s in spectrograms] + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    with atomic_write(path) as tmp:
        tmp.write_text("\n".join(lines))
