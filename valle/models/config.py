"""`ModelConfig`: every option of the VALL-E / VALL-F networks, with lifeiteng/vall-e's names and defaults.

The field names are exactly the trainer flags of lifeiteng/vall-e (`--decoder-dim` -> `decoder_dim`, ...), so
`asdict(config)` reads the same as the hyper-parameters stored in their checkpoints, and a reference
checkpoint's top-level keys can be turned into a config with `ModelConfig.from_dict`.  The few fields the
reference hard-codes as module constants (`num_text_tokens`, `num_audio_tokens`, `dropout`) are fields here,
because in this project sizes come from the symbol table and the codec.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from valle.errors import InvalidInputError


class PrefixMode(enum.IntEnum):
    """How the NAR decoder sees an acoustic prompt during training (the reference's `--prefix-mode`).

    The integer values are the reference's spellings; they are what checkpoints store.
    """

    NONE = 0  # no prompt: every frame embeds codebooks < stage (prompt and target alike)
    START = 1  # the first 25-50 % of the utterance (at most 3 s) is the prompt, embedded with all codebooks
    RANDOM = 2  # a random segment of the same utterance, prepended as the prompt (its targets are ignored)
    OTHER = 4  # another utterance's codes (supplied by the data pipeline), prepended as the prompt


class TrainStage(enum.IntEnum):
    """Which half of the model a training step optimises (the reference's `--train-stage`)."""

    BOTH = 0
    AR = 1
    NAR = 2


_MODEL_NAMES = {"vall-e": "valle", "valle": "valle", "vall-f": "vallf", "vallf": "vallf"}


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of a VALL-E (decoder-only) or VALL-F (cross-attention) model.

    Defaults are the reference trainer's defaults (a 12 x 1024 model, 367 M parameters).
    """

    model_name: str = "VALL-E"  # "VALL-E"/"valle": text is a prefix of the AR/NAR sequence; "VALL-F"/"vallf":
    # the decoders cross-attend to the embedded text instead
    decoder_dim: int = 1024  # width D of the AR stack (NAR width = int(D * scale_factor))
    nhead: int = 16  # attention heads of the AR stack (NAR heads = int(nhead * scale_factor))
    num_decoder_layers: int = 12  # AR layers (NAR layers = int(layers * scale_factor))
    scale_factor: float = 1.0  # NAR size multiplier for width, heads and layers
    norm_first: bool = True  # pre-norm (True, with a final norm after the stack) or post-norm (False, none)
    add_prenet: bool = False  # 3 conv layers before the text, a 3-layer MLP before the audio embeddings
    prefix_mode: PrefixMode = PrefixMode.NONE  # NAR acoustic-prompt scheme, see `PrefixMode`
    share_embedding: bool = True  # NAR prediction layer j reuses the weight of NAR audio embedding j + 2
    prepend_bos: bool = False  # the AR audio sequence starts with a BOS token (id num_audio_tokens + 1)
    num_quantizers: int = 8  # codebooks Q modelled; 1 = AR only (no NAR modules at all)
    num_text_tokens: int = 512  # rows of the text embeddings (the reference's NUM_TEXT_TOKENS)
    num_audio_tokens: int = 1024  # codebook size; id num_audio_tokens is EOS (and AR padding)
    dropout: float = 0.1  # dropout of attention, feed-forward and positional encodings (reference: 0.1)
    # Dropout on the attention weights alone; None = `dropout` (the reference).  0 lets training use PyTorch's
    # fused attention kernel on a CPU, where attention dropout forces the explicit path: a 4 x 128 training
    # step took 1.5x longer with it (bench/train.py, docs/train.md).  Changes no weight.
    attention_dropout: float | None = None

    def __post_init__(self) -> None:
        # Accept the reference's integer spelling of the prefix mode (e.g. from a checkpoint).
        if not isinstance(self.prefix_mode, PrefixMode):
            try:
                object.__setattr__(self, "prefix_mode", PrefixMode(int(self.prefix_mode)))
            except ValueError:
                raise InvalidInputError(
                    f"prefix_mode must be one of 0, 1, 2, 4, got {self.prefix_mode!r}"
                ) from None
        self.validate()

    # ------------------------------------------------------------------ derived sizes
    @property
    def architecture(self) -> str:
        """'valle' (decoder-only prefix LM) or 'vallf' (decoder with cross-attention to the text)."""
        return _MODEL_NAMES[self.model_name.lower()]

    @property
    def nar_dim(self) -> int:
        return int(self.decoder_dim * self.scale_factor)

    @property
    def nar_nhead(self) -> int:
        return int(self.nhead * self.scale_factor)

    @property
    def nar_num_layers(self) -> int:
        return int(self.num_decoder_layers * self.scale_factor)

    @property
    def eos_id(self) -> int:
        """Audio id that ends the AR sequence; also written into padded AR input frames."""
        return self.num_audio_tokens

    @property
    def bos_id(self) -> int:
        """Audio id of the AR start token (only embedded when `prepend_bos`)."""
        return self.num_audio_tokens + 1

    # ------------------------------------------------------------------ checks and (de)serialisation
    def validate(self) -> None:
        """Raise `InvalidInputError` (one sentence) for an impossible option combination."""
        if self.model_name.lower() not in _MODEL_NAMES:
            raise InvalidInputError(f"model_name must be 'VALL-E' or 'VALL-F', got {self.model_name!r}")
        for name in ("decoder_dim", "nhead", "num_decoder_layers", "num_quantizers", "num_text_tokens"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.num_audio_tokens < 2:
            raise InvalidInputError(f"num_audio_tokens must be >= 2, got {self.num_audio_tokens}")
        if self.decoder_dim % self.nhead:
            raise InvalidInputError(
                f"decoder_dim ({self.decoder_dim}) must be divisible by nhead ({self.nhead})"
            )
        if self.num_quantizers > 1:
            if self.nar_dim < 1 or self.nar_nhead < 1 or self.nar_num_layers < 1:
                raise InvalidInputError(
                    f"scale_factor {self.scale_factor} leaves the NAR stack empty; use a larger scale_factor"
                )
            if self.nar_dim % self.nar_nhead:
                raise InvalidInputError(
                    f"NAR width {self.nar_dim} is not divisible by its {self.nar_nhead} heads; "
                    f"choose scale_factor so that decoder_dim*scale_factor divides by nhead*scale_factor"
                )
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidInputError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.attention_dropout is not None and not 0.0 <= self.attention_dropout < 1.0:
            raise InvalidInputError(f"attention_dropout must be in [0, 1), got {self.attention_dropout}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data dict (ints, floats, bools, strings) for checkpoints; `from_dict` inverts it."""
        d = asdict(self)
        d["prefix_mode"] = int(self.prefix_mode)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build a config from any mapping that holds (a subset of) the field names; others are ignored.

        Missing fields keep their defaults, which is how older reference checkpoints (without
        `prepend_bos`, `num_quantizers`, ...) load.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def debug_config(**overrides: Any) -> ModelConfig:
    """A tiny model (2 layers, width 32, 2 heads) for unit tests and the demo's smoke path.

    Builds in milliseconds and has ~0.6 M parameters (most of them in the 512 x 32 text and
    1025 x 32 audio embedding tables).  Keyword arguments override any field.
    """
    base = ModelConfig(decoder_dim=32, nhead=2, num_decoder_layers=2, prefix_mode=PrefixMode.START)
    return base.replace(**overrides) if overrides else base
