"""Serving benchmark: N concurrent clients against `valle serve` on 127.0.0.1, micro-batching on vs off.

For each model size and each mode, a fresh `valle serve` subprocess is started on a free local port with a
tiny random-weight checkpoint (`valle.serve.testing.write_debug_checkpoint`: character front-end, seeded
random EnCodec), a voice is uploaded through the API, one warm-up request is sent, and then `--clients`
threads each send `--requests` requests back to back (a client stops early once `--time-limit` has passed).

* serial:  `--max-batch 1 --no-overlap-vocoder`: one request at a time, start to finish (a plain handler);
* batched, one stage: `--max-batch CLIENTS --max-wait-ms 50 --no-overlap-vocoder`: requests that arrive
  together are decoded together, then vocoded, before the next batch starts;
* batched: the same with the server's default `--overlap-vocoder`: the codec turns one batch into audio on
  its own thread while the model decodes the next batch.

All modes run with the same `--num-threads` (torch threads per server thread).

Random models never emit EOS, so every answer is exactly `--audio-seconds` long (the server's
`--max-audio-seconds` cap): both modes produce the same audio per request.  Throughput = requests (and
audio seconds) completed per wall second; latency = per request, as a client sees it.  A last run measures
streaming: time to the first audio byte vs. the whole answer, for a 4-sentence text, one client.

    .venv/bin/python bench/serve.py                                  # the README table (about 5 minutes)
    .venv/bin/python bench/serve.py --sizes debug --requests 1       # a quick look

Last, the same model is run in-process at batch 1 and batch `--clients` with each stage timed (AR, NAR,
codec decoding), which shows which part of the work batching speeds up on this machine.

Prints Markdown tables; `--json` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valle.serve.testing import free_port, write_debug_checkpoint

SIZES: dict[str, dict[str, int]] = {
    "debug": {},  # 2 layers x 32 (the "debug" model), 0.4 M parameters
    "tiny": {"decoder_dim": 128, "nhead": 4, "num_decoder_layers": 4},  # 3.4 M parameters
}
# (name, --max-batch (None = --clients), --max-wait-ms, --overlap-vocoder)
MODES = (("serial", 1, 0.0, False), ("batched, one stage", None, 50.0, False), ("batched", None, 50.0, True))
STREAM_TEXT = "The first sentence is short. Here comes a second one. A third follows it. And this is the last."


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="debug,tiny", help=f"comma-separated: {', '.join(SIZES)}")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients")
    p.add_argument("--requests", type=int, default=4,
                   help="requests per client (4: long enough for the two-stage server to reach its steady state)")
    p.add_argument("--audio-seconds", type=float, default=2.0, help="audio per request (the server's length cap)")
    p.add_argument("--time-limit", type=float, default=120.0, help="clients stop sending after this many seconds")
    p.add_argument("--num-threads", type=int, default=1, help="the server's torch threads")
    p.add_argument("--skip-stages", action="store_true", help="skip the in-process per-stage timing")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    return p.parse_args()


# ---------------------------------------------------------------------- HTTP helpers (stdlib only)
def request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 300.0) -> tuple[int, bytes, dict[str, str]]:  # fmt: skip
    req = urllib.request.Request(url, body, headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def upload_voice(url: str, voice_id: str) -> None:
    import io

    import numpy as np
    import soundfile as sf

    t = np.arange(36_000) / 24_000
    wav = (0.3 * np.sign(np.sin(2 * np.pi * 150 * t)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, wav, 24_000, format="WAV", subtype="PCM_16")
    boundary = uuid.uuid4().hex
    parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n').encode()
             for k, v in (("id", voice_id), ("transcript", "Hello, this is my voice."))]  # fmt: skip
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="v.wav"\r\n'
                 "Content-Type: audio/wav\r\n\r\n".encode() + buf.getvalue() + f"\r\n--{boundary}--\r\n".encode())  # fmt: skip
    status, body, _ = request(f"{url}/v1/voices", b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status in (201, 409), body  # 409: made by an earlier run in the same voices folder


def speak(url: str, text: str, stream: bool = False) -> tuple[int, float, float, int]:
    """(status, seconds to the first body byte, seconds to the end, audio bytes)."""
    body = json.dumps({"input": text, "voice": "bench", "stream": stream}).encode()
    req = urllib.request.Request(f"{url}/v1/audio/speech", body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            first = r.read(1)
            first_at = time.perf_counter() - start
            size = len(first) + len(r.read())
            return r.status, first_at, time.perf_counter() - start, size
    except urllib.error.HTTPError as e:
        return e.code, 0.0, time.perf_counter() - start, 0


# ---------------------------------------------------------------------- one server
class Server:
    """`valle serve` in a subprocess on a free port."""

    def __init__(self, ckpt: Path, work: Path, args: argparse.Namespace, max_batch: int, max_wait_ms: float,
                 overlap: bool) -> None:  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "valle", "-q", "serve", "--checkpoint", str(ckpt), "--port", str(self.port),
               "--voices", str(work / "voices"), "--max-audio-seconds", str(args.audio_seconds),
               "--num-threads", str(args.num_threads), "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms),
               "--max-queue", str(4 * args.clients), "--overlap-vocoder" if overlap else "--no-overlap-vocoder"]  # fmt: skip
        self.log = open(work / f"server-{self.port}.log", "wb")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
        self.process = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def wait(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"valle serve exited with code {self.process.returncode}; see {self.log.name}")
            try:
                if request(f"{self.url}/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"valle serve did not start within {timeout:g} s")

    def health(self) -> dict[str, Any]:
        return json.loads(request(f"{self.url}/healthz")[1])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def load_run(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """`--clients` threads x `--requests` requests; throughput, latency percentiles, batching counters."""
    stop_at = time.monotonic() + args.time_limit

    def client(c: int) -> list[tuple[int, float]]:
        out = []
        for r in range(args.requests):
            if time.monotonic() > stop_at:
                break
            status, _, seconds, _ = speak(server.url, f"Client {c} says sentence {r}.")
            out.append((status, seconds))
        return out

    before = server.health()["batching"]
    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = [x for per_client in pool.map(client, range(args.clients)) for x in per_client]
    wall = time.perf_counter() - start
    after = server.health()["batching"]
    ok = [s for status, s in results if status == 200]
    lat = sorted(ok)
    batches = after["batches"] - before["batches"]
    return {
        "requests": len(results), "ok": len(ok), "wall_s": wall, "req_per_s": len(ok) / wall,
        "audio_s_per_s": len(ok) * args.audio_seconds / wall,
        "p50_s": statistics.median(lat) if lat else float("nan"),
        "p95_s": lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] if lat else float("nan"),
        "batches": batches, "mean_batch": (after["items"] - before["items"]) / max(1, batches),
    }  # fmt: skip


def stream_run(server: Server) -> dict[str, float]:
    """One client, one 4-sentence text: whole answer vs. stream (first byte = first sentence ready)."""
    _, _, whole, whole_bytes = speak(server.url, STREAM_TEXT)
    _, first, total, stream_bytes = speak(server.url, STREAM_TEXT, stream=True)

    def audio(n: int) -> float:
        return (n - 44) / 2 / 24_000  # 16-bit mono wav after its 44-byte header

    return {"whole_s": whole, "whole_audio_s": audio(whole_bytes), "stream_first_byte_s": first,
            "stream_total_s": total, "stream_audio_s": audio(stream_bytes)}  # fmt: skip


# ---------------------------------------------------------------------- where the time goes
def stage_run(ckpt: Path, batch: int, audio_seconds: float, num_threads: int) -> dict[str, dict[str, float]]:
    """In-process: `synthesize_batch` of 1 and of `batch` requests, seconds per request in each stage.

    The stages are timed by wrapping the functions the Synthesizer calls (AR + NAR = `generate_batch`,
    NAR = `decode_nar`, codec = `Synthesizer.vocode`); the server adds nothing to them.
    """
    import importlib
    from unittest import mock

    import numpy as np
    import torch

    from valle.infer import Synthesizer
    from valle.infer.synthesizer import SynthesisRequest

    torch.set_num_threads(num_threads)
    logging.getLogger("valle").setLevel(logging.ERROR)  # random models never emit EOS: one warning per item
    synth_module = importlib.import_module("valle.infer.synthesizer")
    generate_module = importlib.import_module("valle.models.generate")
    synth = Synthesizer.from_checkpoint(ckpt)
    t = np.arange(36_000) / 24_000
    wav = (0.3 * np.sign(np.sin(2 * np.pi * 150 * t)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    voice = synth.make_voice(wav, "Hello, this is my voice.")
    options = synth.options.with_changes(batch_size=batch, max_new_frames=round(audio_seconds * 75))
    spent: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return run

    out: dict[str, dict[str, float]] = {}
    with mock.patch.object(synth_module, "generate_batch", timed("ar+nar", synth_module.generate_batch)), \
            mock.patch.object(generate_module, "decode_nar", timed("nar", generate_module.decode_nar)), \
            mock.patch.object(synth, "vocode", timed("codec", synth.vocode)):  # fmt: skip
        synth.synthesize_batch([SynthesisRequest("Warm up.", voice=voice, options=options)])
        for n in (1, batch):
            spent.clear()
            requests = [SynthesisRequest(f"Client {i} says sentence 0.", voice=voice, options=options) for i in range(n)]
            start = time.perf_counter()
            synth.synthesize_batch(requests)
            total = time.perf_counter() - start
            nar, codec = spent.get("nar", 0.0), spent.get("codec", 0.0)
            out[str(n)] = {"total": total / n, "ar": (spent.get("ar+nar", 0.0) - nar) / n, "nar": nar / n,
                           "codec": codec / n, "other": (total - spent.get("ar+nar", 0.0) - codec) / n}  # fmt: skip
    return out


# ---------------------------------------------------------------------- main
def main() -> None:
    args = parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise SystemExit(f"unknown size(s) {unknown}; choose from {', '.join(SIZES)}")
    rows: list[dict[str, Any]] = []
    streams: dict[str, dict[str, float]] = {}
    stages: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="valle-bench-serve-") as tmp:
        work = Path(tmp)
        for size in sizes:
            ckpt = write_debug_checkpoint(work / f"{size}.pt", **SIZES[size])
            for mode, max_batch, wait_ms, overlap in MODES:
                server = Server(ckpt, work, args, max_batch or args.clients, wait_ms, overlap)
                try:
                    server.wait()
                    upload_voice(server.url, "bench")
                    speak(server.url, "Warm up.")
                    row = {"size": size, "mode": mode, **load_run(server, args)}
                    if mode == "batched":
                        streams[size] = stream_run(server)
                finally:
                    server.stop()
                rows.append(row)
                print(f"{size:6s} {mode:18s} {row['ok']}/{row['requests']} ok  {row['req_per_s']:.2f} req/s  "
                      f"p50 {row['p50_s']:.2f} s  p95 {row['p95_s']:.2f} s  mean batch {row['mean_batch']:.1f}",
                      file=sys.stderr, flush=True)  # fmt: skip
            if not args.skip_stages:
                stages[size] = stage_run(ckpt, args.clients, args.audio_seconds, args.num_threads)
    print_tables(rows, streams, args)
    print_stages(stages, args)
    if args.json:
        numbers = {"rows": rows, "stream": streams, "stages": stages, "args": {k: str(v) for k, v in vars(args).items()}}
        args.json.write_text(json.dumps(numbers, indent=2))


def print_tables(rows: list[dict[str, Any]], streams: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    print(f"\n{args.clients} concurrent clients x {args.requests} requests, {args.audio_seconds:g} s of audio each, "
          f"server torch threads {args.num_threads}\n")  # fmt: skip
    print("| model | mode | ok | wall s | req/s | audio s / s | p50 latency s | p95 latency s | mean batch | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    serial = {r["size"]: r["req_per_s"] for r in rows if r["mode"] == "serial"}
    for r in rows:
        gain = r["req_per_s"] / serial[r["size"]] if r["size"] in serial else float("nan")
        print(f"| {r['size']} | {r['mode']} | {r['ok']}/{r['requests']} | {r['wall_s']:.1f} | {r['req_per_s']:.2f} | "
              f"{r['audio_s_per_s']:.2f} | {r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['mean_batch']:.1f} | {gain:.2f}x |")  # fmt: skip
    if streams:
        print("\nStreaming, one client, a 4-sentence text (batched server):\n")
        print("| model | whole answer: s (audio s) | stream: first byte s | stream: all s (audio s) |")
        print("|---|---|---|---|")
        for size, s in streams.items():
            print(f"| {size} | {s['whole_s']:.2f} ({s['whole_audio_s']:.1f}) | {s['stream_first_byte_s']:.2f} | "
                  f"{s['stream_total_s']:.2f} ({s['stream_audio_s']:.1f}) |")  # fmt: skip


def print_stages(stages: dict[str, dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    if not stages:
        return
    n = str(args.clients)
    print(f"\nWhere the time goes (in-process `synthesize_batch`, seconds per request; batch 1 vs {n}):\n")
    print(f"| model | stage | batch 1 | batch {n} | speed-up |")
    print("|---|---|---|---|---|")
    for size, by_batch in stages.items():
        for stage in ("ar", "nar", "codec", "other", "total"):
            one, many = by_batch["1"][stage], by_batch[n][stage]
            gain = f"{one / many:.2f}x" if many > 0 else "-"
            print(f"| {size} | {stage} | {one:.3f} | {many:.3f} | {gain} |")


if __name__ == "__main__":
    main()
