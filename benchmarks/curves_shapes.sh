#!/usr/bin/env bash
# Learning curves of every one-step distiller on the shapes tasks (issue [1/4]): long runs that export their
# student at 0, 10, 30, 100, 300, 1,000, 3,000 ... updates, then `harness curve` scores those points on
# validation seeds. Queues of runs, one CPU thread each (two at once fill two cores):
#   benchmarks/curves_shapes.sh a       # FPD (2 seeds), its self-pair readings, the drifting control (2 seeds)
#   benchmarks/curves_shapes.sh b       # DiMO-style, SDTT, FPD per-class sets, then the text task's FPD and DiMO
#   benchmarks/curves_shapes.sh c       # the learning-rate grids: 3 rates per method at the long budget, seed 0
#   benchmarks/curves_shapes.sh d       # the data-free extension: teacher positives, mix:0.25, mix:0.5 (issue 37)
#   benchmarks/curves_shapes.sh e       # probes of why students lose diversity (DiMO with more input entropy)
#   benchmarks/curves_shapes.sh starts  # untrained students at r_init x sigma x temperature (the start's entropy)
#   benchmarks/curves_shapes.sh temps   # sampling temperature of the one-step students, chosen by the curve's rule
#   benchmarks/curves_shapes.sh score   # score every point made so far and draw docs/curves/
# Re-running a queue resumes every run where it stopped (run folders under $RUNS, outside the work tree);
# STEPS=10000 extends the long runs. HARNESS names the command (default: harness on PATH).
set -euo pipefail
HARNESS=${HARNESS:-harness}
RUNS=${RUNS:-${FPD_RUNS_DIR:-$HOME/.cache/fpd-harness/runs}/curves-shapes}
STEPS=${STEPS:-3000}            # the long budget: every method's main curve
SHORT=${SHORT:-1000}            # FPD's alternative readings (they part ways within a few hundred updates)
TEXT_STEPS=${TEXT_STEPS:-2000}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} FPD_NO_PROGRESS=1

# Each run's points are scored on validation seeds as soon as it ends (cached beside them; `score` then only draws).
scored() { local suite=shapes-fid; [ "$1" = shapes-t2i ] && suite=shapes-geneval
           $HARNESS curve "$RUNS/$2" --suite $suite --no-references --out "$RUNS/$2/curve"; }
fpd()  { $HARNESS train fpd  --task "$1" --steps "$2" --precision bf16 --set batch=32 --set stats_every=250 \
           --out "$RUNS/$3" "${@:4}" && scored "$1" "$3"; }
dimo() { $HARNESS train dimo --task "$1" --steps "$2" --precision bf16 --set batch=32 --out "$RUNS/$3" "${@:4}" \
           && scored "$1" "$3"; }
CONTROL=(--set positives=data --set drift_sets=condition --set per_cond=4)

