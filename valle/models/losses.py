"""Training outputs: AR and NAR cross-entropy with top-10 accuracy, and the random NAR stage/prompt draw.

Differences from lifeiteng/vall-e (on purpose):

* AR padding: the reference computes the AR cross-entropy over *every* position, so padded frames are
  trained to predict EOS again and again (their `ar_loss_sum` includes them).  Here only real positions
  count: each real frame's successor and one EOS per utterance (`VALLE.ar_io`'s `real`).
* Normalisation: the reference returns sums scaled by ad-hoc factors and leaves division to the trainer.
  Here sums and counts are returned separately and `loss` is a per-token mean (see `LossOutput`).
* Randomness comes from an explicit `torch.Generator` argument instead of a `random.Random` stored in the
  module, so a training run is reproducible from its seed.
* Prefix mode START with very short utterances (< 4 frames) uses no prompt instead of crashing in
  `torch.randint(0, 0)`.

Dimension legend: B batch, S text tokens, T frames, P prompt frames, Q codebooks, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from valle.errors import InvalidInputError
from valle.models.config import PrefixMode, TrainStage
from valle.models.guidance import drop_text
from valle.models.masks import lengths_to_valid

if TYPE_CHECKING:
    from valle.models.valle import VALLE

MAX_PROMPT_FRAMES = 225  # 3 s at 75 frames/s: the reference's cap on NAR prompt length
IGNORE = -100  # target id that cross_entropy skips


@dataclass
class LossOutput:
    """What one training step needs to back-propagate and to log.

    `loss` is the mean cross-entropy per predicted token: AR mean for stage AR, NAR mean for stage NAR,
    and their average for BOTH (the reference averages its two sums the same way).  The `*_loss` fields
    are sums (detached), `*_tokens` the number of tokens summed over, `*_top10` how many of those tokens
    had their target among the 10 highest logits; `None` for a half that did not run.
    """

    loss: Tensor
    ar_loss: Tensor | None = None
    ar_tokens: int = 0
    ar_top10: int = 0
    nar_loss: Tensor | None = None
    nar_tokens: int = 0
    nar_top10: int = 0
    nar_stage: int = 0  # codebook the NAR predicted (1..Q-1); 0 when the NAR did not run
    prefix_len: int = 0  # NAR prompt frames used

    @property
    def ar_accuracy(self) -> float:
        return self.ar_top10 / max(1, self.ar_tokens)

    @property
    def nar_accuracy(self) -> float:
        return self.nar_top10 / max(1, self.nar_tokens)


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in [low, high) (returns `low` for an empty range)."""
    if high <= low:
        return low
    return int(torch.randint(low, high, (1,), generator=generator).item())


def _ce_sum_and_top10(logits: Tensor, targets: Tensor) -> tuple[Tensor, int, int]:
    """Summed cross-entropy over targets != IGNORE, their count and top-10 hits.

    Args:
        logits: [B, T, V]; targets: [B, T].
    """
    keep = targets != IGNORE
    n = int(keep.sum())
    loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="sum")
    k = min(10, logits.shape[-1])
    top = logits.detach().topk(k, dim=-1).indices  # [B, T, k]
    hits = int(((top == targets.unsqueeze(-1)).any(-1) & keep).sum())
    return loss, n, hits


