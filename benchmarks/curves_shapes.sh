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
#   benchmarks/curves_shapes.sh run dimo-s1 fpd-lr1e-5-s0   # single runs by folder name (see run())
# Re-running a queue resumes every run where it stopped (run folders under $RUNS, outside the work tree);
# STEPS=10000 extends the long runs. HARNESS names the command (default: harness on PATH).
set -euo pipefail
HARNESS=${HARNESS:-harness}
RUNS=${RUNS:-${FPD_RUNS_DIR:-$HOME/.cache/fpd-harness/runs}/curves-shapes}
STEPS=${STEPS:-3000}            # the long budget: every method's main curve
SHORT=${SHORT:-1000}            # FPD's alternative readings (they part ways within a few hundred updates)
TEXT_STEPS=${TEXT_STEPS:-2000}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} FPD_NO_PROGRESS=1
DEV=(); [ -n "${DEVICE:-}" ] && DEV=(--device "$DEVICE")   # DEVICE=cuda STEPS=20000: the same curves on a GPU

# Each run's points are scored on validation seeds as soon as it ends (cached beside them; `score` then only draws).
scored() { local suite=shapes-fid; [ "$1" = shapes-t2i ] && suite=shapes-geneval
           $HARNESS curve "$RUNS/$2" --suite $suite --no-references --out "$RUNS/$2/curve"; }
fpd()  { $HARNESS train fpd  --task "$1" --steps "$2" "${DEV[@]}" --precision bf16 --set batch=32 --set stats_every=250 \
           --out "$RUNS/$3" "${@:4}" && scored "$1" "$3"; }
dimo() { $HARNESS train dimo --task "$1" --steps "$2" "${DEV[@]}" --precision bf16 --set batch=32 --out "$RUNS/$3" "${@:4}" \
           && scored "$1" "$3"; }
CONTROL=(--set positives=data --set drift_sets=condition --set per_cond=4)
EXT=(--set drift_sets=condition --set per_cond=4)   # beyond the paper: never the FPD row
sdtt() { $HARNESS train sdtt --task shapes --steps "$STEPS" "${DEV[@]}" --precision bf16 --set batch=32 \
           --set round_steps=$((STEPS / 4)) --out "$RUNS/$1" "${@:2}" && scored shapes "$1"; }

# One run by its folder name: the name fixes its settings, so a queue is a list of names.
run() {
  case "$1" in
    fpd-s[0-9])                fpd shapes "$STEPS" "$1" --set seed="${1##*-s}" ;;
    fpd-mask-negatives-s0)     fpd shapes "$SHORT" "$1" --set seed=0 --set self_pairs=mask-negatives ;;
    fpd-none-s0)               fpd shapes "$SHORT" "$1" --set seed=0 --set self_pairs=none ;;
    fpd-cond-s0)               fpd shapes "$SHORT" "$1" --set seed=0 --set drift_sets=condition --set per_cond=4 ;;
    fpd-lr*-s0)                lr=${1#fpd-lr}; fpd shapes "$STEPS" "$1" --set seed=0 --set lr="${lr%-s0}" ;;
    control-cond-s[0-9])       fpd shapes "$STEPS" "$1" --set seed="${1##*-s}" "${CONTROL[@]}" ;;
    control-cond-lr*-s0)       lr=${1#control-cond-lr}; fpd shapes "$STEPS" "$1" --set seed=0 --set lr="${lr%-s0}" "${CONTROL[@]}" ;;
    dimo-s[0-9])               dimo shapes "$STEPS" "$1" --set seed="${1##*-s}" ;;
    dimo-lr*-s0)               lr=${1#dimo-lr}; dimo shapes "$STEPS" "$1" --set seed=0 --set lr="${lr%-s0}" ;;
    dimo-sigma0.3-s0)          dimo shapes "$SHORT" "$1" --set seed=0 --set emb_perturb=0.3 ;;  # σ of the Meissonic config
    dimo-cfg1-s0)              dimo shapes "$SHORT" "$1" --set seed=0 --set true_cfg=1.0 ;;  # the teacher's own w=1 sampler
    sdtt-s[0-9])               sdtt "$1" --set seed="${1##*-s}" ;;
    sdtt-lr*-s0)               lr=${1#sdtt-lr}; sdtt "$1" --set seed=0 --set lr="${lr%-s0}" ;;
    ext-teacher-s[0-9])        fpd shapes "$STEPS" "$1" --set seed="${1##*-s}" --set positives=teacher "${EXT[@]}" ;;
    ext-mix*-s[0-9])           a=${1#ext-mix}; fpd shapes "$STEPS" "$1" --set seed="${1##*-s}" --set positives=mix:"${a%-s*}" "${EXT[@]}" ;;
    text/fpd-s0)               fpd shapes-t2i "$TEXT_STEPS" "$1" --set seed=0 ;;
    text/dimo-s0)              dimo shapes-t2i "$TEXT_STEPS" "$1" --set seed=0 ;;
    text/ext-teacher-s0)       fpd shapes-t2i "$TEXT_STEPS" "$1" --set seed=0 --set positives=teacher "${EXT[@]}" ;;
    *) echo "unknown run $1" >&2; return 2 ;;
  esac
}
queue() { for r in "$@"; do run "$r"; done; }

