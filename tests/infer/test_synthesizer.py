"""`Synthesizer`: checkpoint loading, prompts and voices, batching, long text, robustness, bad input."""

from __future__ import annotations

import copy
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from valle.codec import fit_builtin_codec, load_audio
from valle.codec.sources import list_audio_files
from valle.errors import CheckpointError, InvalidInputError, MissingFileError
from valle.infer import SynthesisOptions, SynthesisRequest, Synthesizer, Voice, split_text
from valle.infer.audio_input import trim_trailing_padding
from valle.infer.silence import is_silent, peak_dbfs
from valle.infer.synthesizer import without_trailing_padding
from valle.text import SymbolTable

HOP = 320


def test_synthesize_returns_24khz_float32_of_whole_frames(synth: Synthesizer, prompt_files) -> None:
    wav_path, transcript = prompt_files[0]
    wav, sr = synth.synthesize("Hello there.", wav_path, transcript, top_k=1, max_new_frames=12)
    assert sr == 24_000 and wav.dtype == np.float32 and wav.ndim == 1
    assert 0 < len(wav) <= 12 * HOP and len(wav) % HOP == 0
    assert np.isfinite(wav).all() and np.abs(wav).max() > 0


def test_greedy_output_matches_model_generate(synth: Synthesizer, prompt_files) -> None:
    """The API adds tokenization, prompt encoding and vocoding around exactly `model.generate`."""
    wav_path, transcript = prompt_files[1]
    voice = synth.make_voice(wav_path, transcript)
    wav, _ = synth.synthesize("How are you?", voice=voice, top_k=1, max_new_frames=20)
    ids, lens = synth.collater()([synth.tokenizer.tokenize([f"{transcript} How are you?"])[0]])
    codes = synth.model.generate(ids, lens, voice.codes[None], top_k=1, max_new_frames=20)[0]
    np.testing.assert_array_equal(wav, synth.vocode(codes))


def test_guidance_is_model_generate_with_guidance_and_warns_on_an_untrained_checkpoint(
    synth: Synthesizer, prompt_files, caplog: pytest.LogCaptureFixture
) -> None:
    wav_path, transcript = prompt_files[1]
    voice = synth.make_voice(wav_path, transcript)
    assert not synth.trained_for_guidance  # the fixture's checkpoint was trained without --text-dropout
    with caplog.at_level(logging.WARNING):
        wav, _ = synth.synthesize("How are you?", voice=voice, top_k=1, max_new_frames=20, guidance=2.0)
        synth.synthesize("How are you?", voice=voice, top_k=1, max_new_frames=20, guidance=2.0)
    assert caplog.text.count("not trained with --text-dropout") == 1  # once per synthesizer
    ids, lens = synth.collater()([synth.tokenizer.tokenize([f"{transcript} How are you?"])[0]])
    codes = synth.model.generate(ids, lens, voice.codes[None], top_k=1, max_new_frames=20, guidance=2.0)[0]
    np.testing.assert_array_equal(wav, synth.vocode(codes))
    with pytest.raises(InvalidInputError, match="guidance must be"):
        synth.synthesize("How are you?", voice=voice, guidance=-1.0)


def test_nar_temperature_decodes_expected_frames_of_the_same_ar_draws(synth: Synthesizer, prompt_files) -> None:
    wav_path, transcript = prompt_files[1]
    voice = synth.make_voice(wav_path, transcript)
    kw = {"voice": voice, "top_k": 3, "seed": 7, "max_new_frames": 20}
    argmax, _ = synth.synthesize("How are you?", **kw)
    cold, _ = synth.synthesize("How are you?", **kw, nar_temperature=1e-6)  # the limit T -> 0 is the argmax
    warm, _ = synth.synthesize("How are you?", **kw, nar_temperature=0.5)
    assert len(cold) == len(warm) == len(argmax)  # the AR draws are the same; only codebooks 2-8 are decoded apart
    np.testing.assert_allclose(cold, argmax, atol=1e-4)
    assert np.abs(warm - argmax).max() > 1e-3
    (pieces,) = synth.decode_requests([("How are you?", wav_path, transcript)]).pieces
    assert pieces is not None and not pieces[0].dtype.is_floating_point  # the default (0): codes
    frames = synth.decode_requests([SynthesisRequest("How are you?", voice=voice,
                                                     options=synth.options.with_changes(nar_temperature=0.5))])
    assert frames.pieces[0] is not None and frames.pieces[0][0].shape[1] == synth.codec.code_vectors().shape[2]
    with pytest.raises(InvalidInputError, match="nar_temperature must be a finite number >= 0"):
        synth.synthesize("How are you?", voice=voice, nar_temperature=float("nan"))


