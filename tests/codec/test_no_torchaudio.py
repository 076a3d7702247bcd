"""torchaudio cannot load beside torch 2.13: no project file may import it."""

from __future__ import annotations

import re

from tests.conftest import REPO

IMPORT = re.compile(r"^\s*(import|from)\s+torch" + "audio", re.MULTILINE)


def test_no_torchaudio_import_anywhere() -> None:
    offenders = []
    for folder in ("valle", "tests", "bench", "scripts", "egs"):
        for path in (REPO / folder).rglob("*.py"):
            if IMPORT.search(path.read_text(encoding="utf-8", errors="replace")):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
