// The valle web page: plain JavaScript against the server's own API (no build step, no libraries).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { objectUrl: null, health: null };

// ---------------------------------------------------------------- API calls
function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function api(path, options = {}) {
  const headers = { ...authHeaders(), ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (_) { /* not JSON: keep the status line */ }
    throw new Error(message);
  }
  return response;
}

function setStatus(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", isError);
}

// ---------------------------------------------------------------- server info and voices
async function loadHealth() {
  const health = await (await fetch("/healthz")).json();
  state.health = health;
  $("model-info").textContent = `model ${health.model} · ${health.sample_rate} Hz · batches of up to ${health.batching.max_batch}`;
  $("char-limit").textContent = health.limits.max_input_chars;
  $("text").maxLength = health.limits.max_input_chars;
  $("auth-section").hidden = !health.auth_required;
  updateCount();
}

async function loadVoices(select) {
  const voiceSelect = $("voice");
  try {
    const list = await (await api("/v1/voices")).json();
    const wanted = select || voiceSelect.value || (state.health && state.health.default_voice);
    voiceSelect.replaceChildren();
    for (const voice of list.data) {
      const option = document.createElement("option");
      option.value = voice.id;
      option.textContent = `${voice.id} (${voice.duration_s.toFixed(1)} s)`;
      option.title = voice.transcript;
      voiceSelect.appendChild(option);
    }
    if (!list.data.length) {
      const option = document.createElement("option");
      option.value = "";
      option.textContent = "no voices yet: add one below";
      voiceSelect.appendChild(option);
    }
    if (wanted && list.data.some((v) => v.id === wanted)) voiceSelect.value = wanted;
  } catch (error) {
    setStatus($("status"), `cannot list voices: ${error.message}`, true);
  }
}

async function uploadVoice() {
  const status = $("upload-status");
  const file = $("upload-file").files[0];
  if (!file) return setStatus(status, "choose a recording first", true);
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("transcript", $("upload-transcript").value);
  const id = $("upload-id").value.trim();
  if (id) form.append("id", id);
  $("upload").disabled = true;
  setStatus(status, "encoding the recording…");
  try {
    const voice = await (await api("/v1/voices", { method: "POST", body: form })).json();
    setStatus(status, `added voice ${voice.id} (${voice.duration_s.toFixed(1)} s)`);
    await loadVoices(voice.id);
  } catch (error) {
    setStatus(status, error.message, true);
  } finally {
    $("upload").disabled = false;
  }
}

async function deleteVoice() {
  const id = $("voice").value;
  if (!id || !window.confirm(`Delete voice ${id}?`)) return;
  try {
    await api(`/v1/voices/${encodeURIComponent(id)}`, { method: "DELETE" });
    await loadVoices();
  } catch (error) {
    setStatus($("status"), error.message, true);
  }
}

// ---------------------------------------------------------------- synthesis
function numberField(id, parse) {
  const raw = $(id).value.trim();
  return raw === "" ? undefined : parse(raw);
}

