"""VALL-E and VALL-F: an autoregressive (AR) and a non-autoregressive (NAR) codec language model in one module.

* AR: predicts codebook 1 frame by frame (+ EOS).  VALL-E runs one decoder-only stack over
  `[text ; audio]` (text attends to text bidirectionally, audio attends to all text and causally to audio);
  VALL-F runs a decoder over the audio that cross-attends to the embedded text.
* NAR: predicts codebook `stage + 1` for all frames at once from the text and the sum of the embeddings of
  codebooks <= stage, conditioned on the stage through adaptive layer norm.  Prompt frames are embedded
  with all codebooks (see `PrefixMode`).

VALL-E vs VALL-F is `ModelConfig.model_name`; both share every method below and the single
`TransformerLayer`.  Parameter names are lifeiteng/vall-e's, so `load_state_dict` of its checkpoints needs no
key mapping.  Training losses live in `valle.models.losses`, decoding in `valle.models.generate`.

Dimension legend: B batch, S text tokens, T audio frames, P prompt frames, Q codebooks, D width,
V vocabulary (1025 = codes + EOS for the AR, 1024 for the NAR).
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn

from valle.errors import InvalidInputError
from valle.models.config import ModelConfig, PrefixMode
from valle.models.embedding import SinePositionalEmbedding, TokenEmbedding, audio_prenet, text_prenet
from valle.models.generate import generate, generate_batch
from valle.models.kv_cache import KVCache
from valle.models.losses import LossOutput, compute_losses
from valle.models.masks import causal_mask, key_mask, lengths_to_valid, prefix_lm_mask
from valle.models.transformer import TransformerStack


class VALLE(nn.Module):
    """The AR + NAR model (VALL-E or VALL-F, per `config.model_name`).

    Args:
        config: all hyper-parameters; kept as `self.config` so checkpoints can rebuild the model.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        d, dn = c.decoder_dim, c.nar_dim
        cross = c.architecture == "vallf"
        # Checkpoints may carry metadata (symbols, codec, ...); `load_checkpoint` fills this in.
        self.meta: Any = None

        self.ar_text_embedding = TokenEmbedding(d, c.num_text_tokens)
        self.ar_audio_embedding = TokenEmbedding(d, c.num_audio_tokens + 1 + int(c.prepend_bos))
        self.ar_text_prenet = text_prenet(d) if c.add_prenet else nn.Identity()
        self.ar_audio_prenet = audio_prenet(d) if c.add_prenet else nn.Identity()
        self.ar_text_position = SinePositionalEmbedding(d, c.dropout, learn_alpha=True)
        self.ar_audio_position = SinePositionalEmbedding(d, c.dropout, learn_alpha=True)
        self.ar_decoder = TransformerStack(
            c.num_decoder_layers, d, c.nhead, c.dropout, c.norm_first, adaptive_norm=False, cross_attention=cross,
            attention_dropout=c.attention_dropout
        )
        # Not tied to the AR audio embedding: the reference found tying hurts accuracy.
        self.ar_predict_layer = nn.Linear(d, c.num_audio_tokens + 1, bias=False)

        if c.num_quantizers > 1:
            q = c.num_quantizers
            self.nar_text_embedding = TokenEmbedding(dn, c.num_text_tokens)
            # Embedding 0 takes the AR input ids, where padded frames hold EOS, hence one extra row.
            self.nar_audio_embeddings = nn.ModuleList(
                [TokenEmbedding(dn, c.num_audio_tokens + 1)]
                + [TokenEmbedding(dn, c.num_audio_tokens) for _ in range(q - 1)]
            )
            self.nar_text_prenet = text_prenet(dn) if c.add_prenet else nn.Identity()
            self.nar_audio_prenet = audio_prenet(dn) if c.add_prenet else nn.Identity()
            self.nar_text_position = SinePositionalEmbedding(dn, 0.0, learn_alpha=False)
            self.nar_audio_position = SinePositionalEmbedding(dn, c.dropout, learn_alpha=False)
            self.nar_decoder = TransformerStack(
                c.nar_num_layers, dn, c.nar_nhead, c.dropout, c.norm_first, adaptive_norm=True, cross_attention=cross,
                attention_dropout=c.attention_dropout
            )
            self.nar_predict_layers = nn.ModuleList(
                nn.Linear(dn, c.num_audio_tokens, bias=False) for _ in range(q - 1)
            )
            self.nar_stage_embeddings = nn.ModuleList(TokenEmbedding(dn, 1) for _ in range(q - 1))
            if c.share_embedding:
                # Prediction layer j outputs codebook j+1, whose embedding (j+1) is only ever an input of
                # later stages; the reference ties layer j to embedding j+2 (the last layer stays free).
                for j in range(q - 2):
                    tied = cast(TokenEmbedding, self.nar_audio_embeddings[j + 2]).word_embeddings.weight
                    cast(nn.Linear, self.nar_predict_layers[j]).weight = tied

    # ------------------------------------------------------------------ shared pieces
    @property
    def is_vallf(self) -> bool:
        return self.config.architecture == "vallf"

    def check_inputs(self, x: Tensor, x_lens: Tensor, y: Tensor | None = None, y_lens: Tensor | None = None) -> None:
        """Raise `InvalidInputError` (one sentence) for malformed text/code batches."""
        c = self.config
        if x.ndim != 2 or x_lens.ndim != 1 or x_lens.shape[0] != x.shape[0]:
            raise InvalidInputError(
                f"text must be x [B, S] with x_lens [B], got {tuple(x.shape)} and {tuple(x_lens.shape)}"
            )
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= c.num_text_tokens):
            raise InvalidInputError(
                f"text ids must lie in [0, {c.num_text_tokens}), got {int(x.min())}..{int(x.max())}"
            )
        if int(x_lens.min()) < 1 or int(x_lens.max()) > x.shape[1]:
            raise InvalidInputError(f"x_lens must lie in [1, {x.shape[1]}], got {x_lens.tolist()}")
        if y is None or y_lens is None:
            return
        if y.ndim != 3 or y.shape[0] != x.shape[0] or y_lens.shape != x_lens.shape:
            raise InvalidInputError(
                f"codes must be y [B, T, Q] with y_lens [B] matching x's batch {x.shape[0]}, "
                f"got {tuple(y.shape)} and {tuple(y_lens.shape)}"
            )
        if y.shape[2] < c.num_quantizers:
            raise InvalidInputError(f"the model needs {c.num_quantizers} codebooks, y has {y.shape[2]}")
        if int(y_lens.min()) < 1 or int(y_lens.max()) > y.shape[1]:
            raise InvalidInputError(f"y_lens must lie in [1, {y.shape[1]}], got {y_lens.tolist()}")

    def clean_codes(self, y: Tensor, y_lens: Tensor) -> tuple[Tensor, Tensor]:
        """Integer codes with padded frames zeroed, and the frame validity.

        Returns:
            codes [B, T, Q] int64, valid [B, T] bool.
        """
        valid = lengths_to_valid(y_lens, y.shape[1])
        codes = y[..., : self.config.num_quantizers].to(torch.int64) * valid.unsqueeze(-1)
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.config.num_audio_tokens):
            raise InvalidInputError(
                f"audio codes must lie in [0, {self.config.num_audio_tokens}), "
                f"got {int(codes.min())}..{int(codes.max())}"
            )
        return codes, valid

    def ar_io(self, codes: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """AR input ids, target ids and the positions that are real (frames + the EOS target).

        Padded input frames hold EOS (as in the reference); with `prepend_bos` the input starts with BOS
        and is one frame longer.  Example (no BOS, length 3, padded to 4): codes c0 c1 c2 -> input
        `c0 c1 c2 EOS`, target `c1 c2 EOS EOS`, real `1 1 1 0`.

        Args:
            codes: [B, T, Q] cleaned codes; valid: [B, T] bool.

        Returns:
            inputs [B, T'] , targets [B, T'], real [B, T'] with T' = T + prepend_bos.
        """
        eos = self.config.eos_id
        c0 = codes[..., 0].masked_fill(~valid, eos)  # [B, T]
        shifted = torch.cat([c0, c0.new_full((c0.shape[0], 1), eos)], dim=1)  # [B, T + 1]
        if self.config.prepend_bos:
            inputs = torch.cat([c0.new_full((c0.shape[0], 1), self.config.bos_id), c0], dim=1)  # [B, T + 1]
            real = torch.cat([valid.new_ones(valid.shape[0], 1), valid], dim=1)
            return inputs, shifted, real
        return c0, shifted[:, 1:], valid

    def _embed_text(self, x: Tensor, part: str) -> Tensor:
        emb: TokenEmbedding = getattr(self, f"{part}_text_embedding")
        prenet: nn.Module = getattr(self, f"{part}_text_prenet")
        position: SinePositionalEmbedding = getattr(self, f"{part}_text_position")
        return position(prenet(emb(x)))  # [B, S, D]

    def _decode(
        self,
        stack: TransformerStack,
        text: Tensor,
        text_valid: Tensor,
        audio: Tensor,
        audio_valid: Tensor,
        *,
        causal: bool,
        cond: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Run a stack over text + audio and return the audio positions' outputs.

        VALL-E concatenates `[text ; audio]` (prefix-LM mask for the AR, key padding for the NAR);
        VALL-F decodes the audio alone with cross-attention to the text.  With a cache, `text`
        and `audio` are the *new* positions only (`text` is empty after the prefill for VALL-E).

        Args:
            text: [B, S, D]; text_valid: [B, S].  audio: [B, T, D]; audio_valid: [B, T].
            causal: AR (True) or NAR (False) masking of audio positions.
            cond: AdaLN condition for NAR stacks.  cache: see `valle.models.kv_cache`.

        Returns:
            [B, T, D].
        """
        s = text.shape[1]
        if self.is_vallf:
            memory_mask = None if bool(text_valid.all()) else key_mask(text_valid)
            if cache is not None:
                mask = self._cached_mask(cache, audio_valid, causal)
            elif causal:
                mask = causal_mask(audio_valid)
            else:
                mask = None if bool(audio_valid.all()) else key_mask(audio_valid)
            return stack(audio, mask=mask, memory=text, memory_mask=memory_mask, cond=cond, cache=cache)
        h = torch.cat([text, audio], dim=1)  # [B, S + T, D]
        if cache is not None:
            mask = self._cached_mask(cache, torch.cat([text_valid, audio_valid], dim=1), causal, text_len=s)
        elif causal:
            mask = prefix_lm_mask(text_valid, audio_valid)
        else:
            valid = torch.cat([text_valid, audio_valid], dim=1)  # [B, S + T]
            mask = None if bool(valid.all()) else key_mask(valid)
        return stack(h, mask=mask, cond=cond, cache=cache)[:, s:]

    @staticmethod
    def _cached_mask(cache: KVCache, new_valid: Tensor, causal: bool, text_len: int = 0) -> Tensor | None:
        """Mask of new positions over cached + new keys; None when nothing needs masking (fast path)."""
        key_valid = cache.extend(new_valid)  # [B, L + T]
        t, past = new_valid.shape[1], cache.length
        if t == 1 and bool(key_valid.all()):
            return None
        mask = key_mask(key_valid)
        if causal and t > 1:
            # Within the new block: text attends to new text only, audio causally (prefix-LM rule).
            structure = torch.ones(t, past + t, dtype=torch.bool, device=new_valid.device)
            structure[:, past:] = prefix_lm_mask(
                new_valid.new_ones(1, text_len), new_valid.new_ones(1, t - text_len)
            )[0, 0]
            mask = mask & structure
        return mask

    # ------------------------------------------------------------------ AR
    def ar_hidden(
        self,
        text: Tensor,
        text_valid: Tensor,
        ar_inputs: Tensor,
        ar_valid: Tensor,
        *,
        positions: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """AR stack output for audio ids `ar_inputs` given embedded text (from `embed_ar_text`).

        Args:
            text: [B, S, D] embedded text (S = 0 for cached VALL-E steps after the prefill).
            text_valid: [B, S].  ar_inputs: [B, T] audio ids (codes, EOS padding, BOS).  ar_valid: [B, T].
            positions: [B, T] audio positions; None = 0..T-1.

        Returns:
            [B, T, D].
        """
        a = self.ar_audio_embedding(ar_inputs)  # [B, T, D]
        a = self.ar_audio_position(self.ar_audio_prenet(a), positions)
        return self._decode(self.ar_decoder, text, text_valid, a, ar_valid, causal=True, cache=cache)

    def embed_ar_text(self, x: Tensor) -> Tensor:
        """[B, S] text ids -> [B, S, D] AR text input (embedding, pre-net, positions)."""
        return self._embed_text(x, "ar")

    def ar_logits(self, x: Tensor, x_lens: Tensor, y: Tensor, y_lens: Tensor) -> Tensor:
        """Teacher-forced AR logits for every audio position.

        Args:
            x: [B, S] text ids ([BOS, phonemes, EOS], 0-padded); x_lens: [B] (with BOS/EOS).
            y: [B, T, Q] codes (padding ignored); y_lens: [B].

        Returns:
            [B, T + prepend_bos, num_audio_tokens + 1]: position t predicts the frame after input t
            (see `ar_io`); index num_audio_tokens is EOS.
        """
        self.check_inputs(x, x_lens, y, y_lens)
        codes, valid = self.clean_codes(y, y_lens)
        inputs, _, real = self.ar_io(codes, valid)
        text_valid = lengths_to_valid(x_lens, x.shape[1])
        h = self.ar_hidden(self.embed_ar_text(x), text_valid, inputs, real)
        return self.ar_predict_layer(h)

    # ------------------------------------------------------------------ NAR
    def embed_nar_text(self, x: Tensor) -> Tensor:
        """[B, S] text ids -> [B, S, D_nar] NAR text input."""
        return self._embed_text(x, "nar")

    def embed_codes(self, first: Tensor, codes: Tensor, upto: int) -> Tensor:
        """Sum of NAR audio embeddings: `E_0(first) + sum_{j=1}^{upto-1} E_j(codes[..., j])`.

        Args:
            first: [B, T] codebook-0 ids (may hold EOS = padding); codes: [B, T, >=upto].
            upto: number of codebooks to sum (1..Q).

        Returns:
            [B, T, D_nar].
        """
        emb = self.nar_audio_embeddings[0](first)
        for j in range(1, upto):
            emb = emb + self.nar_audio_embeddings[j](codes[..., j])
        return emb

    def nar_hidden(
        self, text: Tensor, text_valid: Tensor, audio: Tensor, audio_valid: Tensor, stage: int
    ) -> Tensor:
        """NAR stack output for summed audio embeddings `audio` [B, T, D] (prompt included), stage 1..Q-1."""
        a = self.nar_audio_position(self.nar_audio_prenet(audio))
        cond = cast(TokenEmbedding, self.nar_stage_embeddings[stage - 1]).weight  # [1, D]
        return self._decode(self.nar_decoder, text, text_valid, a, audio_valid, causal=False, cond=cond)

    def nar_inputs(
        self,
        codes: Tensor,
        valid: Tensor,
        stage: int,
        prefix_len: int = 0,
        prompt: Tensor | None = None,
        prompt_lens: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, int]:
        """Embedded NAR input for `stage` under the configured prefix mode.

        NONE: no prompt (`prefix_len` must be 0).  START: frames < `prefix_len` are the prompt.
        RANDOM / OTHER: `prompt` [B, P, Q] codes are prepended (`prompt_lens` [B] masks its padding).
        Prompt frames embed all Q codebooks; the other frames embed codebooks < `stage`.

        Returns:
            audio [B, T_in, D], audio_valid [B, T_in], start: index of the first predicted frame.
        """
        c = self.config
        if not 1 <= stage < c.num_quantizers:
            raise InvalidInputError(f"NAR stage must lie in [1, {c.num_quantizers - 1}], got {stage}")
        first = codes[..., 0].masked_fill(~valid, c.eos_id)  # the AR input ids (padding = EOS)
        mode = c.prefix_mode
        if mode in (PrefixMode.NONE, PrefixMode.START):
            if mode == PrefixMode.NONE and prefix_len:
                raise InvalidInputError(f"prefix_mode 0 has no prompt; prefix_len must be 0, got {prefix_len}")
            if not 0 <= prefix_len < codes.shape[1]:
                raise InvalidInputError(f"prefix_len must lie in [0, {codes.shape[1]}), got {prefix_len}")
            p = prefix_len
            head = self.embed_codes(first[:, :p], codes[:, :p], c.num_quantizers)
            tail = self.embed_codes(first[:, p:], codes[:, p:], stage)
            return torch.cat([head, tail], dim=1), valid, p
        if prompt is None:
            raise InvalidInputError(f"prefix_mode {int(mode)} needs prompt codes [B, P, Q] for the NAR")
        if prompt.ndim != 3 or prompt.shape[0] != codes.shape[0] or prompt.shape[2] < c.num_quantizers:
            raise InvalidInputError(
                f"prompt must be [B={codes.shape[0]}, P, Q>={c.num_quantizers}], got {tuple(prompt.shape)}"
            )
        if prompt_lens is None:
            prompt_lens = torch.full_like(valid[:, 0], prompt.shape[1], dtype=torch.long)
        p_codes, p_valid = self.clean_codes(prompt, prompt_lens)
        head = self.embed_codes(p_codes[..., 0], p_codes, c.num_quantizers)
        tail = self.embed_codes(first, codes, stage)
        return torch.cat([head, tail], dim=1), torch.cat([p_valid, valid], dim=1), prompt.shape[1]

    def nar_logits(
        self,
        x: Tensor,
        x_lens: Tensor,
        y: Tensor,
        y_lens: Tensor,
        stage: int,
        prefix_len: int = 0,
        prompt: Tensor | None = None,
        prompt_lens: Tensor | None = None,
    ) -> Tensor:
        """Teacher-forced NAR logits predicting codebook `stage` (1..Q-1, 0-based) from codebooks < stage.

        Args:
            x, x_lens, y, y_lens: as in `ar_logits`.
            stage: which codebook to predict.
            prefix_len: prefix mode START: how many leading frames form the acoustic prompt.
            prompt, prompt_lens: prefix modes RANDOM / OTHER: [B, P, Q] prompt codes (and [B] lengths).

        Returns:
            [B, T - prefix_len, num_audio_tokens] for modes NONE/START; [B, T, num_audio_tokens] for
            RANDOM/OTHER (the prepended prompt is not predicted).
        """
        if self.config.num_quantizers < 2:
            raise InvalidInputError("this model has no NAR stages (num_quantizers = 1)")
        self.check_inputs(x, x_lens, y, y_lens)
        codes, valid = self.clean_codes(y, y_lens)
        audio, audio_valid, start = self.nar_inputs(codes, valid, stage, prefix_len, prompt, prompt_lens)
        text_valid = lengths_to_valid(x_lens, x.shape[1])
        h = self.nar_hidden(self.embed_nar_text(x), text_valid, audio, audio_valid, stage)
        return self.nar_predict_layers[stage - 1](h[:, start:])

    def parameter_counts(self) -> dict[str, int]:
        """Unique parameters (tied tensors counted once) of the AR half, the NAR half and in total."""
        seen: set[int] = set()
        counts = {"ar": 0, "nar": 0, "total": 0}
        for name, p in self.named_parameters(remove_duplicate=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            counts["nar" if name.startswith("nar_") else "ar"] += p.numel()
            counts["total"] += p.numel()
        return counts

    # ------------------------------------------------------------------ training and decoding
    def forward(self, x: Tensor, x_lens: Tensor, y: Tensor, y_lens: Tensor, **options: Any) -> LossOutput:
        """Training losses of a batch; `options` (train_stage, nar_stage, generator, ...) as in `compute_losses`."""
        return compute_losses(self, x, x_lens, y, y_lens, **options)

    @torch.no_grad()
    def generate(
        self, x: Tensor, x_lens: Tensor, prompt: Tensor, enroll_x_lens: Tensor | None = None, **options: Any
    ) -> Tensor:
        """Zero-shot synthesis: [1, N, Q] codes; `options` (top_k, use_cache, ...) as in `generate.generate`."""
        return generate(self, x, x_lens, prompt, enroll_x_lens, **options)

    @torch.no_grad()
    def generate_batch(
        self,
        x: Tensor,
        x_lens: Tensor,
        prompts: Tensor,
        prompt_lens: Tensor | None = None,
        enroll_x_lens: Tensor | None = None,
        **options: Any,
    ) -> list[Tensor]:
        """Batched zero-shot synthesis: B tensors [N_b, Q]; `options` as in `generate.generate_batch`."""
        return generate_batch(self, x, x_lens, prompts, prompt_lens, enroll_x_lens, **options)
