#!/usr/bin/env bash
# Record everything the interpreter says about the labelled cases, into OUT, so that a change
# meant to leave its output alone (a speed-up) can be checked byte for byte:
#   tools/brief-outputs.sh /tmp/before   # on the old code
#   tools/brief-outputs.sh /tmp/after    # on the new code
#   diff -r /tmp/before /tmp/after && echo unchanged
# It reads the shared dev sets, the repo's own cases and the training splits; never the locked
# test splits (eval/corpus/test, eval/corpus/reask/test). Builds the debug binary and example.
set -euo pipefail
out=${1:?usage: tools/brief-outputs.sh OUT_DIR}
cd "$(dirname "$0")/.."
config=config/example.yaml
shared=${HANDOFFD_SHARED:-/work/shared}
dirs=("$shared/eval/dev" "$shared/eval/reask-dev" tests/interpret_cases eval/corpus/train eval/corpus/reask/train)
cargo build --locked --quiet --bin handoffd --example brief_outputs
bin=target/debug/handoffd
mkdir -p "$out"
for dir in "${dirs[@]}"; do
    name=$(echo "$dir" | tr -c 'a-zA-Z0-9\n' '_')
    "$bin" eval -c "$config" "$dir" --show-misses > "$out/eval-$name.txt"
done
target/debug/examples/brief_outputs "$config" "${dirs[@]}" > "$out/briefs.jsonl"
"$bin" train -c "$config" eval/corpus/train --per-label --out "$out/trained-model.json" | sed "s#$out#OUT_DIR#g" > "$out/train.txt"
wc -l "$out/briefs.jsonl"