case "${1:-}" in
  run) shift; queue "$@" ;;
  a) queue fpd-s0 control-cond-s0 fpd-s1 fpd-mask-negatives-s0 fpd-none-s0 control-cond-s1 ;;
  b) queue dimo-s0 sdtt-s0 fpd-cond-s0 dimo-s1 text/fpd-s0 text/dimo-s0 ;;
  # the grid's third rate of each method is its queue-a/b run (FPD 2e-4, DiMO 3e-4, SDTT 1e-3, control 2e-4)
  c) queue fpd-lr1e-5-s0 dimo-lr1e-5-s0 fpd-lr5e-5-s0 dimo-lr1e-4-s0 control-cond-lr5e-5-s0 control-cond-lr6e-4-s0 \
           sdtt-lr1e-4-s0 sdtt-lr3e-4-s0 ;;
  d) queue ext-teacher-s0 ext-mix0.25-s0 ext-teacher-s1 ext-mix0.5-s0 text/ext-teacher-s0 ;;
  e) queue dimo-sigma0.3-s0 dimo-cfg1-s0 ;;
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
  score)   # the paper's methods and the control; then the extension beside them; then the text task.
    # A run whose folder is gone joins through its record (docs/curves/*/runs/NAME.json, written by every curve).
    runs() { local recs=$1; shift; for r in "$@"; do [ -d "$r" ] && echo "$r"; done
             for rec in "$recs"/*.json; do [ -e "$rec" ] || continue; local n; n=$(basename "$rec" .json)
               for r in "$@"; do [ "$(basename "$r")" = "$n" ] && [ ! -d "$r" ] && echo "$rec"; done; done; }
    names() { for rec in "$1"/*.json; do [ -e "$rec" ] && echo "$2/$(basename "$rec" .json)"; done
              for r in "$2"/$3; do [ -d "$r" ] && echo "$r"; done; }
    mapfile -t main < <(names docs/curves/shapes/runs "$RUNS" '*-s[0-9]' | grep -v '/ext-' | sort -u)
    mapfile -t main < <(runs docs/curves/shapes/runs "${main[@]}")
    $HARNESS curve "${main[@]}" --suite shapes-fid --out docs/curves/shapes
    mapfile -t ext < <(names docs/curves/shapes-extension/runs "$RUNS" 'ext-*-s[0-9]' | grep '/ext-' | sort -u)
    if [ ${#ext[@]} -gt 0 ]; then
      mapfile -t ext < <(runs docs/curves/shapes-extension/runs "${ext[@]}")
      mapfile -t beside < <(printf '%s\n' "${main[@]}" | grep -E '/(fpd|dimo|control-cond)-s[0-9](\.json)?$')
      $HARNESS curve "${ext[@]}" "${beside[@]}" --suite shapes-fid --out docs/curves/shapes-extension
    fi
    mapfile -t text < <(names docs/curves/shapes-t2i/runs "$RUNS/text" '*-s[0-9]' | sort -u)
    mapfile -t text < <(runs docs/curves/shapes-t2i/runs "${text[@]}")
    if [ ${#text[@]} -gt 0 ]; then $HARNESS curve "${text[@]}" --suite shapes-geneval --out docs/curves/shapes-t2i; fi
    ;;
  *) echo "usage: $0 a|b|c|d|e|starts|temps|score, or: $0 run NAME... (the names in run())" >&2; exit 2 ;;
esac
