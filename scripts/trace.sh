#!/usr/bin/env bash
# The crossings of one I/O through a placement, as a numbered list, JSON, or an SVG diagram.
#
#   scripts/trace.sh PLACEMENT|all [--depth N] [--format text|json|svg] [--operation read|write]
#                                  [--size BYTES] [--cost-profile NAME] [--tlb-tagged] [--out DIR]
#
# With --out DIR each trace is written to DIR/<placement>-depth<N>.<format>; `all` traces every
# placement (e.g. scripts/trace.sh all --format svg --out results/traces).
#
# scripts/trace.sh --help lists the placements. Exit status 2 for a bad argument.
set -euo pipefail
. "$(dirname "$0")/common.sh"
ensure_jar
exec "$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.cli.Trace "$@"
