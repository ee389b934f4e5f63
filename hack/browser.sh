#!/usr/bin/env bash
# Installs Debian's Chromium, which the console's browser tests drive headless (chromedp).
# Once per machine: it does nothing when chromium is already there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -n "${FERRY_CHROMIUM:-}" ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo=sudo
fi
echo "browser: installing Debian's chromium for the console tests (once per machine)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
chromium --version
