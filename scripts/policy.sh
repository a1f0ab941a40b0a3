#!/usr/bin/env bash
# sHype policies: compile a source to the binary form the Policy Manager hands the hypervisor, show
# one, or check one.
#
#   scripts/policy.sh compile SOURCE [-o FILE]   (default output: SOURCE with .bin)
#   scripts/policy.sh show SOURCE|FILE
#   scripts/policy.sh check SOURCE|FILE
#
# The source format is documented in docs/policy.md. Exit status 0; 1 for an invalid policy (the
# message names the line) or a file that cannot be read or written; 2 for bad usage.
set -euo pipefail
. "$(dirname "$0")/common.sh"
ensure_jar
exec "$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.cli.PolicyTool "$@"