case "${1:-}" in
  a)
    fpd shapes "$STEPS" fpd-s0 --set seed=0
    fpd shapes "$STEPS" control-cond-s0 --set seed=0 "${CONTROL[@]}"
    fpd shapes "$STEPS" fpd-s1 --set seed=1
    fpd shapes "$SHORT" fpd-mask-negatives-s0 --set seed=0 --set self_pairs=mask-negatives
    fpd shapes "$SHORT" fpd-none-s0 --set seed=0 --set self_pairs=none
    fpd shapes "$STEPS" control-cond-s1 --set seed=1 "${CONTROL[@]}"
    ;;
  b)
    dimo shapes "$STEPS" dimo-s0 --set seed=0
    $HARNESS train sdtt --task shapes --steps "$STEPS" --precision bf16 --set batch=32 \
      --set round_steps=$((STEPS / 4)) --set seed=0 --out "$RUNS/sdtt-s0" && scored shapes sdtt-s0
    fpd shapes "$SHORT" fpd-cond-s0 --set seed=0 --set drift_sets=condition --set per_cond=4
    dimo shapes "$STEPS" dimo-s1 --set seed=1
    fpd shapes-t2i "$TEXT_STEPS" text/fpd-s0 --set seed=0
    dimo shapes-t2i "$TEXT_STEPS" text/dimo-s0 --set seed=0
    ;;
  c)   # the grid's third rate of each method is its queue-a/b run (FPD 2e-4, DiMO 3e-4, SDTT 1e-3, control 2e-4)
    fpd shapes "$STEPS" fpd-lr1e-5-s0 --set seed=0 --set lr=1e-5
    dimo shapes "$STEPS" dimo-lr1e-5-s0 --set seed=0 --set lr=1e-5
    fpd shapes "$STEPS" fpd-lr5e-5-s0 --set seed=0 --set lr=5e-5
    dimo shapes "$STEPS" dimo-lr1e-4-s0 --set seed=0 --set lr=1e-4
    fpd shapes "$STEPS" control-cond-lr5e-5-s0 --set seed=0 --set lr=5e-5 "${CONTROL[@]}"
    fpd shapes "$STEPS" control-cond-lr6e-4-s0 --set seed=0 --set lr=6e-4 "${CONTROL[@]}"
    for lr in 1e-4 3e-4; do
      $HARNESS train sdtt --task shapes --steps "$STEPS" --precision bf16 --set batch=32 --set lr=$lr \
        --set round_steps=$((STEPS / 4)) --set seed=0 --out "$RUNS/sdtt-lr$lr-s0" && scored shapes "sdtt-lr$lr-s0"
    done
    ;;
  d)   # beyond the paper: never the FPD row
    EXT=(--set drift_sets=condition --set per_cond=4)
    fpd shapes "$STEPS" ext-teacher-s0 --set seed=0 --set positives=teacher "${EXT[@]}"
    fpd shapes "$STEPS" ext-mix0.25-s0 --set seed=0 --set positives=mix:0.25 "${EXT[@]}"
    fpd shapes "$STEPS" ext-teacher-s1 --set seed=1 --set positives=teacher "${EXT[@]}"
    fpd shapes "$STEPS" ext-mix0.5-s0 --set seed=0 --set positives=mix:0.5 "${EXT[@]}"
    ;;
  e)
    dimo shapes "$SHORT" dimo-sigma0.3-s0 --set seed=0 --set emb_perturb=0.3   # σ of the Meissonic config
    ;;
  starts)   # lr 0, one update: only point 0 (the untrained student) is scored
    for r in 0.6 0.8 0.95 1.0; do for s in 0.0 0.1 0.3; do
      $HARNESS train fpd --task shapes --steps 1 --set batch=32 --set stats_every=0 --set lr=0 \
        --set r_init=$r --set emb_perturb=$s --out "$RUNS/starts/r$r-s$s"
    done; done
    $HARNESS curve "$RUNS"/starts/* --at 0 --temps 1,1.5 --no-references --out docs/curves/starts
    ;;
  temps)
    $HARNESS curve "$RUNS/fpd-s0" "$RUNS/dimo-s0" --temps 1,1.5,3 --at 0,300,3000 --no-references \
      --out docs/curves/temperature
    ;;
  score)   # the paper's methods and the control; then the extension beside them; then the text task
    main=(); for r in "$RUNS"/*-s[0-9]; do case $(basename "$r") in ext-*) ;; *) main+=("$r") ;; esac; done
    $HARNESS curve "${main[@]}" --suite shapes-fid --out docs/curves/shapes
    if compgen -G "$RUNS/ext-*" > /dev/null; then
      $HARNESS curve "$RUNS"/ext-* "$RUNS"/fpd-s[0-9] "$RUNS"/dimo-s[0-9] "$RUNS"/control-cond-s[0-9] --suite shapes-fid \
        --out docs/curves/shapes-extension
    fi
    if [ -d "$RUNS/text" ]; then $HARNESS curve "$RUNS"/text/* --suite shapes-geneval --out docs/curves/shapes-t2i; fi
    ;;
  *) echo "usage: $0 a|b|score" >&2; exit 2 ;;
esac