def test_seeded_sampling_is_reproducible_and_seed_dependent(synth: Synthesizer, prompt_files) -> None:
    wav_path, transcript = prompt_files[0]
    voice = synth.make_voice(wav_path, transcript)
    a = synth.synthesize("Some words to say.", voice=voice, top_k=8, seed=3, max_new_frames=30)[0]
    b = synth.synthesize("Some words to say.", voice=voice, top_k=8, seed=3, max_new_frames=30)[0]
    c = synth.synthesize("Some words to say.", voice=voice, top_k=8, seed=4, max_new_frames=30)[0]
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("sampling", [{"top_k": 1}, {"top_k": 8, "seed": 11}, {"top_p": 0.9, "ras": True, "seed": 2}])
def test_batch_equals_one_at_a_time(synth: Synthesizer, prompt_files, sampling: dict) -> None:
    opts = SynthesisOptions(max_new_frames=25, batch_size=4, **sampling)
    requests = [
        SynthesisRequest("First text.", prompt_files[0][0], prompt_files[0][1], options=opts),
        SynthesisRequest("A second, rather longer text to read.", prompt_files[1][0], prompt_files[1][1], options=opts),
        SynthesisRequest("Third.", prompt_files[2][0], prompt_files[2][1], options=opts),
    ]
    batched = synth.synthesize_batch(requests)
    for req, out in zip(requests, batched):
        alone = synth.synthesize(req.text, req.prompt_audio, req.prompt_text, options=opts)
        assert out is not None
        np.testing.assert_array_equal(out[0], alone[0])


def test_voice_round_trip_and_reuse(synth: Synthesizer, prompt_files, tmp_path: Path) -> None:
    wav_path, transcript = prompt_files[0]
    voice = synth.make_voice(wav_path, transcript, name="v1")
    path = voice.save(tmp_path / "v1.voice.pt")
    loaded = Voice.load(path)
    assert torch.equal(loaded.codes, voice.codes) and loaded.codes.dtype == torch.int64
    assert (loaded.text, loaded.tokens, loaded.codec, loaded.name) == (transcript, voice.tokens, voice.codec, "v1")
    assert loaded.duration == pytest.approx(len(load_audio(wav_path)[0]) / 24_000, abs=1 / 75)
    from_voice = synth.synthesize("Reuse me.", voice=str(path), top_k=1, max_new_frames=15)[0]
    from_audio = synth.synthesize("Reuse me.", wav_path, transcript, top_k=1, max_new_frames=15)[0]
    np.testing.assert_array_equal(from_voice, from_audio)


def test_voice_by_name_and_unknown_name(exp_dir: Path, prompt_files, tmp_path: Path) -> None:
    synth = Synthesizer.from_checkpoint(exp_dir / "best.pt", voice_dir=tmp_path)
    synth.make_voice(*prompt_files[0], name="alice").save(tmp_path / "alice.voice.pt")
    wav, _ = synth.synthesize("Hi.", voice="alice", top_k=1, max_new_frames=5)
    assert len(wav) > 0
    with pytest.raises(MissingFileError, match="no voice 'bob'.*alice"):
        synth.synthesize("Hi.", voice="bob")


def test_several_prompts_are_concatenated(synth: Synthesizer, prompt_files) -> None:
    (a, ta), (b, tb) = prompt_files[0], prompt_files[1]
    both = synth.make_voice([a, b], [ta, tb])
    one, two = synth.make_voice(a, ta), synth.make_voice(b, tb)
    assert torch.equal(both.codes, torch.cat([one.codes, two.codes]))
    assert both.text == f"{ta} {tb}"
    with pytest.raises(InvalidInputError, match="2 audio prompt.*3 text prompts"):
        synth.make_voice([a, b], [ta, tb, "extra"])


def test_long_text_is_split_and_joined_with_pauses(synth: Synthesizer, prompt_files) -> None:
    text = "The first sentence is here. A second one follows it. And then a third, which ends the text."
    opts = SynthesisOptions(top_k=1, max_new_frames=10, max_text_tokens=40, pause_seconds=0.1, min_new_frames=10)
    pieces = split_text(text, 40, synth._count_tokens)
    assert len(pieces) == 3
    wav, sr = synth.synthesize(text, *prompt_files[0], options=opts)
    assert len(wav) == 3 * 10 * HOP + 2 * int(0.1 * sr)  # min = max = 10 frames per sentence
    pause = wav[10 * HOP : 10 * HOP + int(0.1 * sr)]
    assert not pause.any()


