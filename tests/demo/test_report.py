"""The demo report's text (fast; the end-to-end demo test builds a real one)."""

from __future__ import annotations

from pathlib import Path


def test_report_names_the_transcripts_faster_than_speech(tmp_path: Path) -> None:
    """A system with too-fast transcripts gets a sentence saying how many; one without (or a summary without
    the count) gets none."""
    from valle.demo.report import write_report

    base = {"items": 16, "wer": 0.6, "wer_median": 0.5, "sim_prompt_output": 0.77, "dnsmos": 2.8}
    summaries = {"shipped": {**base, "too_fast": 2}, "ground_truth": {**base, "too_fast": 0}, "old": base}
    write_report(tmp_path / "r.md", summaries, 0.59, None, [], [])
    text = (tmp_path / "r.md").read_text()
    assert "faster than anyone speaks (> 6 words/s" in text and "2 of 16 (shipped)." in text
    assert "(ground_truth)" not in text and "(old)" not in text
    write_report(tmp_path / "r.md", {"old": base}, 0.59, None, [], [])
    assert "faster than anyone speaks" not in (tmp_path / "r.md").read_text()
