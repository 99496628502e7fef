#!/bin/bash
# [5/5] make quickstart on a fresh clone of main, 2 idle cores, empty feature cache
# usage: benchmarks/measure_quickstart.sh [REPO]  (run on idle cores; prints to /tmp/qs.time, log in /tmp/qs.log)
REPO=${1:-$(cd "$(dirname "$0")/.." && pwd)}
rm -rf /tmp/qsclone /tmp/qs-cache; mkdir -p /tmp/qs-cache
git clone -q "$REPO" /tmp/qsclone
cd /tmp/qsclone
start=$(date +%s)
FPD_CACHE_DIR=/tmp/qs-cache make quickstart > /tmp/qs.log 2>&1
rc=$?
end=$(date +%s)
echo "rc=$rc wall_s=$((end-start)) date=$(date -u +%FT%TZ) commit=$(git rev-parse --short HEAD)" > /tmp/qs.time
