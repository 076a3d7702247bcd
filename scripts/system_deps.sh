#!/usr/bin/env bash
# Install the Debian programs valle uses when they are missing (as root), or say what to install.
# Idempotent and quiet when everything is present.
set -euo pipefail
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
command -v flite >/dev/null || need+=(flite)
[ -d /usr/share/games/fortunes ] || need+=(fortunes-min fortunes)
command -v chromium >/dev/null || need+=(chromium)  # tests/serve/test_browser.py drives the web page
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "valle needs these system packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install ${need[*]}  (then run make again)" >&2
  exit 1
fi
