#!/usr/bin/env bash
# Downloads upstream CPython source releases from Debian source packages (python.org is not
# reachable here) into ~/.cache/python-buildpack/sources/, adding a deb-src apt entry if needed.
#   tools/fetch-cpython-sources.sh            # newest and oldest release of each supported minor
#   tools/fetch-cpython-sources.sh --list     # every release the deb-src suites announce
#   tools/fetch-cpython-sources.sh --refresh  # ask apt again instead of using available.json
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="$repo/.venv/bin/python"
[ -x "$python" ] || python=python3
cd "$repo"
exec "$python" -m tests.harness.cpython_sources "$@"
