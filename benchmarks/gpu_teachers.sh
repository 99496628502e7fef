#!/bin/bash
# [1/5] The shapes teachers on a lent GPU: train longer than a CPU session can, then score them.
# usage (from the repo root, on the device machine, after `make install`):
#   benchmarks/gpu_teachers.sh [TEXT_STEPS] [CLASS_STEPS] [OUT]
# Resumable: re-running continues each run folder (a larger step count re-stretches the cosine, recorded in the
# run's segments.jsonl). Same size as the shipped teachers (class 192 x 4, text 192 x 6 since session 8; TEXT_DEPTH
# overrides it): the study's budget ([3/5]) is set by it.
# Nothing is shipped: copy the run folders back, compare with the shipped teachers, then ship with
#   harness train teacher --task shapes-t2i --steps TEXT_STEPS --out OUT/teacher-t2i --set depth=TEXT_DEPTH --ship
set -euo pipefail
TEXT_STEPS=${1:-30000}
CLASS_STEPS=${2:-12000}
OUT=${3:-runs/gpu-teachers}
TEXT_DEPTH=${TEXT_DEPTH:-6}
H=${HARNESS:-.venv/bin/harness}
mkdir -p "$OUT"
$H train teacher --task shapes-t2i --steps "$TEXT_STEPS" --out "$OUT/teacher-t2i" --set depth="$TEXT_DEPTH" --device cuda
$H train teacher --task shapes --steps "$CLASS_STEPS" --out "$OUT/teacher-shapes" --device cuda
# Score each on its suite at 16 and 1 steps (the acceptance figures), from the run's last checkpoint.
$H eval --method teacher --suite shapes-geneval --steps 16,1 --checkpoint "$OUT/teacher-t2i" --no-append \
    --out "$OUT/eval-t2i" --device cuda
$H eval --method teacher --suite shapes-fid --steps 16,1 --checkpoint "$OUT/teacher-shapes" --no-append \
    --out "$OUT/eval-class" --device cuda