def test_long_prompt_is_trimmed_to_its_end_with_a_warning(
    synth: Synthesizer, prompt_files, caplog: pytest.LogCaptureFixture
) -> None:
    voice = synth.make_voice(*prompt_files[0])
    with caplog.at_level(logging.WARNING):
        trimmed = synth.synthesize("Go.", voice=voice, top_k=1, max_new_frames=8, max_prompt_seconds=0.5)[0]
    assert (
        f"item 0: the prompt is {voice.duration:.1f} s, longer than the 0.5 s" in caplog.text
        and "keeping its last 0.5 s" in caplog.text
    )
    tail = Voice(voice.codes[-37:], voice.text, voice.tokens, voice.codec, voice.tokenizer)  # 0.5 s = 37 frames
    np.testing.assert_array_equal(trimmed, synth.synthesize("Go.", voice=tail, top_k=1, max_new_frames=8)[0])


def test_stereo_16khz_prompt_is_converted(synth: Synthesizer, prompt_files, tmp_path: Path, caplog) -> None:
    import soxr

    wav, _ = load_audio(prompt_files[0][0])
    low = soxr.resample(wav.numpy(), 24_000, 16_000)
    path = tmp_path / "stereo16k.wav"
    sf.write(path, np.stack([low, 0.5 * low], axis=1), 16_000)
    with caplog.at_level(logging.INFO):
        voice = synth.make_voice(path, prompt_files[0][1])
    assert "2 channels averaged to mono" in caplog.text and "from 16000 Hz" in caplog.text
    assert abs(voice.num_frames - synth.make_voice(*prompt_files[0]).num_frames) <= 1


def _forced(synth: Synthesizer, eos_logit: float) -> Synthesizer:
    """A copy of the synthesizer whose AR logits are 0 for every code and `eos_logit` for EOS."""
    model = copy.deepcopy(synth.model)
    with torch.no_grad():
        model.ar_decoder.norm.weight[0], model.ar_decoder.norm.bias[0] = 0.0, 1.0  # hidden[0] == 1
        model.ar_predict_layer.weight.zero_()
        model.ar_predict_layer.weight[model.config.eos_id, 0] = eos_logit
    return Synthesizer(model, synth.codec, synth.tokenizer, synth.symbols)


def test_min_length_ratio_holds_eos_for_a_share_of_the_length_the_prompt_rate_predicts(
    synth: Synthesizer, prompt_files, caplog: pytest.LogCaptureFixture
) -> None:
    eager = _forced(synth, 10.0)  # EOS is always the likeliest code
    voice = eager.make_voice(*prompt_files[0])
    texts = ["Say it.", "Say it again, a little slower this time."]  # decoded as one batch
    opts = eager.options.with_changes(top_k=1, min_length_ratio=0.5)
    with caplog.at_level(logging.INFO):
        out = eager.synthesize_batch([{"text": t, "voice": voice, "options": opts} for t in texts])
    for text, (wav, _) in zip(texts, out):
        target = len(eager._tokens(f"{voice.text} {text}")) - len(voice.tokens)
        expected = math.ceil(0.5 * target * voice.num_frames / len(voice.tokens))
        assert len(wav) == expected * HOP, text
    assert len(out[1][0]) > len(out[0][0])  # each row keeps its own minimum
    assert caplog.text.count("EOS suppressed") == 2  # one message per item, not one per masked step
    held = [r for r in caplog.records if "EOS suppressed" in r.getMessage()]
    assert [r.levelno for r in held] == [logging.WARNING] * 2  # EOS at the first step: the model wanted no speech
    untranscribed = eager.make_voice(prompt_files[0][0], "")  # no speaking rate: min_new_frames alone
    wav, _ = eager.synthesize("Say it.", voice=untranscribed, top_k=1, min_length_ratio=0.5, min_new_frames=3)
    assert len(wav) == 3 * HOP
    with pytest.raises(InvalidInputError, match="min_length_ratio"):
        eager.synthesize("Say it.", voice=voice, min_length_ratio=-1.0)
    with pytest.raises(InvalidInputError, match="min_length_ratio must be a finite number >= 0, got nan"):
        eager.synthesize("Say it.", voice=voice, min_length_ratio=float("nan"))


