#!/usr/bin/env bash
# Builds scripts/espeak-events.c (needs gcc and libespeak-ng-dev) into
# ${HARK_TOOLS:-data/tools}/espeak-events. `hark corpus synth` looks for it there
# (or takes --espeak-helper PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${HARK_TOOLS:-${HARK_DATA:-$here/../data}/tools}"
mkdir -p "$out"
gcc -O2 -Wall -Wextra -o "$out/espeak-events" "$here/espeak-events.c" -lespeak-ng
echo "built $out/espeak-events"
