#!/usr/bin/env bash
# Installs the text-to-speech engines, voices and tools that `hark corpus synth`
# drives, plus the sources of the lexicon and of the corpus text.
# Debian/Ubuntu only; run as root (or with sudo). Idempotent.
#
#   engines:  espeak-ng (GPL, called as a process), flite, festival, sox
#   voices:   festival kal_diphone, ked_diphone, cmu_us_slt_arctic_hts; and the
#             "borrowed" voices (`hark corpus synth --voices borrowed`): festival's
#             Italian lp/pc, Finnish lj/mv and Czech dita/krb/machac/ph diphone voices
#   lexicon:  festlex-cmu (CMUdict, BSD-2-Clause data)
#   text:     wordnet-base (WordNet 3.0 glosses and example sentences, WordNet licence)
#   helper:   libespeak-ng-dev + gcc build scripts/espeak-events.c (phone timings)
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PKGS=(espeak-ng libespeak-ng-dev flite festival festvox-kallpc16k festvox-kdlpc16k
      festvox-us-slt-hts festlex-cmu sox wordnet-base gcc
      festvox-italp16k festvox-itapc16k festvox-suopuhe-lj festvox-suopuhe-mv
      festival-czech festvox-czech-dita festvox-czech-krb festvox-czech-machac
      festvox-czech-ph)

$SUDO apt-get update -q
# Install what exists; report what does not (package names differ across releases).
AVAIL=()
for p in "${PKGS[@]}"; do
    if apt-cache show "$p" >/dev/null 2>&1; then AVAIL+=("$p"); else echo "install-tts: package $p not available, skipped" >&2; fi
done
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${AVAIL[@]}"

# The espeak-ng phoneme-event helper (links libespeak-ng; it is a separate program,
# hark itself links no TTS engine).
here="$(cd "$(dirname "$0")" && pwd)"
"$here/build-espeak-events.sh"
echo "install-tts: done"