def test_eos_at_first_step_and_never(synth: Synthesizer, prompt_files, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        wav, _ = _forced(synth, 10.0).synthesize("Say it.", *prompt_files[0], top_k=1)
    assert len(wav) == HOP  # EOS suppressed once (min_new_frames=1), then accepted
    assert "item 0: the AR model chose EOS after 0 of 1 required frames" in caplog.text
    with caplog.at_level(logging.WARNING):
        wav, _ = _forced(synth, 10.0).synthesize("Say it.", *prompt_files[0], top_k=1, min_new_frames=0)
    assert len(wav) == 0 and "at the first step" in caplog.text
    never = _forced(synth, -10.0)
    with caplog.at_level(logging.WARNING):
        wav, _ = never.synthesize("Say it.", *prompt_files[0], top_k=1, max_new_frames=17)
    assert len(wav) == 17 * HOP and "no EOS after 17 frames" in caplog.text
    voice = never.make_voice(prompt_files[0][0], "")  # no transcript: a short text keeps this test fast
    x_len = len(never._tokens("Say it.")) + 2  # [BOS, tokens, EOS]
    wav, _ = never.synthesize("Say it.", voice=voice, top_k=1)  # the default cap: 16 frames per text token
    assert len(wav) == (16 * x_len + 1) * HOP


def test_bad_inputs_give_one_clear_error(synth: Synthesizer, prompt_files, tmp_path: Path) -> None:
    wav_path, transcript = prompt_files[0]
    with pytest.raises(InvalidInputError, match="text to synthesize is empty"):
        synth.synthesize("   ", wav_path, transcript)
    with pytest.raises(InvalidInputError, match=r"the text '\.\.\.!\?' has no letters or digits"):
        synth.synthesize(" ...!? ", wav_path, transcript)
    with pytest.raises(InvalidInputError, match="text to synthesize must be a string, got bytes; pass it as str"):
        synth.synthesize(b"Hi.", wav_path, transcript)  # type: ignore[arg-type]
    with pytest.raises(MissingFileError, match="does not exist"):
        synth.synthesize("Hi.", tmp_path / "missing.wav", "x")
    with pytest.raises(InvalidInputError, match="'é'.*symbol table lacks"):
        synth.synthesize("Café au lait.", wav_path, transcript, max_new_frames=3)
    with pytest.raises(InvalidInputError, match="no prompt"):
        synth.synthesize("Hi.")
    with pytest.raises(InvalidInputError, match="unknown synthesis option.*'topk'"):
        synth.synthesize("Hi.", wav_path, transcript, topk=3)
    with pytest.raises(InvalidInputError, match="top_p must lie"):
        synth.synthesize("Hi.", wav_path, transcript, top_p=0.0)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(24_000, dtype=np.float32), 24_000)
    with pytest.raises(Exception, match="silence"):
        synth.make_voice(silent, "nothing")
    # Unknown symbols can be dropped instead, with a warning.
    wav, _ = synth.synthesize("Café.", wav_path, transcript, max_new_frames=3, unknown_symbols="drop", top_k=1)
    assert len(wav) > 0


