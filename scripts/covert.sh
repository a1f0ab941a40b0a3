#!/usr/bin/env bash
# What each placement buys, beside what it costs: the covert timing channel through its driver under
# each scheduler (modelled and measured clock), a hostile driver domain's traffic-flow analysis with
# and without the guest's defences, and each placement's trusted base.
#
#   scripts/covert.sh [PLACEMENT...] [--scheduler S[,S...]] [--period US[,US...]] [--clock modelled|measured|both]
#                     [--bits N] [--seed N] [--files K] [--accesses N] [--no-save]
#
# Defaults: every placement with guests, every scheduler (fifo, round-robin, time-slotted, constant-rate),
# bit periods 200 and 1000 µs, both clocks, 1,024 message bits, 8 files and 400 accesses per defence:
# about 5 minutes on 2 cores. Prints the tables; writes results/<jvm-id>/covert-<timestamp>.json, .md
# and -capacity.png (unless --no-save), then redraws results/REPORT.md, whose placement tables then
# carry the TCB, driver-shared, covert-capacity and DMA columns. scripts/covert.sh --help lists the
# options. Exit status 2 for a bad argument.
set -euo pipefail
. "$(dirname "$0")/common.sh"

save=1
args=()
for a in "$@"; do
  case "$a" in
    --no-save) save=0 ;;
    *) args+=("$a") ;;
  esac
done
for a in "${args[@]}"; do
  case "$a" in -h|--help) exec "$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.cli.Covert --help ;; esac
done
ensure_jar
cd "$ROOT"
if [ "$save" = 0 ]; then
  exec "$JAVA" $ADD_OPENS -Djava.awt.headless=true -cp "$JAR" org.hvbench.cli.Covert "${args[@]}"
fi
dir="results/$(jvm_id)"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dir"
"$JAVA" $ADD_OPENS -Djava.awt.headless=true -cp "$JAR" org.hvbench.cli.Covert "${args[@]}" \
  --out "$dir" --stamp "$stamp" --commit "$(source_commit)"
machine_facts > "$dir/covert-$stamp.machine.json"
log "redrawing results/REPORT.md"
"$JAVA" $ADD_OPENS -Djava.awt.headless=true -cp "$JAR" org.hvbench.report.Report markdown --out results/REPORT.md \
  --charts results/charts results > /dev/null || log "warning: results/REPORT.md was not drawn again"
