#!/usr/bin/env bash
# The crossings of one I/O through a placement, as a numbered list, JSON, or an SVG diagram.
#
#   scripts/trace.sh PLACEMENT [--depth N] [--format text|json|svg] [--operation read|write]
#                              [--size BYTES] [--cost-profile NAME] [--tlb-tagged]
#
# scripts/trace.sh --help lists the placements. Exit status 2 for a bad argument.
set -euo pipefail
. "$(dirname "$0")/common.sh"
ensure_jar
exec "$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.cli.Trace "$@"
