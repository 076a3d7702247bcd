"""`SymbolTable`: the text-token inventory, in k2's `unique_text_tokens.k2symbols` format.

The file is one ``<symbol> <id>`` pair per line, ids from ``<eps> 0``; lifeiteng/vall-e writes it with
``<eps>`` first and then every token of the corpus, sorted, with ids 1, 2, ...  (`from_symbols` builds
exactly that).  Model ids are not these file ids: `TextTokenCollater` re-numbers the sorted symbols
(``<eps>`` included) after ``<pad>``, ``<bos>``, ``<eos>``, as the reference does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator

from valle.errors import DataError, InvalidInputError, require_file
from valle.utils import atomic_write

EPS = "<eps>"
_ID_RE = re.compile(r"-?[0-9]+")


class SymbolTable:
    """A two-way map between symbols (strings without whitespace) and integer ids; id 0 is epsilon."""

    def __init__(self, eps: str = EPS) -> None:
        self._sym2id: dict[str, int] = {}
        self._id2sym: dict[int, str] = {}
        self.eps = eps
        self.add(eps, 0)

    @classmethod
    def from_symbols(cls, symbols: Iterable[str]) -> SymbolTable:
        """The table the reference writes for a corpus: ``<eps> 0`` then the unique tokens, sorted, from 1."""
        table = cls()
        for symbol in sorted(set(symbols)):
            table.add(symbol)
        return table

    @classmethod
    def from_str(cls, text: str, source: str = "symbol table") -> SymbolTable:
        """Parse k2symbols text; `source` names the file in error messages."""
        pairs: list[tuple[str, int]] = []
        for lineno, line in enumerate(text.split("\n"), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not _ID_RE.fullmatch(fields[1]):
                raise DataError(f"{source} line {lineno} is {line.strip()!r}, expected '<symbol> <integer id>'")
            pairs.append((fields[0], int(fields[1])))
        id2sym = {i: s for s, i in pairs}
        table = cls(eps=id2sym.get(0, EPS))
        for symbol, idx in pairs:
            if idx == 0 and symbol == table.eps:
                continue
            try:
                table.add(symbol, idx)
            except InvalidInputError as e:
                raise DataError(f"{source}: {e}") from None
        return table

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SymbolTable:
        """Read a ``unique_text_tokens.k2symbols`` file (UTF-8)."""
        path = require_file(path, "symbol table", "run `valle tokenize` to write it")
        return cls.from_str(path.read_text(encoding="utf-8"), source=str(path))

    def to_str(self) -> str:
        """k2symbols text: ``<symbol> <id>`` lines in id order."""
        return "".join(f"{symbol} {idx}\n" for idx, symbol in sorted(self._id2sym.items()))

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the table (atomically, UTF-8); `from_file` reads it back identical."""
        with atomic_write(path) as tmp:
            tmp.write_text(self.to_str(), encoding="utf-8")

    def add(self, symbol: str, index: int | None = None) -> int:
        """Add `symbol` (at `index`, or after the largest id) and return its id; known symbols keep theirs."""
        if not isinstance(symbol, str) or not symbol or any(c.isspace() for c in symbol):
            raise InvalidInputError(f"symbol {symbol!r} cannot be stored: symbols are non-empty and without spaces")
        if symbol in self._sym2id:
            if index is not None and self._sym2id[symbol] != index:
                raise InvalidInputError(f"symbol {symbol!r} appears twice (ids {self._sym2id[symbol]} and {index})")
            return self._sym2id[symbol]
        if index is None:
            index = max(self._id2sym, default=-1) + 1
        if index < 0:
            raise InvalidInputError(f"symbol {symbol!r} has a negative id {index}")
        if index in self._id2sym:
            raise InvalidInputError(f"id {index} is used by both {self._id2sym[index]!r} and {symbol!r}")
        self._sym2id[symbol] = index
        self._id2sym[index] = symbol
        return index

    @property
    def symbols(self) -> list[str]:
        """All symbols, epsilon included, sorted (k2's `.symbols`, which the reference's collater sorts)."""
        return sorted(self._sym2id)

    @property
    def ids(self) -> list[int]:
        return sorted(self._id2sym)

    def get(self, key: str | int) -> str | int:
        """Id of a symbol, or symbol of an id (KeyError if absent, as a dict)."""
        return self._id2sym[key] if isinstance(key, int) else self._sym2id[key]

    __getitem__ = get

    def __contains__(self, key: object) -> bool:
        return key in (self._id2sym if isinstance(key, int) else self._sym2id)

    def __len__(self) -> int:
        return len(self._id2sym)

    def __iter__(self) -> Iterator[str]:
        """Symbols in id order."""
        return (s for _, s in sorted(self._id2sym.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymbolTable) and self._sym2id == other._sym2id

    def __repr__(self) -> str:
        return f"SymbolTable({len(self)} symbols)"
