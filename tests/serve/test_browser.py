"""The web page in a real browser: Debian's headless Chromium driven by selenium through Debian's chromedriver.

`valle serve` runs as a subprocess on a free 127.0.0.1 port with a tiny checkpoint file.  The browser loads
the page, uploads a voice (recording + transcript), types text, clicks Synthesize, and waits until the
<audio> element holds a WAV that the page can fetch (RIFF header, duration) and that Chromium's own media
stack can load (finite duration, no media error).  A screenshot is saved under the test's tmp folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from valle.serve.testing import free_port, write_debug_checkpoint

from .conftest import prompt_waveform, wav_bytes

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# No network here: without these, Chromium keeps trying to reach Google services and floods the log.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1100,1400"]  # fmt: skip

HAVE_BROWSER = os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_BROWSER, reason="needs Debian's chromium and chromium-driver (scripts/system_deps.sh)"),
]
webdriver = pytest.importorskip("selenium.webdriver")
pytest.importorskip("fastapi")


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"valle serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"valle serve did not answer within {timeout:g} s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`valle serve` with a tiny checkpoint on a free port; yields its URL."""
    ckpt = write_debug_checkpoint(tmp_path / "tiny.pt")
    port = free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below, after the process
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "valle", "serve", "--checkpoint", str(ckpt), "--port", str(port),
         "--voices", str(tmp_path / "voices"), "--max-audio-seconds", "1", "--num-threads", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


# Runs in the page: fetch the <audio> element's blob, check the WAV header, and let Chromium load it.
CHECK_AUDIO = """
const done = arguments[arguments.length - 1];
const player = document.getElementById("player");
(async () => {
  const buffer = await (await fetch(player.src)).arrayBuffer();
  const view = new DataView(buffer);
  const tag = (o) => String.fromCharCode(...new Uint8Array(buffer, o, 4));
  if (player.readyState < 1) await new Promise((ok, bad) => {
    player.addEventListener("loadedmetadata", ok, { once: true });
    player.addEventListener("error", () => bad(new Error("media error " + player.error.code)), { once: true });
    player.load();
  });
  done({ riff: tag(0), wave: tag(8), rate: view.getUint32(24, true), dataBytes: view.getUint32(40, true),
         size: buffer.byteLength, mediaDuration: player.duration, mediaError: player.error && player.error.code });
})().catch((e) => done({ failure: String(e) }));
"""


def test_page_uploads_a_voice_and_plays_synthesized_speech(server: str, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    recording = tmp_path / "my voice.wav"
    recording.write_bytes(wav_bytes(prompt_waveform(1.5)))
    wait = WebDriverWait(browser, 60)
    browser.get(server + "/")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    assert "tiny" in browser.find_element(By.ID, "model-info").text

    # Upload a voice with its transcript; the page selects it when it is made.
    browser.find_element(By.CSS_SELECTOR, "#upload-section summary").click()
    browser.find_element(By.ID, "upload-id").send_keys("browser-voice")
    browser.find_element(By.ID, "upload-transcript").send_keys("Hello from the browser.")
    browser.find_element(By.ID, "upload-file").send_keys(str(recording))
    browser.find_element(By.ID, "upload").click()
    wait.until(lambda d: "added voice browser-voice" in d.find_element(By.ID, "upload-status").text)
    wait.until(lambda d: d.find_element(By.ID, "voice").get_attribute("value") == "browser-voice")

    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Good morning. This was typed in a browser.")
    browser.find_element(By.CSS_SELECTOR, "#sampling-section summary").click()
    browser.find_element(By.ID, "seed").send_keys("5")
    browser.find_element(By.ID, "synthesize").click()
    wait.until(lambda d: (d.find_element(By.ID, "player").get_attribute("src") or "").startswith("blob:"))
    wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("done"))

    audio = browser.execute_async_script(CHECK_AUDIO)
    assert "failure" not in audio, audio
    assert (audio["riff"], audio["wave"], audio["rate"]) == ("RIFF", "WAVE", 24_000)
    seconds = audio["dataBytes"] / 2 / 24_000
    assert audio["size"] == 44 + audio["dataBytes"] and 0 < seconds <= 2 * 1.0 + 0.2 + 0.05  # <= 2 sentences x 1 s
    assert audio["mediaError"] is None and audio["mediaDuration"] == pytest.approx(seconds, abs=0.02)
    assert browser.find_element(By.ID, "download").get_attribute("download") == "speech.wav"
    lit = browser.execute_script(
        "const c = document.getElementById('waveform'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200) n++; return n;"
    )
    assert lit > 20_000  # the waveform was drawn (blue pixels on the dark background, scaled to its peak)

    shot = tmp_path / "valle-page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    assert (tmp_path / "voices" / "browser-voice.voice.pt").is_file()
