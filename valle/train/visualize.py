"""`--visualize`: at validation, a PNG per utterance of target codes vs the model's teacher-forced guesses.

A quick look at whether the AR follows codebook 1 and the NAR stage 1 recovers codebook 2 - the picture
the reference's `model.visualize` draws, made here from the model's public `ar_logits` / `nar_logits`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from valle.errors import MissingDependencyError
from valle.models.config import PrefixMode, TrainStage

logger = logging.getLogger(__name__)


def check_available() -> None:
    """Fail at start-up, not at the first validation, when --visualize cannot work."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingDependencyError("--visualize needs matplotlib; pip install matplotlib (or run without it)") from None


@torch.no_grad()
def save_prediction_plots(model: Any, batch: dict[str, Any], out_dir: Path, train_stage: TrainStage,
                          device: torch.device, max_items: int = 2) -> list[Path]:  # fmt: skip
    """Plot the first `max_items` utterances of `batch`; returns the PNG paths written."""
    check_available()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(max_items, len(batch["utt_id"]))
    x, x_lens = batch["text_tokens"][:n].to(device), batch["text_tokens_lens"][:n].to(device)
    y, y_lens = batch["audio_features"][:n].to(device), batch["audio_features_lens"][:n].to(device)
    panels: list[tuple[str, torch.Tensor, torch.Tensor]] = []  # (title, target [B, T], predicted [B, T])
    if train_stage in (TrainStage.BOTH, TrainStage.AR):
        logits = model.ar_logits(x, x_lens, y, y_lens)  # [B, T(+1), V]; position t predicts frame t + 1
        pred = logits.argmax(-1)[:, : y.shape[1] - 1]
        panels.append(("AR: codebook 1 (next frame)", y[:, 1:, 0], pred))
    mode = model.config.prefix_mode
    if model.config.num_quantizers > 1 and train_stage in (TrainStage.BOTH, TrainStage.NAR):
        prompt = batch.get("prompts")
        if mode in (PrefixMode.NONE, PrefixMode.START):
            pred = model.nar_logits(x, x_lens, y, y_lens, stage=1).argmax(-1)
            panels.append(("NAR stage 1: codebook 2", y[..., 1], pred))
        elif prompt is not None:
            lens = batch["prompts_lens"][:n].to(device)
            pred = model.nar_logits(x, x_lens, y, y_lens, stage=1, prompt=prompt[:n].to(device), prompt_lens=lens).argmax(-1)
            panels.append(("NAR stage 1: codebook 2", y[..., 1], pred))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for b in range(n):
        T = int(y_lens[b])
        fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3 * len(panels)), squeeze=False)
        for ax, (title, target, pred) in zip(axes[:, 0], panels):
            t = min(T - (1 if title.startswith("AR") else 0), target.shape[1], pred.shape[1])
            ax.plot(target[b, :t].cpu(), ".", markersize=3, label="target")
            ax.plot(pred[b, :t].cpu(), "x", markersize=3, label="predicted (argmax)")
            acc = float((target[b, :t] == pred[b, :t]).float().mean()) if t else 0.0
            ax.set_title(f"{batch['utt_id'][b]} - {title} - top-1 accuracy {acc:.2f}")
            ax.set_xlabel("frame")
            ax.set_ylabel("code")
            ax.legend(loc="upper right")
        fig.tight_layout()
        path = out_dir / f"{batch['utt_id'][b]}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths
