#!/usr/bin/env bash
# Makes sure headless Chromium and its WebDriver are installed (Debian's packages; the
# browser tests drive them with Selenium). Nothing is downloaded from anywhere else.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium chromium-driver"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
