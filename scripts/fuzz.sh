#!/usr/bin/env bash
# A real fuzzing campaign (Jazzer, coverage-guided) of one fuzz target, or of all one after another.
#
#   scripts/fuzz.sh                     list the targets (also --list)
#   scripts/fuzz.sh TARGET [SECONDS]    fuzz TARGET for SECONDS (default 600)
#   scripts/fuzz.sh all [SECONDS]       every target in turn, SECONDS each
#
# It runs the target's @FuzzTest through Maven and Surefire with JAZZER_FUZZ=1; SECONDS wins over
# the test's @FuzzTest(maxDuration) (given to Jazzer as JAZZER_MAX_DURATION and -Djazzer.max_duration).
# The targets' @Timeout bounds one replay in `mvn verify`; JUnit would apply it to the whole campaign,
# so it is switched off here (junit.jupiter.execution.timeout.mode=disabled).
# At the end it prints the inputs executed (Jazzer's last "#N" status line) and any finding.
#
# Findings: Jazzer stops at the first input that breaks an invariant (or throws) and writes it as
# crash-<sha1> into the target's committed inputs folder,
#   hv-core/src/test/resources/org/hvbench/core/arch/<Test>Inputs/<method>/
# so that `mvn -B verify` replays it from then on as a regression test: fix the bug, keep the file,
# commit both. The script lists the new files there.
#
# The corpus Jazzer grows goes to hv-core/target/fuzz-corpus (hv-core/.cifuzz-corpus is a symbolic
# link to it while the campaign runs), the full log to hv-core/target/fuzz-logs/. A later campaign
# starts from the corpus an earlier one left, until `mvn clean`.
#
# Run it with `nice -n 19` on a machine that measures benchmarks. Exit status: 0 no finding,
# 1 a finding (or the build failed), 2 a bad argument.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODULE="$ROOT/hv-core"
INPUTS="$MODULE/src/test/resources/org/hvbench/core/arch"

# target name, test class, fuzz test method, what it fuzzes
TARGETS=(
  "hypervisor HypervisorFuzzTest anUnprivilegedDomainCannotBreakTheHypervisor the hypercall dispatcher, trapped registers and stores of an unprivileged domain"
  "ring RingFuzzTest theBackEndAnswersAHostileRingAndNothingElse the split-driver back end reading a hostile front end's ring, per grant mode"
  "grant GrantFuzzTest grantOperationsOfAHostileDomainLeakNothing grant map, unmap, copy and set-up by a hostile mapper and granter"
  "iommu IommuFuzzTest aDeviceOwnerReachesOnlyItsOwnFrames IOMMU map and unmap hypercalls and device DMA of a passthrough device's owner"
  "channel ChannelFuzzTest aHostileChannelProgramMovesNothingItMayNot channel programs parsed by the hypervisor and run by the device"
  "policy PolicyFuzzTest thePolicyManagersHypercallTakesAnyBytesAndLoadsOnlyAValidPolicy the sHype policy the Policy Manager hands the hypervisor (XSM_OP)"
  "tpm TpmFuzzTest aGuestsVtpmAnswersAnyCommandAndChangesOnlyWhatASuccessMay the TPM 2.0 command parser of a guest's vTPM, at any locality"
)

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  echo "Targets:"
  for t in "${TARGETS[@]}"; do
    read -r name class method what <<<"$t"
    printf '  %-11s %-19s %s\n' "$name" "$class" "$what"
  done
}

die() { echo "fuzz.sh: $*" >&2; exit 2; }

if [ $# -eq 0 ] || [ "$1" = "--list" ] || [ "$1" = "-l" ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
  usage
  exit 0
fi
target=$1
seconds=${2:-600}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a whole number of seconds > 0; got '$seconds'"
[ $# -le 2 ] || die "too many arguments; see scripts/fuzz.sh --help"

selected=()
for t in "${TARGETS[@]}"; do
  read -r name _ <<<"$t"
  if [ "$target" = all ] || [ "$target" = "$name" ]; then
    selected+=("$t")
  fi
done
[ ${#selected[@]} -gt 0 ] || die "unknown target '$target'; targets: $(for t in "${TARGETS[@]}"; do printf '%s ' "${t%% *}"; done)all"

# The generated corpus lives under target/, never in the sources.
mkdir -p "$MODULE/target/fuzz-corpus" "$MODULE/target/fuzz-logs"
link="$MODULE/.cifuzz-corpus"
if [ -d "$link" ] && [ ! -L "$link" ]; then
  cp -R "$link/." "$MODULE/target/fuzz-corpus/" && rm -rf "$link"
fi
ln -sfn target/fuzz-corpus "$link"
trap 'rm -f "$link"' EXIT

status=0
summary=()
for t in "${selected[@]}"; do
  read -r name class method _ <<<"$t"
  dir="$INPUTS/${class}Inputs/$method"
  before=$(ls -1 "$dir" 2>/dev/null | sort || true)
  log="$MODULE/target/fuzz-logs/$name-$(date -u +%Y%m%dT%H%M%SZ).log"
  echo "== fuzz $name ($class) for ${seconds} s; log $log"
  set +e
  (cd "$ROOT" && JAZZER_FUZZ=1 JAZZER_MAX_DURATION="${seconds}s" \
    mvn -B -q test -pl hv-core -am -Djazzer.max_duration="${seconds}s" -Dtest="$class" \
      -Dsurefire.failIfNoSpecifiedTests=false -Djunit.jupiter.execution.timeout.mode=disabled) >"$log" 2>&1
  rc=$?
  set -e
  executed=$(grep -aoE '^#[0-9]+' "$log" | tr -d '#' | sort -n | tail -n 1 || true)
  rate=$(grep -aE '^#[0-9]+.*exec/s' "$log" | tail -n 1 | grep -oE 'exec/s: [0-9]+' | awk '{print $2}' || true)
  after=$(ls -1 "$dir" 2>/dev/null | sort || true)
  new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
  grep -aE '^#[0-9]+ +DONE|^Done [0-9]+ runs|stat::number_of_executed_units' "$log" || true
  if [ -n "$new" ]; then
    status=1
    echo "FINDING: new crashing inputs kept as regression seeds in $dir:"
    echo "$new" | sed 's/^/  /'
    grep -aE '^== Java Exception|^Caused by|FuzzTestFinding' "$log" | head -n 5 || true
    summary+=("$name: ${executed:-?} inputs, FINDING: $(echo "$new" | tr '\n' ' ')")
  elif [ $rc -ne 0 ]; then
    status=1
    echo "the run failed without a new input (build or set-up error); the end of $log:"
    tail -n 30 "$log"
    summary+=("$name: failed, see $log")
  else
    summary+=("$name: ${executed:-?} inputs in ${seconds} s (${rate:-?} exec/s at the end), no finding")
  fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
