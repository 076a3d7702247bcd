"""An independent forward pass of lifeiteng/vall-e's VALLE/VALLF, in plain torch ops over a state dict.

Written from the reference's documented math (see ../shared/reference/lifeiteng_ckpt/README.md and the
reference's `valle/models/valle.py` / `valle/modules/transformer.py`), deliberately *not* reusing any
valle.models code: padding masks as additive float `-inf` masks of shape [B, Lq, Lk], the reference's
`pad_y_eos` formula, attention computed by hand.  Eval mode only (no dropout, BatchNorm running stats).

Covers both architectures, pre/post-norm, the pre-nets, BOS, prefix modes 1 (START) and 2/4 (prompt
prepended).  Dimension legend: B batch, S text, T frames, D width, H heads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

NEG = float("-inf")
SD = dict[str, Tensor]


def pad_mask(lens: Tensor, n: int) -> Tensor:
    """True = padding (the reference's `make_pad_mask`)."""
    return torch.arange(n)[None, :] >= lens[:, None].long()


def sin_pe(n: int, d: int) -> Tensor:
    pos = torch.arange(0, n, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * -(math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


def emb(sd: SD, name: str, ids: Tensor) -> Tensor:
    return F.embedding(ids, sd[f"{name}.word_embeddings.weight"])


def add_pe(sd: SD, name: str, x: Tensor) -> Tensor:
    return x + sd[f"{name}.alpha"] * sin_pe(x.shape[1], x.shape[2])


def text_prenet(sd: SD, name: str, x: Tensor) -> Tensor:
    if f"{name}.1.weight" not in sd:
        return x
    h = x.transpose(1, 2)
    for conv, bn in ((1, 2), (5, 6), (9, 10)):
        h = F.conv1d(h, sd[f"{name}.{conv}.weight"], sd[f"{name}.{conv}.bias"], padding=2)
        h = F.batch_norm(h, sd[f"{name}.{bn}.running_mean"], sd[f"{name}.{bn}.running_var"],
                         sd[f"{name}.{bn}.weight"], sd[f"{name}.{bn}.bias"], training=False, eps=1e-5)
        h = F.relu(h)
    return F.linear(h.transpose(1, 2), sd[f"{name}.14.weight"], sd[f"{name}.14.bias"])


def audio_prenet(sd: SD, name: str, x: Tensor) -> Tensor:
    if f"{name}.0.weight" not in sd:
        return x
    h = F.relu(F.linear(x, sd[f"{name}.0.weight"], sd[f"{name}.0.bias"]))
    h = F.relu(F.linear(h, sd[f"{name}.3.weight"], sd[f"{name}.3.bias"]))
    return F.linear(h, sd[f"{name}.6.weight"], sd[f"{name}.6.bias"])


def mha(sd: SD, name: str, q_in: Tensor, kv_in: Tensor, mask: Tensor | None, heads: int) -> Tensor:
    w, b = sd[f"{name}.in_proj_weight"], sd[f"{name}.in_proj_bias"]
    d = q_in.shape[-1]
    q = q_in @ w[:d].T + b[:d]
    k = kv_in @ w[d : 2 * d].T + b[d : 2 * d]
    v = kv_in @ w[2 * d :].T + b[2 * d :]
    bsz, lq, lk, dh = q.shape[0], q.shape[1], k.shape[1], d // heads
    q = q.reshape(bsz, lq, heads, dh).permute(0, 2, 1, 3)
    k = k.reshape(bsz, lk, heads, dh).permute(0, 2, 1, 3)
    v = v.reshape(bsz, lk, heads, dh).permute(0, 2, 1, 3)
    scores = q @ k.transpose(-1, -2) / math.sqrt(dh)  # [B, H, Lq, Lk]
    if mask is not None:
        scores = scores + mask[:, None]
    out = (scores.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(bsz, lq, d)
    return F.linear(out, sd[f"{name}.out_proj.weight"], sd[f"{name}.out_proj.bias"])


def norm(sd: SD, name: str, x: Tensor, stage_emb: Tensor | None) -> Tensor:
    if f"{name}.project_layer.weight" in sd:  # AdaptiveLayerNorm
        wb = F.linear(stage_emb, sd[f"{name}.project_layer.weight"], sd[f"{name}.project_layer.bias"])
        w, b = wb.split(x.shape[-1], dim=-1)
        return w * F.layer_norm(x, (x.shape[-1],), sd[f"{name}.norm.weight"], sd[f"{name}.norm.bias"]) + b
    return F.layer_norm(x, (x.shape[-1],), sd[f"{name}.weight"], sd[f"{name}.bias"])


def ffn(sd: SD, name: str, x: Tensor) -> Tensor:
    h = F.relu(F.linear(x, sd[f"{name}.linear1.weight"], sd[f"{name}.linear1.bias"]))
    return F.linear(h, sd[f"{name}.linear2.weight"], sd[f"{name}.linear2.bias"])


def run_stack(sd: SD, name: str, x: Tensor, self_mask: Tensor, memory: Tensor | None, mem_mask: Tensor | None,
              stage_emb: Tensor | None, heads: int, norm_first: bool) -> Tensor:
    """TransformerEncoder (memory None) or TransformerDecoder stack + final norm when pre-norm."""
    n_layers = len({k.split(".")[2] for k in sd if k.startswith(f"{name}.layers.")})
    for i in range(n_layers):
        p = f"{name}.layers.{i}"
        blocks = [lambda h, p=p: mha(sd, f"{p}.self_attn", h, h, self_mask, heads)]
        if memory is not None:
            blocks.append(lambda h, p=p: mha(sd, f"{p}.multihead_attn", h, memory, mem_mask, heads))
        blocks.append(lambda h, p=p: ffn(sd, p, h))
        for j, block in enumerate(blocks, start=1):
            if norm_first:
                x = x + block(norm(sd, f"{p}.norm{j}", x, stage_emb))
            else:
                x = norm(sd, f"{p}.norm{j}", x + block(x), stage_emb)
    if norm_first:
        x = norm(sd, f"{name}.norm", x, stage_emb)
    return x


def to_float(mask_bool: Tensor) -> Tensor:
    return torch.zeros(mask_bool.shape).masked_fill(mask_bool, NEG)


def ar_logits(sd: SD, cfg: dict, x: Tensor, x_lens: Tensor, y: Tensor, y_lens: Tensor) -> Tensor:
    """The reference's `forward(train_stage=1)` output of `ar_predict_layer`: [B, T (+1 with BOS), 1025]."""
    eos, bos = 1024, 1025
    heads, norm_first = cfg["nhead"], cfg["norm_first"]
    x_mask, y_mask = pad_mask(x_lens, x.shape[1]), pad_mask(y_lens, y.shape[1])
    codes = y.long() * (~y_mask).long().unsqueeze(-1)
    full = F.pad(codes[..., 0], (0, 1), value=0) + eos * F.pad(y_mask.long(), (0, 1), value=1)
    if cfg["prepend_bos"]:
        inputs, ar_y_mask = F.pad(full[:, :-1], (1, 0), value=bos), F.pad(y_mask, (1, 0), value=False)
    else:
        inputs, ar_y_mask = full[:, :-1], y_mask
    xt = add_pe(sd, "ar_text_position", text_prenet(sd, "ar_text_prenet", emb(sd, "ar_text_embedding", x)))
    ya = add_pe(sd, "ar_audio_position", audio_prenet(sd, "ar_audio_prenet", emb(sd, "ar_audio_embedding", inputs)))
    b, s, t = x.shape[0], x.shape[1], inputs.shape[1]
    causal = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    if cfg["model_name"] in ("vallf", "vall-f"):
        self_mask = to_float(causal[None] | ar_y_mask[:, None, :])
        mem_mask = to_float(x_mask[:, None, :].expand(b, t, s))
        h = run_stack(sd, "ar_decoder", ya, self_mask, xt, mem_mask, None, heads, norm_first)
    else:
        top = F.pad(torch.zeros(s, s, dtype=torch.bool), (0, t), value=True)
        bottom = F.pad(causal, (s, 0), value=False)
        structure = torch.cat([top, bottom], dim=0)
        key_pad = torch.cat([x_mask, ar_y_mask], dim=1)
        h = run_stack(sd, "ar_decoder", torch.cat([xt, ya], 1), to_float(structure[None] | key_pad[:, None, :]),
                      None, None, None, heads, norm_first)[:, s:]
    return h @ sd["ar_predict_layer.weight"].T


def nar_logits(sd: SD, cfg: dict, x: Tensor, x_lens: Tensor, y: Tensor, y_lens: Tensor, stage: int,
               prefix_len: int = 0, prompt: Tensor | None = None) -> Tensor:
    """The reference's `forward(train_stage=2)` output of `nar_predict_layers[stage-1]` (eval mode).

    prefix mode 1: the first `prefix_len` frames are the prompt; modes 2/4: `prompt` [B, P, Q] is prepended.
    """
    eos, q = 1024, cfg["num_quantizers"]
    heads = int(cfg["nhead"] * cfg["scale_factor"])
    x_mask, y_mask = pad_mask(x_lens, x.shape[1]), pad_mask(y_lens, y.shape[1])
    codes = y.long() * (~y_mask).long().unsqueeze(-1)
    first = (F.pad(codes[..., 0], (0, 1), value=0) + eos * F.pad(y_mask.long(), (0, 1), value=1))[:, :-1]
    xt = add_pe(sd, "nar_text_position", text_prenet(sd, "nar_text_prenet", emb(sd, "nar_text_embedding", x)))
    if prompt is None:
        p = prefix_len
        y_prompts = emb(sd, "nar_audio_embeddings.0", first[:, :p])
        y_emb = emb(sd, "nar_audio_embeddings.0", first[:, p:])
        for j in range(1, q):
            y_prompts = y_prompts + emb(sd, f"nar_audio_embeddings.{j}", codes[:, :p, j])
            if j < stage:
                y_emb = y_emb + emb(sd, f"nar_audio_embeddings.{j}", codes[:, p:, j])
        key_pad_audio = y_mask
    else:
        p = 0
        y_prompts = emb(sd, "nar_audio_embeddings.0", prompt[..., 0])
        y_emb = emb(sd, "nar_audio_embeddings.0", first)
        for j in range(1, q):
            y_prompts = y_prompts + emb(sd, f"nar_audio_embeddings.{j}", prompt[..., j])
            if j < stage:
                y_emb = y_emb + emb(sd, f"nar_audio_embeddings.{j}", codes[..., j])
        key_pad_audio = F.pad(y_mask, (prompt.shape[1], 0), value=False)
    ya = torch.cat([y_prompts, y_emb], dim=1)
    ya = add_pe(sd, "nar_audio_position", audio_prenet(sd, "nar_audio_prenet", ya))
    stage_emb = sd[f"nar_stage_embeddings.{stage - 1}.word_embeddings.weight"]
    skip = p if prompt is None else prompt.shape[1]
    b, s, t = x.shape[0], x.shape[1], ya.shape[1]
    if cfg["model_name"] in ("vallf", "vall-f"):
        h = run_stack(sd, "nar_decoder", ya, to_float(key_pad_audio[:, None, :].expand(b, t, t)), xt,
                      to_float(x_mask[:, None, :].expand(b, t, s)), stage_emb, heads, cfg["norm_first"])[:, skip:]
    else:
        key_pad = torch.cat([x_mask, key_pad_audio], dim=1)
        h = run_stack(sd, "nar_decoder", torch.cat([xt, ya], 1), to_float(key_pad[:, None, :].expand(b, s + t, s + t)),
                      None, None, stage_emb, heads, cfg["norm_first"])[:, s + skip :]
    return h @ sd[f"nar_predict_layers.{stage - 1}.weight"].T
