#!/usr/bin/env bash
# Run one benchmark profile on several JVMs and compare them, benchmark by benchmark.
#
#   scripts/compare-jvms.sh [--profile NAME] [JAVA_HOME...] [-- JMH options...]
#   scripts/compare-jvms.sh --list [JAVA_HOME...]     the JVMs it would compare, and nothing else
#
# JVMs: the JAVA_HOME folders given (JDK or JRE: each needs a working bin/java, Java 17 or newer);
# with none, every JVM in $JVM_DIR (default /usr/lib/jvm), less folders without bin/java, older
# than 17, or links to a JVM already found (default-java, java-1.17.0-openjdk-amd64, ...).
# The first JVM is the one the others are compared with.
#
# Each JVM runs scripts/bench.sh NAME (default quick; any bench.sh profile) with -jvm <its java>:
# the JMH harness runs on the default java, the benchmarks on that JVM, and the results land in
# results/<jvm-id>/<profile>-<timestamp>.{json,log,md}. Options after -- go to every run, after the
# profile's, e.g. a short trial of one benchmark:
#   scripts/compare-jvms.sh -- -f 2 -wi 0 -i 2 -r 100ms -p placement=native -e RawCopyBench
#
# Then results/COMPARE.md: per benchmark and parameters each JVM's score ± 99.9% error, the ratio to
# the first JVM and a verdict: "X faster" only where the intervals [score - error, score + error] do
# not overlap, else "not significant"; results of one fork or without an error are shown but not
# compared, and a result one JVM lacks is listed as missing there. And results/charts/compare-NAME.png:
# bars per benchmark and parameters, one colour per JVM, speed relative to the first JVM, error bars.
#
# Exit status: 0; 1 when a run or the report fails; 2 for bad usage. Progress goes to standard error.
set -euo pipefail
. "$(dirname "$0")/common.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
fail() { log "error: $*"; exit 1; }

profile=quick
list=""
homes=()
jmh=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --profile)
      [ $# -ge 2 ] || die "--profile needs a name: ${PROFILES[*]}"
      profile=$2; shift 2 ;;
    --profile=*) profile=${1#--profile=}; shift ;;
    --list) list=1; shift ;;
    --) shift; jmh=("$@"); break ;;
    -*) die "unknown option '$1'; use --profile NAME or --list, JAVA_HOME folders, then -- and JMH options (--help)" ;;
    *) homes+=("$1"); shift ;;
  esac
done
[[ " ${PROFILES[*]} " == *" $profile "* ]] || die "--profile '$profile': unknown; use one of ${PROFILES[*]}"
for opt in "${jmh[@]}"; do
  case "$opt" in
    -jvm) die "JMH option -jvm: this script sets it for each JVM; give JAVA_HOME folders instead" ;;
    -rf|-rff) die "JMH option $opt: this script needs the JSON results where bench.sh puts them" ;;
  esac
done

# java.specification.version of a java: 17, 21, 25 (1.8 for Java 8).
java_spec() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1
}
old_java() { local v; v=$(java_spec "$1"); [[ "$v" == 1.* || "${v%%.*}" -lt 17 ]]; }

