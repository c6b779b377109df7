#!/bin/bash
# mkprompt.sh wNN lang1 range1 lang2 range2 "emphasis"
W=$1; L1=$2; R1=$3; L2=$4; R2=$5; EMPH=$6
cat <<P
You are a corpus writer for an open-source project. Read /work/helpers/CORPUS.md first and follow it exactly; it says what you may read (only /work/shared/eval/README.md besides it) and what you must not.

Your batch: $W. Write 60 cases in language '$L1' numbered $R1 and 60 cases in language '$L2' numbered $R2, under /work/corpus/$W/$L1/ and /work/corpus/$W/$L2/, plus /work/corpus/$W/manifest.tsv.
Emphasis for your slice: $EMPH
This takes about 30-50 minutes. Do not run cargo or anything under /work/main. Your last message is the report described in CORPUS.md.
P
