"""Zero-shot decoding of one utterance: AR codebook 1 token by token (KV-cached or not), then the NAR stages.

Behaviour matches lifeiteng/vall-e's `inference` (greedy codes are identical with `top_k=1`), except:

* EOS at the very first step does not raise `SyntaxError`: by default (`min_new_frames=1`) EOS is masked
  until one frame exists, with a warning; `min_new_frames=0` returns zero frames, with a warning.
* Reaching the length cap logs a warning naming the cap.
* The AR uses a KV cache by default: the text and prompt are pre-filled once, then each step feeds one
  token.  `use_cache=False` re-runs the whole sequence per step, as the reference does.

Dimension legend: B batch (1 here), S text tokens, P prompt frames, N generated frames, Q codebooks,
V vocabulary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from valle.errors import InvalidInputError
from valle.models.config import PrefixMode
from valle.models.kv_cache import KVCache
from valle.models.masks import lengths_to_valid

if TYPE_CHECKING:
    from valle.models.valle import VALLE

logger = logging.getLogger(__name__)

# (logits [B, V], AR ids so far [B, n]) -> next ids [B]; lets `valle.infer` plug in other samplers.
Sampler = Callable[[Tensor, Tensor], Tensor]


def sample_top_k_top_p(
    logits: Tensor,
    top_k: int = -100,
    top_p: float = 1.0,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one id per row after temperature, top-k and nucleus filtering (the reference's `topk_sampling`).

    Args:
        logits: [B, V].
        top_k: keep the k highest logits (ties at the k-th value kept); <= 0 disables; 1 = greedy.
        top_p: keep the smallest set of ids whose probability reaches top_p (the first always kept).
        temperature: logits are divided by it (> 0).
        generator: random source for the draw.

    Returns:
        [B] int64 ids.
    """
    if top_k == 1:
        return logits.argmax(dim=-1)
    if temperature <= 0:
        raise InvalidInputError(f"temperature must be > 0, got {temperature}")
    logits = logits / temperature
    if top_k > 0:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]  # [B, 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cum > top_p
        drop[..., 1:] = drop[..., :-1].clone()  # keep the id that crosses the threshold
        drop[..., 0] = False
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _check(model: VALLE, x: Tensor, x_lens: Tensor, prompt: Tensor, enroll_x_lens: Tensor | None) -> None:
    c = model.config
    model.check_inputs(x, x_lens)
    if x.shape[0] != 1:
        raise InvalidInputError(f"generate() decodes one utterance (batch 1), got batch {x.shape[0]}")
    if prompt.ndim != 3 or prompt.shape[0] != 1 or prompt.shape[2] < c.num_quantizers:
        raise InvalidInputError(f"prompt must be codes [1, P, Q>={c.num_quantizers}], got {tuple(prompt.shape)}")
    if prompt.shape[1] == 0 and not c.prepend_bos:
        raise InvalidInputError("the acoustic prompt is empty; give at least one frame of prompt codes")
    if c.prefix_mode in (PrefixMode.RANDOM, PrefixMode.OTHER) and c.num_quantizers > 1 and enroll_x_lens is None:
        raise InvalidInputError(
            f"prefix_mode {int(c.prefix_mode)} needs enroll_x_lens (the prompt transcript's length with BOS/EOS)"
        )


def generate(
    model: VALLE,
    x: Tensor,
    x_lens: Tensor,
    prompt: Tensor,
    enroll_x_lens: Tensor | None = None,
    *,
    top_k: int = -100,
    top_p: float = 1.0,
    temperature: float = 1.0,
    max_new_frames: int | None = None,
    min_new_frames: int = 1,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    sampler: Sampler | None = None,
) -> Tensor:
    """Codes of the speech that continues `prompt` while reading the text of `x`.

    Args:
        model: VALL-E / VALL-F (put it in eval mode first).
        x: [1, S] text ids `[BOS, prompt transcript, target text, EOS]`; x_lens: [1].
        prompt: [1, P, Q] codes of the prompt utterance.
        enroll_x_lens: [1] length of `[BOS, prompt transcript, EOS]`; needed by prefix modes 2 and 4,
            whose NAR sees only the target text.
        top_k, top_p, temperature: AR sampling (`top_k=1` is greedy).  Ignored when `sampler` is given.
        max_new_frames: AR length cap; None = the reference's `16 * x_len + 1` (`16 * x_len` with BOS).
        min_new_frames: EOS is suppressed until this many frames exist.
        use_cache: KV-cached AR decoding (same codes, far fewer FLOPs).
        generator: random source for sampling.
        sampler: custom `(logits [1, V], AR ids so far [1, n]) -> [1]` next-id rule.

    Returns:
        [1, N, Q] int64 codes of the generated frames only (N may be 0 with `min_new_frames=0`).
    """
    _check(model, x, x_lens, prompt, enroll_x_lens)
    c = model.config
    prompt_codes, _ = model.clean_codes(prompt, torch.tensor([prompt.shape[1]], device=prompt.device))
    if max_new_frames is None:
        max_new_frames = 16 * int(x_lens.max()) + (0 if c.prepend_bos else 1)
    if sampler is None:

        def sampler(logits: Tensor, _history: Tensor) -> Tensor:
            return sample_top_k_top_p(logits, top_k, top_p, temperature, generator)

    generated = _decode_ar(model, x, x_lens, prompt_codes, max_new_frames, min_new_frames, use_cache, sampler)
    if c.num_quantizers == 1 or generated.shape[1] == 0:
        out = generated.new_zeros(1, generated.shape[1], c.num_quantizers)
        out[..., 0] = generated
        return out
    return _decode_nar(model, x, x_lens, prompt_codes, generated, enroll_x_lens)


