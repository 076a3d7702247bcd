"""Zero-shot decoding: AR codebook 1 token by token (KV-cached or not), then the NAR stages; one item or a batch.

Behaviour matches lifeiteng/vall-e's `inference` (greedy codes are identical with `top_k=1`), except:

* EOS at the very first step does not raise `SyntaxError`: by default (`min_new_frames=1`) EOS is masked
  until one frame exists, with a warning; `min_new_frames=0` returns zero frames, with a warning.
* Reaching the length cap logs a warning naming the cap (and the item).
* The AR uses a KV cache by default: the text and prompt are pre-filled once, then each step feeds one
  token.  `use_cache=False` re-runs the whole sequence per step, as the reference does.
* `generate_batch` decodes items with different texts and prompts together.  Each row keeps its own
  lengths, positions, length cap and EOS; padding is masked everywhere, so a row's greedy codes are those
  of decoding it alone.  Finished rows stay in the batch (their new keys are marked invalid) until every
  row is done: on a memory-bound CPU step the extra rows cost almost nothing, and no cache copy is needed.

Batch layout (row b: S_b text tokens, P_b prompt frames incl. BOS, n frames generated so far):

    text  [B, S]  : t t t t pad          (padding masked as keys)
    audio [B, P+n]: p p p pad | g g g     (prompt right-padded, generated columns shared by all rows;
                                           audio positions are per row: P_b + j for generated column j)

Dimension legend: B batch, S text tokens, P prompt frames, N generated frames, Q codebooks, V vocabulary,
L NAR frames (prompt + generated), D width.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.overrides import TorchFunctionMode

from valle.errors import InvalidInputError, require_finite_nonnegative
from valle.models.config import PrefixMode
from valle.models.expected import ExpectedFrames
from valle.models.guidance import guide, with_empty_text
from valle.models.kv_cache import KVCache
from valle.models.masks import lengths_to_valid

if TYPE_CHECKING:
    from valle.models.valle import VALLE

logger = logging.getLogger(__name__)

# (logits [B, V], AR ids so far [B, n]) -> next ids [B]; lets `valle.infer` plug in other samplers.
# History rows are left-padded with -1 where a row's prompt is shorter than the longest one.
Sampler = Callable[[Tensor, Tensor], Tensor]
HISTORY_PAD = -1  # never a real id, so repetition counts ignore it


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


def _check(
    model: VALLE, x: Tensor, x_lens: Tensor, prompt: Tensor, prompt_lens: Tensor, enroll_x_lens: Tensor | None
) -> None:
    c = model.config
    b = x.shape[0]
    if prompt.shape[0] != b or prompt.shape[2] < c.num_quantizers:
        raise InvalidInputError(f"prompt must be codes [{b}, P, Q>={c.num_quantizers}], got {tuple(prompt.shape)}")
    if prompt_lens.shape != (b,) or int(prompt_lens.max()) > prompt.shape[1] or int(prompt_lens.min()) < 0:
        raise InvalidInputError(
            f"prompt_lens must be [{b}] lengths within [0, {prompt.shape[1]}], got {prompt_lens.tolist()}"
        )
    if int(prompt_lens.min()) == 0 and not c.prepend_bos:
        raise InvalidInputError("the acoustic prompt is empty; give at least one frame of prompt codes")
    if c.prefix_mode in (PrefixMode.RANDOM, PrefixMode.OTHER) and c.num_quantizers > 1:
        if enroll_x_lens is None:
            raise InvalidInputError(
                f"prefix_mode {int(c.prefix_mode)} needs enroll_x_lens (the prompt transcript's length with BOS/EOS)"
            )
        if enroll_x_lens.shape != (b,) or bool(((enroll_x_lens < 2) | (enroll_x_lens > x_lens)).any()):
            raise InvalidInputError(
                f"enroll_x_lens must be [{b}] lengths within [2, x_lens], got {enroll_x_lens.tolist()}"
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
    guidance: float = 0.0,
) -> Tensor:
    """Codes of the speech that continues `prompt` while reading the text of `x` (one utterance).

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
        guidance: text guidance weight (see `generate_batch`); 0 = off.

    Returns:
        [1, N, Q] int64 codes of the generated frames only (N may be 0 with `min_new_frames=0`).
    """
    if x.ndim == 2 and x.shape[0] != 1:
        raise InvalidInputError(
            f"generate() decodes one utterance (batch 1), got batch {x.shape[0]}; use generate_batch for several"
        )
    (codes,) = generate_batch(
        model, x, x_lens, prompt, None, enroll_x_lens, top_k=top_k, top_p=top_p, temperature=temperature,
        max_new_frames=max_new_frames, min_new_frames=min_new_frames, use_cache=use_cache, generator=generator,
        sampler=sampler, guidance=guidance,
    )  # fmt: skip
    return codes.unsqueeze(0)


def generate_batch(
    model: VALLE,
    x: Tensor,
    x_lens: Tensor,
    prompts: Tensor,
    prompt_lens: Tensor | None = None,
    enroll_x_lens: Tensor | None = None,
    *,
    top_k: int = -100,
    top_p: float = 1.0,
    temperature: float = 1.0,
    max_new_frames: int | Sequence[int] | Tensor | None = None,
    min_new_frames: int | Sequence[int] | Tensor = 1,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    sampler: Sampler | None = None,
    names: Sequence[str] | None = None,
    guidance: float = 0.0,
    expected: ExpectedFrames | None = None,
    choose: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> list[Tensor]:
    """Decode B utterances with different texts and prompts at once; each row as if decoded alone.

    Args:
        model: VALL-E / VALL-F in eval mode.
        x: [B, S] text ids `[BOS, prompt transcript, target text, EOS]`, 0-padded; x_lens: [B].
        prompts: [B, P, Q] prompt codes, right-padded; prompt_lens: [B] (None = all P).
        enroll_x_lens: [B] lengths of `[BOS, prompt transcript, EOS]` (prefix modes 2 and 4).
        top_k, top_p, temperature, generator: the default sampler's settings (one generator for all rows).
        max_new_frames: length cap, one for all rows or one per row; None = `16 * x_len_b + 1` per row
            (`16 * x_len_b` with BOS), the reference's rule.
        min_new_frames: EOS is suppressed until a row has this many frames; one for all rows or one per row.
        use_cache: KV-cached AR decoding.
        sampler: custom `(logits [B, V], history [B, n]) -> [B]` rule (history rows left-padded with -1).
        names: one label per row for warnings (default "item b").
        guidance: text guidance weight w (`valle.models.guidance`): the AR samples from
            `l_c + w (l_c - l_u)`, running each row a second time with the empty text; 0 = off.  Meant for
            models trained with `--text-dropout`.
        expected: the NAR returns expected frames for the codec's decoder instead of codes (`decode_nar`).
        choose: `(codebook-1 ids [B, N], lengths [B]) -> row indices [K]`, called after the AR: only those rows
            go through the NAR and are returned, in that order (best-of-N: B rows are N draws of K texts).

    Returns:
        B tensors [N_b, Q] int64 (K with `choose`): the generated frames of each row (N_b may be 0 with
        `min_new_frames=0`); with `expected`, float tensors [N_b, D] of expected frames
        (`AudioTokenizer.decode_frames`).
    """
    model.check_inputs(x, x_lens)
    b = x.shape[0]
    if prompts.ndim != 3:
        raise InvalidInputError(f"prompt must be codes [B, P, Q], got shape {tuple(prompts.shape)}")
    if prompt_lens is None:
        prompt_lens = torch.full((prompts.shape[0],), prompts.shape[1], dtype=torch.long)
    prompt_lens = torch.as_tensor(prompt_lens).to(device=x.device, dtype=torch.long)
    if enroll_x_lens is not None:
        enroll_x_lens = torch.as_tensor(enroll_x_lens).to(device=x.device, dtype=torch.long).reshape(-1)
        enroll_x_lens = enroll_x_lens.expand(b) if enroll_x_lens.numel() == 1 else enroll_x_lens
    _check(model, x, x_lens, prompts, prompt_lens, enroll_x_lens)
    c = model.config
    valid = lengths_to_valid(prompt_lens, prompts.shape[1])
    prompt_codes, _ = model.clean_codes(prompts, prompt_lens)
    x_lens = x_lens.to(torch.long)
    caps = _length_caps(max_new_frames, x_lens, c.prepend_bos)
    mins = _per_row("min_new_frames", min_new_frames, b, x.device)
    if int(mins.min()) < 0:
        raise InvalidInputError(f"min_new_frames must be >= 0, got {mins.tolist()}")
    if sampler is None:

        def sampler(logits: Tensor, _history: Tensor) -> Tensor:
            return sample_top_k_top_p(logits, top_k, top_p, temperature, generator)

    labels = list(names) if names is not None else [f"item {i}" if b > 1 else "" for i in range(b)]
    first = prompt_codes[..., 0].masked_fill(~valid, c.eos_id)  # [B, P], padding = EOS as in training
    require_finite_nonnegative("guidance", guidance)
    generated, gen_lens = _decode_ar(
        model, x, x_lens, first, prompt_lens, caps, mins, use_cache, sampler, labels, guidance
    )
    if choose is not None:
        keep = choose(generated, gen_lens).to(device=x.device, dtype=torch.long)
        x, x_lens, prompt_codes, prompt_lens = x[keep], x_lens[keep], prompt_codes[keep], prompt_lens[keep]
        enroll_x_lens = enroll_x_lens[keep] if enroll_x_lens is not None else None
        generated, gen_lens, b = generated[keep], gen_lens[keep], int(keep.numel())
        generated = generated[:, : int(gen_lens.max())] if b else generated  # no columns only the others used
    q = c.num_quantizers
    if q > 1 and int(gen_lens.max()) > 0:
        codes = decode_nar(
            model, x, x_lens, prompt_codes, generated, enroll_x_lens, prompt_lens, gen_lens, expected
        )  # [B, N, Q] or [B, N, D]
    elif expected is not None:  # no NAR stages (or no frames): codebook 1's vectors alone
        codes = expected.first(generated)
    else:
        codes = F.pad(generated.unsqueeze(-1), (0, q - 1))  # [B, N, Q], codebooks 2.. unused
    return [codes[i, : int(gen_lens[i])] for i in range(b)]


def _length_caps(max_new: int | Sequence[int] | Tensor | None, x_lens: Tensor, bos: bool) -> Tensor:
    """Per-row AR length caps [B] (the reference's `16 * x_len + 1` when None)."""
    if max_new is None:
        return 16 * x_lens + (0 if bos else 1)
    caps = _per_row("max_new_frames", max_new, x_lens.shape[0], x_lens.device)
    if int(caps.min()) < 1:
        raise InvalidInputError(f"max_new_frames must be >= 1, got {caps.tolist()}")
    return caps


def _per_row(name: str, value: int | Sequence[int] | Tensor, b: int, device: torch.device) -> Tensor:
    """A length setting as a [B] long tensor: one number for all rows, or one per row."""
    t = torch.as_tensor(value, dtype=torch.long, device=device)
    if t.ndim > 1 or t.numel() not in (1, b):
        raise InvalidInputError(f"{name} must be one number or one per row ({b}), got {value}")
    return t.reshape(-1).expand(b).clone()


def embed_text_rows(embed: Callable[[Tensor], Tensor], x: Tensor, x_lens: Tensor, per_row: bool) -> Tensor:
    """Embedded text [B, S, D]; with `per_row`, each row is embedded unpadded (then zero-padded).

    Why: the optional text pre-net is a convolution, so in a padded batch a row's last tokens would see
    its neighbours' padding ids; embedding rows alone keeps a row's result independent of the batch.
    """
    if not per_row or (x.shape[0] == 1 and int(x_lens[0]) == x.shape[1]):
        return embed(x)
    rows = [embed(x[i : i + 1, : int(x_lens[i])])[0] for i in range(x.shape[0])]  # B x [S_b, D]
    return pad_sequence(rows, batch_first=True)  # [B, S, D]


def _decode_ar(
    model: VALLE,
    x: Tensor,
    x_lens: Tensor,
    prompt_first: Tensor,
    prompt_lens: Tensor,
    caps: Tensor,
    mins: Tensor,
    use_cache: bool,
    sampler: Sampler,
    names: list[str],
    guidance: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Batched AR decoding; returns generated codebook-1 ids [B, N] (prompt and BOS excluded) and lengths [B].

    With `guidance`, the decoder runs 2B rows (the B texts, then the same rows with the empty text) on the same
    audio; the loop samples B tokens from the guided logits and feeds each token to both of its rows.
    """
    c = model.config
    rows = x.shape[0]  # B: what the loop samples and returns
    twice = guidance > 0
    if twice:
        x, x_lens = with_empty_text(x, x_lens)
        prompt_first, prompt_lens = prompt_first.repeat(2, 1), prompt_lens.repeat(2)
    b, dev = x.shape[0], x.device
    text_valid = lengths_to_valid(x_lens, x.shape[1])  # [B, S]
    text = embed_text_rows(model.embed_ar_text, x, x_lens, c.add_prenet)  # [B, S, D]
    seq, lens = prompt_first, prompt_lens
    if c.prepend_bos:
        seq = torch.cat([seq.new_full((b, 1), c.bos_id), seq], dim=1)  # [B, 1 + P]
        lens = lens + 1
    start = seq.shape[1]
    seq_valid = lengths_to_valid(lens, start)  # [B, P']
    # History for the sampler: each row's prompt ids right-aligned (left padding = HISTORY_PAD).
    shift = (torch.arange(start, device=dev) - (start - lens).unsqueeze(1)).clamp(min=0)  # [B, P']
    history = seq.gather(1, shift).masked_fill(~seq_valid.flip(1), HISTORY_PAD)[:rows]
    cache = None
    if use_cache:
        # Room for ~6 frames per text token (speech is ~5-6 frames per phoneme at 75 Hz) rather than the
        # 16-per-token cap: a batch of long texts would otherwise reserve gigabytes; the cache grows if needed.
        expected = min(int(caps.max()), 6 * x.shape[1] + 75)
        cache = KVCache(
            c.num_decoder_layers, b, c.nhead, c.decoder_dim // c.nhead,
            capacity=(0 if model.is_vallf else x.shape[1]) + start + expected + 1, device=dev, dtype=text.dtype,
        )  # fmt: skip
    hidden = model.ar_hidden(text, text_valid, seq, seq_valid, cache=cache)[torch.arange(b, device=dev), lens - 1]
    # After the prefill, VALL-E steps feed no text (it is in the cache); VALL-F keeps its text memory.
    step_text, step_valid = (text, text_valid) if model.is_vallf else (text[:, :0], text_valid[:, :0])

    def step(columns: list[Tensor], gen_lens: Tensor, finished: Tensor) -> Tensor:
        """Hidden state [B, D] after the newest column of tokens (done rows feed a masked dummy)."""
        if twice:  # both rows of a pair take the pair's token (only the uncached path reads the older columns)
            columns = [*columns[:-1], columns[-1].repeat(2)] if cache is not None else [t.repeat(2) for t in columns]
            gen_lens, finished = gen_lens.repeat(2), finished.repeat(2)
        token, n = columns[-1].unsqueeze(1), len(columns) - 1
        if cache is not None:
            pos = (lens + n).unsqueeze(1)  # [B, 1] audio position of the token just appended
            new_valid = ~finished.unsqueeze(1)  # [B, 1]
            return model.ar_hidden(step_text, step_valid, token, new_valid, positions=pos, cache=cache)[:, -1]
        gen = torch.stack(columns, dim=1)  # [B, n + 1]
        pos = torch.cat([torch.arange(start, device=dev).expand(b, start),
                         lens.unsqueeze(1) + torch.arange(gen.shape[1], device=dev)], dim=1)  # fmt: skip
        valid = torch.cat([seq_valid, lengths_to_valid(gen_lens, gen.shape[1])], dim=1)
        return model.ar_hidden(text, text_valid, torch.cat([seq, gen], dim=1), valid, positions=pos)[:, -1]

    with packed_linears(model, b) if cache is not None else contextlib.nullcontext():
        return _ar_loop(model, hidden, history, caps, mins, sampler, names, step, guidance)


def _ar_loop(
    model: VALLE,
    hidden: Tensor,
    history: Tensor,
    caps: Tensor,
    mins: Tensor,
    sampler: Sampler,
    names: list[str],
    step: Callable[[list[Tensor], Tensor, Tensor], Tensor],
    guidance: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Sample, stop rows on EOS or their cap, feed the tokens back; per-row bookkeeping only.

    With `guidance`, `hidden` holds 2B rows (see `_decode_ar`) and everything here is about the B guided rows.
    """
    eos, b = model.config.eos_id, hidden.shape[0] // (2 if guidance > 0 else 1)
    finished = torch.zeros(b, dtype=torch.bool, device=hidden.device)
    gen_lens = torch.zeros(b, dtype=torch.long, device=hidden.device)
    warned = torch.zeros_like(finished)  # one "EOS suppressed" warning per row, not one per step
    longest_min = int(mins.max())  # past it, no row's EOS is masked: skip the per-step mask work
    columns: list[Tensor] = []
    while True:
        n = len(columns)
        logits = model.ar_predict_layer(hidden).float()  # [B, V] ([2B, V] with guidance)
        if guidance > 0:
            logits = guide(logits, guidance)
        best = logits.argmax(-1)  # [B]
        if n < longest_min:
            under = mins > n  # [B] rows whose EOS is still masked
            # An early EOS held back is what a minimum length is for (the shipped settings hold it for about a
            # third of items), so it is news, not a warning - unless the model wanted no speech at all.
            for i in ((best == eos) & under & ~finished & ~warned).nonzero().flatten().tolist():
                logger.log(logging.WARNING if n == 0 else logging.INFO,
                           "%sthe AR model chose EOS after %d of %d required frames; EOS suppressed",
                           _label(names[i]), n, int(mins[i]))  # fmt: skip
            warned |= (best == eos) & under
            logits[:, eos] = logits[:, eos].masked_fill(under, float("-inf"))
            best = logits.argmax(-1)
        token = sampler(logits, history).view(b)
        stop = ~finished & ((best == eos) | (token == eos))
        if n == 0:
            for i in stop.nonzero().flatten().tolist():
                logger.warning("%sthe AR model chose EOS at the first step; no frames generated", _label(names[i]))
        finished = finished | stop
        live = ~finished
        token = token.masked_fill(finished, eos)
        gen_lens += live.long()
        columns.append(token)
        history = torch.cat([history, token.unsqueeze(1)], dim=1)
        capped = live & (gen_lens >= caps)
        for i in capped.nonzero().flatten().tolist():
            label, cap = _label(names[i]), int(caps[i])
            logger.warning("%sno EOS after %d frames (the length cap); output truncated", label, cap)
        finished = finished | capped
        if bool(finished.all()):
            break
        hidden = step(columns, gen_lens, finished)
    generated = torch.stack(columns, dim=1)  # [B, N]
    return generated.masked_fill(~lengths_to_valid(gen_lens, generated.shape[1]), 0), gen_lens


class _PackedLinears(TorchFunctionMode):
    """Send single-position `F.linear` calls on known weights to oneDNN with weights packed once.

    Why: at batch 1 MKL's GEMV streams the weights at memory speed, but for small B > 1 its SGEMM re-packs
    the whole weight matrix on every call (a batch-8 step cost 3-4 single steps); oneDNN on weights
    reordered once is 1.3-1.5x faster (bench/infer.py).  Equal to MKL up to fp32 rounding.  Only [B, 1, D]
    inputs are redirected; the prefill's large GEMMs keep MKL.
    """

    def __init__(self, packed: dict[int, Tensor]) -> None:
        super().__init__()
        self.packed = packed

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func is F.linear:
            x, weight = args[0], args[1]
            packed = self.packed.get(id(weight))
            if packed is not None and x.ndim == 3 and x.shape[1] == 1:
                bias = args[2] if len(args) > 2 else kwargs.get("bias")
                out = torch.ops.mkldnn._linear_pointwise(x.reshape(x.shape[0], -1), packed, bias, "none", [], "")
                return out.unsqueeze(1)  # [B, 1, D_out]
        return func(*args, **kwargs)


_PACKED: weakref.WeakKeyDictionary[VALLE, tuple[tuple[tuple[int, int, int], ...], dict[int, Tensor]]] = (
    weakref.WeakKeyDictionary()
)


def packed_linears(model: VALLE, batch: int) -> contextlib.AbstractContextManager[object]:
    """`_PackedLinears` for the AR stack when it helps (CPU, fp32, batch > 1, oneDNN built in), else a no-op.

    The packed copy of the AR weights (as large as the weights themselves) is kept with the model and
    rebuilt only when a weight changes.
    """
    weights = [p for p in model.ar_decoder.parameters() if p.ndim == 2] + [model.ar_predict_layer.weight]
    usable = (
        batch > 1
        and weights[0].device.type == "cpu"
        and weights[0].dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )
    if not usable:
        return contextlib.nullcontext()
    key = tuple((id(w), w.data_ptr(), w._version) for w in weights)
    cached = _PACKED.get(model)
    if cached is None or cached[0] != key:
        try:
            with torch.no_grad():
                packed = {id(w): torch.ops.mkldnn._reorder_linear_weight(w.detach(), batch) for w in weights}
        except RuntimeError as e:  # an unusual oneDNN build: fall back to the plain path
            logger.debug("oneDNN weight packing unavailable (%s); using MKL", e)
            return contextlib.nullcontext()
        _PACKED[model] = cached = (key, packed)
    return _PackedLinears(cached[1])


def _label(name: str) -> str:
    return f"{name}: " if name else ""


def _nar_text(model: VALLE, x: Tensor, x_lens: Tensor, enroll_x_lens: Tensor | None) -> tuple[Tensor, Tensor]:
    """NAR text ids and lengths: prefix modes 2/4 drop the prompt transcript, keeping `[BOS, target, EOS]`.

    Those modes trained the NAR with a prompt from another utterance, so its transcript is not in the text.
    """
    if model.config.prefix_mode not in (PrefixMode.RANDOM, PrefixMode.OTHER):
        return x, x_lens
    assert enroll_x_lens is not None, "prefix modes 2/4 need enroll_x_lens"
    enroll = enroll_x_lens.to(torch.long).expand(x.shape[0])
    rows = [torch.cat([x[i, :1], x[i, int(enroll[i]) - 1 : int(x_lens[i])]]) for i in range(x.shape[0])]
    return pad_sequence(rows, batch_first=True), x_lens - (enroll - 2)


def decode_nar(
    model: VALLE,
    x: Tensor,
    x_lens: Tensor,
    prompt_codes: Tensor,
    generated: Tensor,
    enroll_x_lens: Tensor | None,
    prompt_lens: Tensor | None = None,
    gen_lens: Tensor | None = None,
    expected: ExpectedFrames | None = None,
) -> Tensor:
    """NAR stages 1..Q-1 by argmax over a padded batch; returns [B, N, Q] (codebook 0 = `generated`).

    With `expected`, returns instead the frames [B, N, D] the codec's decoder reads: codebook 1's vector
    plus, for each later codebook, the expected vector under the NAR's distribution (`valle.models.expected`);
    the stages still feed each other their argmax codes.  Padded frames are zero in both.

    Row b's NAR input is `[prompt_b (P_b frames) ; generated_b (N_b frames)]`, right-padded to L frames.
    Also the reference's `continual` mode: there `generated` is the ground-truth codebook 1 of the rest of
    the utterance (pass `enroll_x_lens = 2` to keep the whole text in prefix modes 2/4, as it does).

    Args:
        x, x_lens: AR text ids and lengths.  prompt_codes: [B, P, Q].  generated: [B, N] codebook-1 ids.
        enroll_x_lens: prefix modes 2/4: [B] prompt transcript lengths (with BOS/EOS).
        prompt_lens, gen_lens: [B] real lengths (None = all P / all N).
        expected: return expected frames instead of codes (see above).
    """
    c = model.config
    b, q, n_max = x.shape[0], c.num_quantizers, generated.shape[1]
    dev = x.device
    p_lens = torch.full((b,), prompt_codes.shape[1], device=dev) if prompt_lens is None else prompt_lens.to(dev)
    g_lens = torch.full((b,), n_max, device=dev) if gen_lens is None else gen_lens.to(dev)
    text, text_lens = _nar_text(model, x, x_lens, enroll_x_lens)
    text_valid = lengths_to_valid(text_lens, text.shape[1])
    text_emb = embed_text_rows(model.embed_nar_text, text, text_lens, c.add_prenet)  # [B, S, D]
    frames = [
        torch.cat([prompt_codes[i, : int(p_lens[i]), :q], F.pad(generated[i, : int(g_lens[i]), None], (0, q - 1))])
        for i in range(b)
    ]  # B x [L_b, Q]: prompt codes, then generated frames (codebook 1 only so far)
    full = pad_sequence(frames, batch_first=True)  # [B, L, Q]
    length = full.shape[1]
    cols = torch.arange(length, device=dev)
    is_prompt = cols < p_lens.unsqueeze(1)  # [B, L]
    valid = cols < (p_lens + g_lens).unsqueeze(1)
    emb = model.nar_audio_embeddings[0](full[..., 0])  # [B, L, D]
    if c.prefix_mode != PrefixMode.NONE:  # prompt frames embed all codebooks, once
        emb = torch.where(is_prompt.unsqueeze(-1), model.embed_codes(full[..., 0], full, q), emb)
    # Where each row's generated frames sit; invalid slots point at an extra dump column L.
    j = torch.arange(n_max, device=dev)
    slot = torch.where(j < g_lens.unsqueeze(1), p_lens.unsqueeze(1) + j, length)  # [B, N]
    codes = [generated]
    if expected is not None:
        expected.check(q, c.num_audio_tokens)
        frames = expected.first(generated)  # [B, N, D]
    for stage in range(1, q):
        h = model.nar_hidden(text_emb, text_valid, emb, valid, stage)  # [B, L, D]
        h_gen = h.gather(1, slot.clamp(max=length - 1).unsqueeze(-1).expand(-1, -1, h.shape[-1]))  # [B, N, D]
        logits = model.nar_predict_layers[stage - 1](h_gen)  # [B, N, V]
        ids = logits.argmax(dim=-1)  # [B, N]
        codes.append(ids)
        if expected is not None:
            frames = frames + expected.expected(stage, logits)
        if stage < q - 1:
            stage_codes = F.pad(full[..., stage], (0, 1)).scatter(1, slot, ids)[:, :length]  # [B, L]
            add = model.nar_audio_embeddings[stage](stage_codes)
            if c.prefix_mode != PrefixMode.NONE:  # prompt frames already embed all codebooks
                add = add * (~is_prompt).unsqueeze(-1)
            emb = emb + add
    out = frames if expected is not None else torch.stack(codes, dim=-1)  # [B, N, D] or [B, N, Q]
    return out.masked_fill(~lengths_to_valid(g_lens, n_max).unsqueeze(-1), 0)


_decode_nar = decode_nar  # the private name tests/models import