async function synthesize() {
  const status = $("status");
  const format = $("format").value;
  const body = {
    input: $("text").value,
    voice: $("voice").value || undefined,
    response_format: format,
    top_k: numberField("top-k", (v) => parseInt(v, 10)),
    top_p: numberField("top-p", parseFloat),
    temperature: numberField("temperature", parseFloat),
    seed: numberField("seed", (v) => parseInt(v, 10)),
    candidates: numberField("candidates", (v) => parseInt(v, 10)),
  };
  $("synthesize").disabled = true;
  setStatus(status, "synthesizing…");
  const started = performance.now();
  try {
    const response = await api("/v1/audio/speech", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const blob = await response.blob();
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    showResult(blob, format);
    const duration = response.headers.get("X-Audio-Duration");
    setStatus(status, `done in ${seconds} s` + (duration ? ` · ${Number(duration).toFixed(2)} s of audio` : ""));
  } catch (error) {
    setStatus(status, error.message, true);
  } finally {
    $("synthesize").disabled = false;
  }
}

async function showResult(blob, format) {
  if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
  state.objectUrl = URL.createObjectURL(blob);
  const player = $("player");
  player.src = state.objectUrl;
  $("download").href = state.objectUrl;
  $("download").download = `speech.${format}`;
  $("result").hidden = false;
  try {
    const { samples, sampleRate } = await decodeSamples(await blob.arrayBuffer(), format);
    drawWaveform($("waveform"), samples);
    drawSpectrogram($("spectrogram"), samples, sampleRate);
  } catch (error) {
    setStatus($("status"), `playable, but no picture: ${error.message}`, true);
  }
}

// ---------------------------------------------------------------- pictures
async function decodeSamples(buffer, format) {
  if (format === "wav") return parseWav(buffer);
  const context = new OfflineAudioContext(1, 1, 24000);
  const audio = await context.decodeAudioData(buffer);
  return { samples: audio.getChannelData(0), sampleRate: audio.sampleRate };
}

// 16-bit PCM WAV -> Float32 samples; walks the chunks so extra chunks before "data" are fine.
function parseWav(buffer) {
  const view = new DataView(buffer);
  const tag = (offset) => String.fromCharCode(...new Uint8Array(buffer, offset, 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file");
  let offset = 12, sampleRate = 0;
  while (offset + 8 <= buffer.byteLength) {
    const id = tag(offset), size = view.getUint32(offset + 4, true);
    if (id === "fmt ") sampleRate = view.getUint32(offset + 12, true);
    if (id === "data") {
      const count = Math.floor(Math.min(size, buffer.byteLength - offset - 8) / 2);
      const samples = new Float32Array(count);
      for (let i = 0; i < count; i++) samples[i] = view.getInt16(offset + 8 + 2 * i, true) / 32768;
      return { samples, sampleRate };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error("WAV file has no data chunk");
}

// Min/max per pixel column, scaled to the peak so that quiet speech is still visible.
function drawWaveform(canvas, samples) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  g.fillStyle = "#0f1729";
  g.fillRect(0, 0, w, h);
  g.fillStyle = "#7aa2ff";
  let peak = 1e-4;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
  const per = Math.max(1, Math.floor(samples.length / w));
  for (let x = 0; x < w; x++) {
    let lo = 0, hi = 0;
    for (let i = x * per; i < Math.min(samples.length, (x + 1) * per); i++) {
      lo = Math.min(lo, samples[i]);
      hi = Math.max(hi, samples[i]);
    }
    g.fillRect(x, (1 - hi / peak) * h / 2, 1, Math.max(1, ((hi - lo) / peak) * h / 2));
  }
}

// Log-magnitude spectrogram: 512-point Hann-windowed FFT, one column per canvas pixel.
function drawSpectrogram(canvas, samples, sampleRate) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height, n = 512;
  const image = g.createImageData(w, h);
  const hann = Float32Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
  const hop = Math.max(1, Math.floor((samples.length - n) / w));
  const re = new Float32Array(n), im = new Float32Array(n);
  for (let x = 0; x < w; x++) {
    const start = x * hop;
    for (let i = 0; i < n; i++) {
      re[i] = (samples[start + i] || 0) * hann[i];
      im[i] = 0;
    }
    fft(re, im);
    for (let y = 0; y < h; y++) {
      const bin = Math.floor(((h - 1 - y) / h) * (n / 2));
      const db = 10 * Math.log10(re[bin] * re[bin] + im[bin] * im[bin] + 1e-10);
      const v = Math.max(0, Math.min(255, ((db + 80) / 80) * 255));
      const p = 4 * (y * w + x);
      image.data[p] = v; image.data[p + 1] = v * 0.6; image.data[p + 2] = 255 - v * 0.5; image.data[p + 3] = 255;
    }
  }
  g.putImageData(image, 0, 0);
  canvas.title = `0–${sampleRate / 2} Hz`;
}

// In-place iterative radix-2 FFT (n a power of two).
function fft(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len, wr = Math.cos(angle), wi = Math.sin(angle);
    for (let i = 0; i < n; i += len) {
      let cr = 1, ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k, b = a + len / 2;
        const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
        [cr, ci] = [cr * wr - ci * wi, cr * wi + ci * wr];
      }
    }
  }
}

// ---------------------------------------------------------------- wiring
function updateCount() {
  $("char-count").textContent = $("text").value.length;
}

window.addEventListener("DOMContentLoaded", async () => {
  $("api-key").value = localStorage.getItem("valle-api-key") || "";
  $("api-key").addEventListener("change", () => {
    localStorage.setItem("valle-api-key", $("api-key").value.trim());
    loadVoices();
  });
  $("text").addEventListener("input", updateCount);
  $("synthesize").addEventListener("click", synthesize);
  $("upload").addEventListener("click", uploadVoice);
  $("refresh-voices").addEventListener("click", () => loadVoices());
  $("delete-voice").addEventListener("click", deleteVoice);
  try {
    await loadHealth();
  } catch (error) {
    setStatus($("status"), `server not reachable: ${error.message}`, true);
  }
  await loadVoices();
  document.body.dataset.ready = "1";
});
