"""valle.text: the text front-end (G2P backends, normalization, symbol tables, collation).

    from valle.text import TextTokenizer, SymbolTable, TextTokenCollater

Names are imported on first use so `import valle.text` does not pull in torch or phonemizer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from valle.text.collation import TextTokenCollater
    from valle.text.config import TokenizerConfig
    from valle.text.symbols import SymbolTable
    from valle.text.tokenizer import TextTokenizer

_EXPORTS = {
    "TextTokenizer": "valle.text.tokenizer",
    "TokenizerConfig": "valle.text.config",
    "SymbolTable": "valle.text.symbols",
    "TextTokenCollater": "valle.text.collation",
}

__all__ = ["SymbolTable", "TextTokenCollater", "TextTokenizer", "TokenizerConfig"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'valle.text' has no attribute {name!r}")
