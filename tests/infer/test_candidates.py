"""Best of N AR draws: the code reader's ranking, the seeds of the draws, and what the synthesizer returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from valle.errors import CheckpointError, InvalidInputError, MissingFileError
from valle.infer import candidates as cand
from valle.infer.candidates import BestOfN, find_reader
from valle.infer.options import SynthesisOptions
from valle.infer.sampling import candidate_seed, make_sampler
from valle.models.code_reader import CodeReader, CodeReaderConfig, load_reader, save_reader

VOCAB = ["<pad>", "<bos>", "<eos>", "a", "b", "c"]


def spelling_reader() -> CodeReader:
    """A reader that reads code k as class k (0 = blank): its conv blocks are zeroed, so each is the identity."""
    reader = CodeReader(CodeReaderConfig(vocab=VOCAB, codebook_size=8, dim=6, dropout=0.0))
    with torch.no_grad():
        for p in reader.blocks.parameters():
            p.zero_()
        reader.embed.weight.copy_(10 * torch.eye(8)[:, :6])
        reader.out.weight.copy_(torch.eye(6))
        reader.out.bias.zero_()
    return reader.eval()


def test_the_reader_keeps_the_draw_that_spells_the_text() -> None:
    # The synthesizer's vocabulary orders symbols differently: targets are mapped by name.
    vocab = ["<pad>", "<bos>", "<eos>", "c", "b", "a"]
    abc = torch.tensor([5, 4, 3])  # "a b c" in the synthesizer's ids
    choose = BestOfN(spelling_reader(), [abc, abc], vocab, n=3)
    generated = torch.tensor([
        [5, 5, 5, 5, 5, 5], [3, 3, 4, 0, 5, 5], [3, 5, 4, 0, 0, 0],  # text 1: draw 1 spells a b c
        [3, 0, 4, 5, 5, 0], [5, 4, 3, 0, 0, 0], [3, 4, 4, 0, 0, 0],  # text 2: draw 0 does
    ])  # fmt: skip
    lens = torch.tensor([6, 6, 3, 6, 3, 2])
    assert choose(generated, lens).tolist() == [1, 3]
    assert choose.scores is not None and choose.scores.shape == (2, 3)
    assert choose.scores[0, 1] < 0.01 and choose.scores[0, 0] > 1 and choose.scores[1, 2] == float("inf")  # too short


def test_empty_draws_score_inf_and_all_empty_keeps_the_first() -> None:
    choose = BestOfN(spelling_reader(), [torch.tensor([3])], VOCAB, n=2)
    assert choose(torch.tensor([[0, 0], [3, 0]]), torch.tensor([0, 1])).tolist() == [1]
    assert choose(torch.zeros(2, 0, dtype=torch.long), torch.tensor([0, 0])).tolist() == [0]


def test_candidate_rows_draw_with_their_own_seeds() -> None:
    opts = SynthesisOptions(top_k=-1, seed=7)
    logits = torch.randn(1, 50).repeat(6, 1)
    history = torch.zeros(6, 0, dtype=torch.long)
    rows = make_sampler(opts, 6, candidates=3)(logits, history)
    alone = [make_sampler(SynthesisOptions(top_k=-1, seed=candidate_seed(7, k)), 1)(logits[:1], history[:1])
             for k in range(3)]  # fmt: skip
    assert rows.tolist() == [int(a) for a in alone] * 2
    assert candidate_seed(7, 0) == 7 and candidate_seed(7, 1) != 8  # draw 0 is the plain draw; seeds do not overlap
    assert 0 <= candidate_seed(2**63 - 1, 3) < 2**63  # the largest seed the API takes still seeds a generator


def test_reader_round_trip_and_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader, codec = spelling_reader(), {"backend": "builtin", "content_hash": "ab" * 32}
    save_reader(reader, tmp_path / "r.pt", codec, {"step": 3})
    back, meta = load_reader(tmp_path / "r.pt")
    codes = torch.tensor([[1, 3, 0, 4]])
    assert torch.allclose(back(codes, torch.tensor([4])), reader(codes, torch.tensor([4])), atol=1e-2)
    assert meta == {"codec": codec, "extra": {"step": 3}}
    assert isinstance(find_reader(codec, tmp_path / "r.pt", torch.device("cpu")), CodeReader)
    with pytest.raises(CheckpointError, match="reads another codec's codes than this model's"):
        find_reader({"backend": "builtin", "content_hash": "cd" * 32}, tmp_path / "r.pt", torch.device("cpu"))
    with pytest.raises(MissingFileError, match="code reader .*none.pt does not exist"):
        find_reader(codec, tmp_path / "none.pt", torch.device("cpu"))
    torch.save({"state_dict": {}}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="not a code reader checkpoint"):
        load_reader(tmp_path / "model.pt")
    monkeypatch.setattr(cand, "SHIPPED_READER", tmp_path / "absent.pt")
    with pytest.raises(InvalidInputError, match="needs a code reader and none ships"):
        find_reader(codec, None, torch.device("cpu"))


def test_synthesizer_returns_the_chosen_draw(exp_dir: Path, prompt_files, tmp_path: Path) -> None:
    from valle.infer import Synthesizer

    probe = Synthesizer.from_checkpoint(exp_dir / "best.pt")
    vocab = probe.collater().idx2token
    reader = CodeReader(CodeReaderConfig(vocab=vocab, codebook_size=16, dim=8))
    save_reader(reader, tmp_path / "reader.pt", probe.codec.identity, {})
    synth = Synthesizer.from_checkpoint(exp_dir / "best.pt", reader=tmp_path / "reader.pt")
    (audio, text), sampling = prompt_files[0], {"top_k": -1, "max_new_frames": 30, "min_new_frames": 10}
    alone = [synth.synthesize("Hello there.", audio, text, seed=candidate_seed(3, k), **sampling)[0] for k in range(3)]
    assert not np.array_equal(alone[0], alone[1]) and not np.array_equal(alone[1], alone[2])  # the draws differ
    # Force the choice through the reader's scores: the draw it scores lowest is the one returned.
    for pick in range(3):
        scores = torch.full((3,), 5.0)
        scores[pick] = 1.0
        synth.code_reader().ctc_loss = lambda *args, s=scores: s  # type: ignore[method-assign]
        best, _ = synth.synthesize("Hello there.", audio, text, seed=3, candidates=3, **sampling)
        np.testing.assert_allclose(best, alone[pick], atol=1e-5)


def test_the_shipped_reader_reads_speech_as_its_own_transcript(prompt_files) -> None:
    """On recordings of voices it never heard, the shipped reader finds each one's own transcript far likelier
    than another recording's: it reads what is said, not who says it."""
    from valle.infer import Synthesizer
    from valle.infer.api import SHIPPED_MODEL
    from valle.infer.audio_input import read_prompt_audio

    synth = Synthesizer.from_checkpoint(SHIPPED_MODEL)
    assert synth.code_reader_path() == cand.SHIPPED_READER  # found for the shipped codec, with no --reader
    files = prompt_files[:4]
    codes = [synth.codec.encode(read_prompt_audio(w))[0, 0] for w, _ in files]  # codebook 1 [T]
    collate = synth.collater()
    texts = [collate([synth._tokens(t)], [t])[0][0, 1:-1] for _, t in files]
    lens = torch.tensor([len(c) for c in codes])
    padded = torch.nn.utils.rnn.pad_sequence(codes, batch_first=True)
    own = BestOfN(synth.code_reader(), texts, collate.idx2token, 1)
    own(padded, lens)
    other = BestOfN(synth.code_reader(), texts[1:] + texts[:1], collate.idx2token, 1)  # each with the next one's text
    other(padded, lens)
    assert own.scores is not None and other.scores is not None
    assert (own.scores[:, 0] < 2).all(), own.scores
    assert (other.scores[:, 0] > own.scores[:, 0] + 3).all(), (own.scores, other.scores)