def _decode_ar(
    model: VALLE,
    x: Tensor,
    x_lens: Tensor,
    prompt_codes: Tensor,
    max_new: int,
    min_new: int,
    use_cache: bool,
    sampler: Sampler,
) -> Tensor:
    """AR loop; returns [1, N] generated codebook-1 ids (prompt and BOS excluded)."""
    c = model.config
    eos = c.eos_id
    text_valid = lengths_to_valid(x_lens, x.shape[1])  # [1, S]
    text = model.embed_ar_text(x)  # [1, S, D]
    seq = prompt_codes[..., 0]  # [1, P]
    if c.prepend_bos:
        seq = torch.cat([seq.new_full((1, 1), c.bos_id), seq], dim=1)  # [1, 1 + P]
    start = seq.shape[1]
    ones = seq.new_ones(seq.shape, dtype=torch.bool)
    cache = None
    if use_cache:
        heads = c.nhead
        cache = KVCache(
            c.num_decoder_layers, 1, heads, c.decoder_dim // heads,
            capacity=(0 if model.is_vallf else x.shape[1]) + start + max_new + 1,
            device=x.device, dtype=text.dtype,
        )  # fmt: skip
    hidden = model.ar_hidden(text, text_valid, seq, ones, cache=cache)[:, -1]  # [1, D]
    # After the prefill, VALL-E steps feed no text (it is in the cache); VALL-F keeps its text memory mask.
    step_text, step_valid = (text, text_valid) if model.is_vallf else (text[:, :0], text_valid[:, :0])
    one = torch.ones(1, 1, dtype=torch.bool, device=x.device)
    while True:
        n = seq.shape[1] - start
        logits = model.ar_predict_layer(hidden).float()  # [1, V]
        if n < min_new:
            if int(logits.argmax(-1)) == eos:
                logger.warning("the AR model chose EOS after %d of %d required frames; EOS suppressed", n, min_new)
            logits[:, eos] = float("-inf")
        token = sampler(logits, seq).view(1, 1)
        if int(logits.argmax(-1)) == eos or int(token) == eos:
            if n == 0:
                logger.warning("the AR model chose EOS at the first step; no frames generated")
            break
        seq = torch.cat([seq, token], dim=1)
        if n + 1 >= max_new:
            logger.warning("no EOS after %d frames (the length cap); output truncated", max_new)
            break
        if cache is not None:
            pos = torch.full((1, 1), seq.shape[1] - 1, device=x.device)
            hidden = model.ar_hidden(step_text, step_valid, token, one, positions=pos, cache=cache)[:, -1]
        else:
            hidden = model.ar_hidden(text, text_valid, seq, seq.new_ones(seq.shape, dtype=torch.bool))[:, -1]
    return seq[:, start:]


def _decode_nar(
    model: VALLE, x: Tensor, x_lens: Tensor, prompt_codes: Tensor, generated: Tensor, enroll_x_lens: Tensor | None
) -> Tensor:
    """NAR stages 1..Q-1 by argmax; returns [1, N, Q] (codebook 0 = `generated`)."""
    c = model.config
    q, p = c.num_quantizers, prompt_codes.shape[1]
    text, text_lens = x, x_lens
    if c.prefix_mode in (PrefixMode.RANDOM, PrefixMode.OTHER):
        # These modes trained the NAR with a prompt from another utterance: drop the prompt's transcript,
        # keeping [BOS, target text, EOS].
        enrolled = int(enroll_x_lens.max())  # type: ignore[union-attr]
        text = torch.cat([x[:, :1], x[:, enrolled - 1 :]], dim=1)
        text_lens = x_lens - (enrolled - 2)
    text_valid = lengths_to_valid(text_lens, text.shape[1])
    text_emb = model.embed_nar_text(text)
    emb = model.nar_audio_embeddings[0](torch.cat([prompt_codes[..., 0], generated], dim=1))  # [1, P + N, D]
    if c.prefix_mode != PrefixMode.NONE:
        emb = torch.cat([model.embed_codes(prompt_codes[..., 0], prompt_codes, q), emb[:, p:]], dim=1)
    valid = torch.ones(emb.shape[:2], dtype=torch.bool, device=x.device)
    codes = [generated]
    for stage in range(1, q):
        h = model.nar_hidden(text_emb, text_valid, emb, valid, stage)
        ids = model.nar_predict_layers[stage - 1](h[:, p:]).argmax(dim=-1)  # [1, N]
        codes.append(ids)
        if stage < q - 1:
            embedder = model.nar_audio_embeddings[stage]
            if c.prefix_mode == PrefixMode.NONE:  # prompt frames also embed codebooks < stage only
                prompt_part = embedder(prompt_codes[..., stage])
            else:  # prompt frames already embed all codebooks
                prompt_part = emb.new_zeros(1, p, emb.shape[2])
            emb = emb + torch.cat([prompt_part, embedder(ids)], dim=1)
    return torch.stack(codes, dim=-1)  # [1, N, Q]
