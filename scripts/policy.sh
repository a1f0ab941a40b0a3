#!/usr/bin/env bash
# sHype policies: compile a source to the binary form the Policy Manager hands the hypervisor, show
# one, or check one.
#
#   scripts/policy.sh compile SOURCE [-o FILE]   (default output: SOURCE with .bin)
#   scripts/policy.sh show SOURCE|FILE
#   scripts/policy.sh check SOURCE|FILE
#   scripts/policy.sh scenario                   (three customers on one I/O partition, step by step)
#
# The source format is documented in docs/policy.md. Exit status 0; 1 for an invalid policy (the
# message names the line), a file that cannot be read or written, or a scenario step that did not do
# what sHype should; 2 for bad usage.
set -euo pipefail
. "$(dirname "$0")/common.sh"
ensure_jar
exec "$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.cli.PolicyTool "$@"
