#!/usr/bin/env bash
# timed.sh NAME COMMAND...: run COMMAND, append "NAME<TAB>seconds<TAB>exit code" to .reports/timings.tsv.
set -uo pipefail
name=$1; shift
mkdir -p .reports
start=$(date +%s.%N)
"$@"; rc=$?
awk -v n="$name" -v s="$start" -v e="$(date +%s.%N)" -v r="$rc" 'BEGIN {printf "%s\t%.1f\t%s\n", n, e - s, r}' \
  >> .reports/timings.tsv
exit "$rc"