javas=()  # bin/java of each JVM, in order
reals=()  # their resolved paths, to find the same JVM twice
if [ ${#homes[@]} -gt 0 ]; then
  for h in "${homes[@]}"; do
    java="${h%/}/bin/java"
    [ -f "$java" ] && [ -x "$java" ] \
      || die "JAVA_HOME '$h': no executable bin/java there; give JDK or JRE folders, e.g. /usr/lib/jvm/temurin-25-jdk-amd64"
    "$java" -version >/dev/null 2>&1 || die "JAVA_HOME '$h': bin/java does not run ('$java -version' fails)"
    old_java "$java" && die "JAVA_HOME '$h': Java $(java_spec "$java"); the benchmarks need Java 17 or newer"
    real=$(readlink -f "$java")
    for ((k = 0; k < ${#reals[@]}; k++)); do
      [ "${reals[k]}" = "$real" ] && log "note: '$h' is the same java as ${javas[k]}: the comparison shows run-to-run noise"
    done
    javas+=("$java"); reals+=("$real")
  done
  [ ${#javas[@]} -ge 2 ] || die "give two or more JAVA_HOME folders (got one: ${homes[0]}), or none to compare every JVM in ${JVM_DIR:-/usr/lib/jvm}"
else
  dir=${JVM_DIR:-/usr/lib/jvm}
  [ -d "$dir" ] || die "no JVM folder $dir; give JAVA_HOME folders as arguments, or set JVM_DIR"
  # Real folders before links, so that a link to a JVM already listed (default-java) is the one left out.
  candidates=()
  for d in "$dir"/*/; do d=${d%/}; [ -L "$d" ] || candidates+=("$d"); done
  for d in "$dir"/*/; do d=${d%/}; [ -L "$d" ] && candidates+=("$d"); done
  for d in "${candidates[@]}"; do
    [ -e "$d" ] || continue  # the glob matched nothing
    java="$d/bin/java"
    if [ ! -f "$java" ] || [ ! -x "$java" ]; then log "skipping $d: no bin/java"; continue; fi
    real=$(readlink -f "$java")
    dup=""
    for ((k = 0; k < ${#reals[@]}; k++)); do [ "${reals[k]}" = "$real" ] && dup=${javas[k]}; done
    if [ -n "$dup" ]; then log "skipping $d: the same java as $dup"; continue; fi
    if ! "$java" -version >/dev/null 2>&1; then log "skipping $d: bin/java does not run"; continue; fi
    if old_java "$java"; then log "skipping $d: Java $(java_spec "$java"), older than 17"; continue; fi
    javas+=("$java"); reals+=("$real")
  done
  [ ${#javas[@]} -ge 2 ] || die "found ${#javas[@]} usable JVM(s) in $dir (${javas[*]:-none}); a comparison needs two: give JAVA_HOME folders as arguments"
fi

if [ -n "$list" ]; then
  for java in "${javas[@]}"; do printf '%s\t%s\n' "$(jvm_id "$java")" "$java"; done
  exit 0
fi

ensure_jar
n=${#javas[@]}
jsons=()
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
for ((i = 0; i < n; i++)); do
  java=${javas[i]}
  id=$(jvm_id "$java")
  log "JVM $((i + 1)) of $n: $id ($java), profile $profile"
  touch "$marker"
  "$ROOT/scripts/bench.sh" "$profile" -jvm "$java" "${jmh[@]}" || fail "the run on JVM $((i + 1)) ($id) failed; see results/$id/"
  # bench.sh names its file by the time it started: the newest of this profile since the marker.
  json=$(find "$ROOT/results/$id" -maxdepth 1 -name "$profile-*.json" -newer "$marker" -printf '%T@ %P\n' \
    | sort -n | tail -n1 | cut -d' ' -f2-)
  [ -n "$json" ] || fail "the run on JVM $((i + 1)) ($id) left no results/$id/$profile-*.json"
  jsons+=("results/$id/$json")
done

commit=$(source_commit)
# The first line of the title also heads the chart.
title="profile $profile, commit $commit"$'\n\n'"Compared $(date -u +%Y-%m-%dT%H:%MZ)"
[ ${#jmh[@]} -gt 0 ] && title="$title; JMH options after the profile's: \`${jmh[*]}\`"
title="$title."
chart="results/charts/compare-$profile.png"
log "comparing ${jsons[*]}: writing results/COMPARE.md and $chart"
(cd "$ROOT" && "$JAVA" $ADD_OPENS -Djava.awt.headless=true -cp "$JAR" org.hvbench.report.Report compare \
  --title "$title" --out results/COMPARE.md --chart "$chart" "${jsons[@]}") || fail "the comparison failed"
cat "$ROOT/results/COMPARE.md"