def test_a_silent_output_is_named_in_a_warning(
    synth: Synthesizer, prompt_files, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A model held back from stopping fills its frames with the codec's silence: say so, never pass it off."""
    assert peak_dbfs(np.full(10, 0.5, dtype=np.float32)) == pytest.approx(-6.02, abs=0.01)
    assert peak_dbfs(np.zeros(10, dtype=np.float32)) == float("-inf") and is_silent(np.zeros(0, dtype=np.float32))
    assert is_silent(np.full(10, 10 ** (-51 / 20))) and not is_silent(np.full(10, 10 ** (-49 / 20)))
    decoded = synth.decode_requests([{"text": "Hi.", "prompt_audio": prompt_files[0][0], "prompt_text": "Hi.",
                                      "name": "loud"},
                                     {"text": "Yo.", "prompt_audio": prompt_files[0][0], "prompt_text": "Hi.",
                                      "name": "quiet"}],
                                    )  # fmt: skip
    loud = synth.render(decoded, 0)[0]
    assert loud is not None and not is_silent(loud[0])
    monkeypatch.setattr(synth, "vocode", lambda codes: np.full(320 * len(codes), 1e-4, dtype=np.float32))
    with caplog.at_level(logging.WARNING, logger="valle.infer.synthesizer"):
        (wav, _), = synth.render(decoded, 1)
    assert is_silent(wav) and len(wav) > 0  # still returned: the caller decides (valle infer fails the item)
    warned = [r.getMessage() for r in caplog.records if "silent" in r.getMessage()]
    expected = ("quiet: the output is silent (peak -80 dBFS): the model spoke none of the text; try another seed, "
                "a longer text or another prompt")
    assert warned == [expected]


def test_without_trailing_padding_drops_only_a_repeated_last_frame() -> None:
    speech = torch.arange(24).reshape(6, 4)  # every frame differs
    pad = torch.full((5, 4), 7)
    assert torch.equal(without_trailing_padding(torch.cat([speech, pad])), speech)
    assert torch.equal(without_trailing_padding(speech), speech)  # a last frame that is not repeated stays
    one = torch.cat([speech, pad[:1]])
    assert torch.equal(without_trailing_padding(one), one)  # one frame is not a run
    partly = torch.cat([speech, pad, pad[:1] + torch.tensor([0, 0, 0, 1])])  # equal in 3 of 4 codebooks: a sound
    assert torch.equal(without_trailing_padding(partly), partly)
    assert torch.equal(without_trailing_padding(pad), pad)  # nothing but padding: kept whole


def test_trailing_digital_silence_is_trimmed_as_audio_and_a_noise_floor_kept() -> None:
    g = torch.Generator().manual_seed(0)
    speech = 0.3 * torch.randn(24_000, generator=g)
    assert torch.equal(trim_trailing_padding(torch.cat([speech, torch.zeros(9_600)])), speech)
    floor = torch.cat([speech, 10 ** (-70 / 20) * torch.randn(9_600, generator=g)])  # -70 dBFS: a quiet room
    assert torch.equal(trim_trailing_padding(floor), floor)
    zeros = torch.zeros(100)
    assert torch.equal(trim_trailing_padding(zeros), zeros)  # nothing audible: left for the silence check


def test_a_silent_output_after_a_padded_prompt_is_decoded_again_without_the_padding(
    synth: Synthesizer, prompt_files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A small model stops at once after digital silence; retried only then, as the prompt speaks better whole."""
    wav, _ = load_audio(prompt_files[0][0])
    padded = tmp_path / "padded.wav"
    sf.write(padded, np.concatenate([wav.numpy(), np.zeros(12_000, dtype=np.float32)]), 24_000)
    trims: list[bool] = []
    real_decode, real_vocode = synth.decode_requests, synth.vocode

    def spy(requests, **kwargs):
        trims.append(kwargs.get("trim_padding", False))
        decoded = real_decode(requests, **kwargs)
        return decoded

    def silent_while(n: int):
        calls = []

        def vocode(codes):
            calls.append(codes)
            return real_vocode(codes) * (1e-4 if len(calls) <= n else 1.0)

        return vocode

    monkeypatch.setattr(synth, "decode_requests", spy)
    request = {"text": "Hi.", "prompt_audio": str(padded), "prompt_text": prompt_files[0][1], "name": "padded",
               "options": SynthesisOptions(top_k=1, max_new_frames=6)}  # fmt: skip
    monkeypatch.setattr(synth, "vocode", silent_while(1))
    with caplog.at_level(logging.INFO, logger="valle.infer.synthesizer"):
        [(out, _)] = synth.synthesize_batch([request])
    assert trims == [False, True] and not is_silent(out)
    assert "padded: silent after a prompt that ends in padding; decoding again without the padding" in caplog.text
    assert "the output is silent" not in caplog.text
    caplog.clear()
    monkeypatch.setattr(synth, "vocode", silent_while(2))  # silent again: returned, with the warning
    [(out, _)] = synth.synthesize_batch([request])
    assert trims == [False, True, False, True] and is_silent(out) and "padded: the output is silent" in caplog.text
    caplog.clear()
    monkeypatch.setattr(synth, "vocode", silent_while(1))  # a prompt without padding: nothing to retry with
    noisy = wav.numpy() + 1e-3 * np.random.default_rng(0).standard_normal(len(wav)).astype(np.float32)
    [(out, _)] = synth.synthesize_batch([{**request, "prompt_audio": (noisy, 24_000)}])
    assert trims[4:] == [False] and is_silent(out)


def test_batch_skips_bad_items_and_keeps_the_others(synth: Synthesizer, prompt_files, caplog) -> None:
    good = (prompt_files[0][0], prompt_files[0][1])
    opts = SynthesisOptions(top_k=1, max_new_frames=6)
    reqs = [
        {"text": "Fine.", "prompt_audio": good[0], "prompt_text": good[1], "options": opts, "name": "ok"},
        {"text": "", "prompt_audio": good[0], "prompt_text": good[1], "options": opts, "name": "empty"},
        {"text": "Fine too.", "prompt_audio": "/nonexistent.wav", "prompt_text": "x", "options": opts, "name": "gone"},
    ]
    with caplog.at_level(logging.WARNING):
        out = synth.synthesize_batch(reqs, on_error="skip")
    assert out[0] is not None and out[1] is None and out[2] is None
    assert "empty: the text to synthesize is empty; give something to say; skipped" in caplog.text
    assert "gone: " in caplog.text and "does not exist" in caplog.text
    with pytest.raises(MissingFileError, match="^gone: prompt audio /nonexistent.wav does not exist"):
        synth.synthesize_batch(reqs[::2])  # in a batch, a raised error names its item


def test_continual_resynthesizes_after_the_first_half(synth: Synthesizer, prompt_files) -> None:
    wav_path, transcript = prompt_files[0]
    frames = synth.make_voice(wav_path, transcript).num_frames
    wav, _ = synth.continual(wav_path, transcript)
    prefix = min(frames // 2, 225)
    assert len(wav) == (frames - prefix) * HOP
    soft = copy.copy(synth)
    soft.options = synth.options.with_changes(nar_temperature=0.5)  # continual follows the synthesizer's options
    wav_soft, _ = soft.continual(wav_path, transcript)
    assert len(wav_soft) == len(wav) and np.abs(wav_soft - wav).max() > 1e-3


def test_codec_is_found_next_to_the_checkpoint_or_given(exp_dir: Path, tmp_path: Path, small_corpus: Path) -> None:
    lone = tmp_path / "deep" / "er" / "best.pt"
    lone.parent.mkdir(parents=True)
    shutil.copy(exp_dir / "best.pt", lone)
    with pytest.raises(CheckpointError, match="pass --codec"):
        Synthesizer.from_checkpoint(lone)
    assert Synthesizer.from_checkpoint(lone, codec=str(exp_dir / "codec.pt")).codec.identity["backend"] == "builtin"
    shutil.copy(exp_dir / "codec.pt", lone.parent.parent / "codec.pt")  # one folder up is searched too
    assert Synthesizer.from_checkpoint(lone).codec.num_codebooks == 8
    files = list_audio_files(small_corpus / "train-clean-100")
    other = fit_builtin_codec(files, num_codebooks=8, codebook_size=16, iterations=2, seed=1)
    with pytest.raises(CheckpointError, match="trained with codec"):
        Synthesizer.from_checkpoint(lone, codec=other)


def test_a_symbol_file_must_match_the_symbols_a_checkpoint_stores(
    synth: Synthesizer, exp_dir: Path, tmp_path: Path, prompt_files
) -> None:
    """Other ids would mean other phonemes: a silently wrong text conditioning."""
    same, other = tmp_path / "same.k2symbols", tmp_path / "other.k2symbols"
    SymbolTable.from_symbols(synth.symbols).to_file(same)
    SymbolTable.from_symbols([*synth.symbols, "\u0261"]).to_file(other)
    given = Synthesizer.from_checkpoint(exp_dir / "best.pt", text_tokens=same)
    assert given.symbols == synth.symbols
    with pytest.raises(CheckpointError, match=r"stores its own text symbols, and .*other.k2symbols differs"):
        Synthesizer.from_checkpoint(exp_dir / "best.pt", text_tokens=other)


def test_voice_from_another_codec_is_refused(synth: Synthesizer, prompt_files) -> None:
    voice = synth.make_voice(*prompt_files[0])
    foreign = Voice(voice.codes, voice.text, voice.tokens, {**voice.codec, "content_hash": "0" * 64})
    with pytest.raises(CheckpointError, match="remake the voice"):
        synth.synthesize("Hi.", voice=foreign)


def test_the_shipped_checkpoint_finds_the_shipped_codec_without_flags() -> None:
    """`valle infer --checkpoint valle/assets/valle-synth-small.pt` needs no --codec."""
    from valle.infer.codec_match import SHIPPED_CODEC

    shipped = SHIPPED_CODEC.parent / "valle-synth-small.pt"
    synth = Synthesizer.from_checkpoint(shipped)
    assert synth.codec.identity["content_hash"] == synth.model.meta.codec["content_hash"]
    assert synth.codec.num_codebooks == synth.model.config.num_quantizers == 8
    from valle.infer import load_model

    by_name = load_model("synth-small", "cpu")  # what an installed valle calls it, without a path into the package
    assert by_name.model.meta.path == str(shipped) and by_name.options == synth.options
