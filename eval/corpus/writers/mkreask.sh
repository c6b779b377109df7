#!/bin/bash
# mkreask.sh wNN PREFIX "emphasis"
W=$1; P=$2; EMPH=$3
cat <<X
You are a corpus writer for an open-source project. Read /work/helpers/REASK.md first (it tells you to read /work/helpers/CORPUS.md too) and follow them exactly; they say what you may read (only /work/shared/eval/README.md besides them) and what you must not.

Your batch: $W, prefix '$P'. Write 80 re-ask cases, 20 in each of en, hi, es and pt, named $P-001-... to $P-080-..., under /work/corpus/$W/<lang>/, plus /work/corpus/$W/manifest.tsv.
Emphasis for your slice: $EMPH
This takes about 30-50 minutes. Do not run cargo or anything under /work/main. Your last message is the report described in CORPUS.md.
X