def draw_nar_setup(
    model: VALLE, codes: Tensor, y_lens: Tensor, generator: torch.Generator | None
) -> tuple[int, int, Tensor | None, Tensor | None]:
    """Random NAR stage and acoustic prompt for one batch (the reference's choices, our generator).

    Returns:
        stage (1..Q-1), prefix_len, prompt codes [B, P, Q] (RANDOM mode) or None, and for RANDOM mode the
        [B, T] bool mask of frames copied into the prompt (their targets are ignored) or None.
    """
    c = model.config
    stage = _randint(1, c.num_quantizers, generator)
    shortest = int(y_lens.min())
    if c.prefix_mode == PrefixMode.START:
        low = int(0.25 * shortest)
        return stage, min(_randint(low, 2 * low, generator), MAX_PROMPT_FRAMES), None, None
    if c.prefix_mode == PrefixMode.RANDOM:
        p = min(MAX_PROMPT_FRAMES, int(0.25 * shortest))
        starts = [_randint(0, int(n) - p + 1, generator) for n in y_lens.tolist()]
        idx = torch.tensor(starts, device=codes.device)[:, None] + torch.arange(p, device=codes.device)  # [B, P]
        prompt = torch.gather(codes, 1, idx[..., None].expand(-1, -1, codes.shape[2]))  # [B, P, Q]
        copied = torch.zeros(codes.shape[:2], dtype=torch.bool, device=codes.device)
        copied.scatter_(1, idx, True)
        return stage, p, prompt, copied
    return stage, 0, None, None


def self_fed_inputs(
    model: VALLE,
    text: Tensor,
    text_valid: Tensor,
    inputs: Tensor,
    real: Tensor,
    share: float,
    generator: torch.Generator | None,
) -> Tensor:
    """AR inputs with a `share` of the codes replaced by codes the model draws itself (scheduled sampling).

    Why: in training the AR always reads the true previous codes, at inference its own draws, and `valle probe`
    shows free running losing as many words as the per-frame errors do.  A first pass without gradient predicts
    every frame from the true history; each input code after the first is then swapped, with probability
    `share`, for a code sampled from that prediction (two-pass scheduled sampling, Mihaylova & Martins 2019),
    so the loss is taught to continue from the model's own mistakes.  Position 0 (the first frame or BOS) and
    padding are never swapped.

    Args:
        text: [B, S, D] embedded text; text_valid: [B, S].  inputs, real: from `VALLE.ar_io` ([B, T]).
        share: probability in [0, 1] of swapping each input code.
        generator: seeds the draws (one seed is taken from it; None = torch's global generator).

    Returns:
        [B, T] input ids.
    """
    seed = _randint(0, 2**62, generator)
    g = torch.Generator(device=inputs.device)
    g.manual_seed(seed)
    with torch.no_grad():
        logits = model.ar_predict_layer(model.ar_hidden(text, text_valid, inputs, real))  # [B, T, V]
        probs = logits[..., : model.config.num_audio_tokens].float().softmax(-1)  # codes only, never EOS
        drawn = torch.multinomial(probs.flatten(0, 1), 1, generator=g).view(inputs.shape)  # drawn[t] guesses input t+1
    swap = (torch.rand(inputs.shape, generator=g, device=inputs.device) < share) & real
    swap[:, 0] = False
    out = inputs.clone()
    out[:, 1:] = torch.where(swap[:, 1:], drawn[:, :-1], inputs[:, 1:])
    return out


