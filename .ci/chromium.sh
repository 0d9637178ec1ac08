#!/usr/bin/env bash
# Chromium for the /docs explorer's browser tests (tests/live/test_docs_explorer.py).
#
#   bash .ci/chromium.sh        # prints the path of a Chromium that starts headless, nothing else on stdout
#
# Debian's chromium package is installed (as root, with apt-get) only when /usr/bin/chromium is missing.
# Playwright's own browser download is never used: the tests drive this system browser.
set -euo pipefail

fail() {
    echo "chromium.sh: $*" >&2
    exit 1
}

browser=${INVOICE_SANDBOX_CHROMIUM:-/usr/bin/chromium}
if [[ ! -x "$browser" ]]; then
    [[ $(id -u) -eq 0 ]] || fail "no Chromium at $browser, and installing Debian's chromium needs root"
    echo "chromium.sh: installing Debian's chromium package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || fail "apt-get update failed"
    apt-get install -y -qq chromium >&2 || fail "apt-get install chromium failed"
fi
[[ -x "$browser" ]] || fail "no Chromium at $browser after installing it"
# A browser that cannot start is found here, with its own words, rather than as a test failure later.
"$browser" --headless --no-sandbox --disable-gpu --no-first-run --dump-dom about:blank >/dev/null 2>&1 \
    || fail "$browser does not start headless"
echo "$browser"