def compute_losses(
    model: VALLE,
    x: Tensor,
    x_lens: Tensor,
    y: Tensor,
    y_lens: Tensor,
    *,
    train_stage: TrainStage | int = TrainStage.BOTH,
    nar_stage: int | None = None,
    prefix_len: int | None = None,
    prompt: Tensor | None = None,
    prompt_lens: Tensor | None = None,
    generator: torch.Generator | None = None,
    scheduled_sampling: float = 0.0,
    text_dropout: float = 0.0,
) -> LossOutput:
    """AR and/or NAR losses of one batch.

    Args:
        model: the VALL-E/VALL-F model.
        x: [B, S] text ids; x_lens: [B].  y: [B, T, Q] codes; y_lens: [B].
        train_stage: BOTH, AR or NAR (reference spelling 0/1/2 accepted).
        nar_stage: codebook the NAR predicts (1..Q-1); None = drawn uniformly.
        prefix_len: prefix mode START: prompt frames; None = drawn as the reference does
            (uniform in [T_min/4, T_min/2), at most 225).
        prompt, prompt_lens: prefix mode OTHER: [B, P, Q] codes of another utterance (required) and
            [B] lengths; prefix mode RANDOM: None = a random segment of each utterance (a quarter of
            the shortest, at most 225 frames), whose own targets are then ignored.
        generator: source of all random draws (None = torch's global generator).
        scheduled_sampling: share of AR input codes replaced by the model's own draws (`self_fed_inputs`);
            0 = always the true codes (the reference).
        text_dropout: share of rows whose AR sees the empty text (`valle.models.guidance`), so that the model
            can be decoded with text guidance; 0 = the reference (no extra random draw is made).

    Returns:
        `LossOutput`.
    """
    c = model.config
    stage_sel = TrainStage(int(train_stage))
    model.check_inputs(x, x_lens, y, y_lens)
    codes, valid = model.clean_codes(y, y_lens)
    text_valid = lengths_to_valid(x_lens, x.shape[1])
    out = LossOutput(loss=torch.zeros((), device=x.device))
    means = []

    if stage_sel in (TrainStage.BOTH, TrainStage.AR):
        inputs, targets, real = model.ar_io(codes, valid)
        ar_x, ar_text_valid = x, text_valid
        if text_dropout > 0:
            ar_x, ar_x_lens = drop_text(x, x_lens, text_dropout, generator)
            ar_text_valid = lengths_to_valid(ar_x_lens, x.shape[1])
        text = model.embed_ar_text(ar_x)
        if scheduled_sampling > 0:
            inputs = self_fed_inputs(model, text, ar_text_valid, inputs, real, scheduled_sampling, generator)
        h = model.ar_hidden(text, ar_text_valid, inputs, real)
        logits = model.ar_predict_layer(h)  # [B, T', V]
        loss, out.ar_tokens, out.ar_top10 = _ce_sum_and_top10(logits, targets.masked_fill(~real, IGNORE))
        out.ar_loss = loss.detach()
        means.append(loss / max(1, out.ar_tokens))

    if c.num_quantizers > 1 and stage_sel in (TrainStage.BOTH, TrainStage.NAR):
        stage, p, drawn_prompt, copied = draw_nar_setup(model, codes, y_lens, generator)
        stage = stage if nar_stage is None else nar_stage
        if c.prefix_mode == PrefixMode.START and prefix_len is not None:
            p = prefix_len
        if c.prefix_mode == PrefixMode.OTHER:
            if prompt is None:
                raise InvalidInputError("prefix_mode 4 needs `prompt` codes of another utterance for the NAR loss")
            drawn_prompt, copied, p = prompt, None, prompt.shape[1]
        elif c.prefix_mode == PrefixMode.RANDOM and prompt is not None:
            drawn_prompt, copied, p = prompt, None, prompt.shape[1]
        audio, audio_valid, start = model.nar_inputs(
            codes, valid, stage, p if c.prefix_mode == PrefixMode.START else 0, drawn_prompt, prompt_lens
        )
        h = model.nar_hidden(model.embed_nar_text(x), text_valid, audio, audio_valid, stage)
        logits = model.nar_predict_layers[stage - 1](h[:, start:])  # [B, T - start', V]
        ignore = ~valid if copied is None else (~valid | copied)
        targets = codes[..., stage].masked_fill(ignore, IGNORE)
        if c.prefix_mode == PrefixMode.START:
            targets = targets[:, p:]
        loss, out.nar_tokens, out.nar_top10 = _ce_sum_and_top10(logits, targets)
        out.nar_loss, out.nar_stage, out.prefix_len = loss.detach(), stage, p
        means.append(loss / max(1, out.nar_tokens))

    if not means:
        raise InvalidInputError(f"train_stage {int(stage_sel)} selects nothing for a model with num_quantizers=1")
    out.loss = sum(means) / len(means)  # type: ignore[assignment]
    return out
