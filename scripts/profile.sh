#!/usr/bin/env bash
# Flame graphs of benchmarks: JMH's async-profiler profiler (-prof async) over a short run.
#
#   scripts/profile.sh BENCH_REGEX [EVENT] [JMH options...] [--out DIR]
#
# BENCH_REGEX selects benchmarks as JMH's first argument does (e.g. 'ArchitectureBench',
# 'HypercallBench.single'). EVENT is what async-profiler samples:
#   cpu     (the default) CPU time through perf_events. When the kernel refuses perf_events to this
#           user (kernel.perf_event_paranoid, a container's seccomp), ctimer is used instead, and
#           said so: async-profiler would fall back by itself, but under the name cpu.
#   ctimer  CPU time through per-thread POSIX timers (timer_create); no kernel frames, no perf_events.
#   itimer  CPU time through setitimer, one timer for the process.
#   wall    wall-clock time of every thread, running or not (where the threads wait).
#   alloc   heap allocations (the data paths should show none in steady state).
#   lock    contended locks.
# The run is 1 fork, 3 x 1 s warm-up, 3 x 3 s measurement (profiled), about 12 s per parameter
# combination. Further arguments go to JMH after these, so they win: restrict parameters with
# -p (e.g. -p placement=native -p depth=1), lengthen the run with -i 5 -r 5s. With several forks,
# the last fork's profile is kept.
#
# Output: DIR/<Class>/<Class.method>[-name=value...]/flame-<event>-forward.html (callers at the
# bottom) and flame-<event>-reverse.html (the hot methods at the bottom), and run-<event>.txt (the
# parameters, event, JVM, commit and score of the run). The folder is named by the parameters
# given with -p and those that differ between the run's combinations; run-<event>.txt has them all.
# DIR is results/profiles unless --out says otherwise. A later run of the same combination and
# event replaces the files.
#
# async-profiler's native library comes from the tools.profiler:async-profiler jar on Maven
# Central (its version is async-profiler.version in pom.xml), unpacked by Maven into
# hv-bench/target/async-profiler/ on first use (linux-x64, linux-arm64).
# The JVM is $JAVA_HOME/bin/java when JAVA_HOME is set, else java on the PATH.
set -euo pipefail
. "$(dirname "$0")/common.sh"

events="cpu ctimer itimer wall alloc lock"
out_root="$ROOT/results/profiles"

if [ $# -gt 0 ] && { [ "$1" = -h ] || [ "$1" = --help ]; }; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi
# --out may stand anywhere (JMH has no option with two dashes); the rest keeps its order.
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out_root=$2; shift 2 ;;
    --out=*) out_root=${1#--out=}; shift ;;
    *) rest+=("$1"); shift ;;
  esac
done
set -- ${rest[@]+"${rest[@]}"}
[ $# -gt 0 ] && [[ "$1" != -* ]] || die "name the benchmarks: scripts/profile.sh BENCH_REGEX [EVENT] [JMH options...] (--help)"
regex=$1
shift
event=cpu
fallback=""
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  event=$1
  shift
fi
[[ " $events " == *" $event "* ]] || die "unknown event '$event'; use one of: ${events// /, }"
for arg in "$@"; do
  [[ "$arg" == async* ]] && die "profile.sh adds -prof async itself; choose the event with the second argument"
done

# async-profiler's jar holds one library per platform, under the names it uses.
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64|Linux-amd64) platform=linux-x64 ;;
  Linux-aarch64|Linux-arm64) platform=linux-arm64 ;;
  *) die "async-profiler's jar has no library for $(uname -s) $(uname -m) (only linux-x64 and linux-arm64 are unpacked)" ;;
esac

ensure_jar

# The library, unpacked by Maven from the version the parent pom pins (a new version, a new folder).
version=$(sed -n 's:.*<async-profiler.version>\(.*\)</async-profiler.version>.*:\1:p' "$ROOT/pom.xml")
[ -n "$version" ] || die "pom.xml has no async-profiler.version property"
lib_dir="$ROOT/hv-bench/target/async-profiler/$version"
lib="$lib_dir/$platform/libasyncProfiler.so"
if [ ! -f "$lib" ]; then
  log "unpacking async-profiler $version's native libraries (mvn -Pasync-profiler -pl hv-bench dependency:unpack@async-profiler)"
  (cd "$ROOT" && mvn -B -q -Pasync-profiler -pl hv-bench dependency:unpack@async-profiler) || die "Maven could not get tools.profiler:async-profiler:$version"
  if [ ! -f "$lib" ]; then
    found=$(cd "$lib_dir" 2>/dev/null && ls -d -- */ 2>/dev/null | tr -d / | paste -sd' ' || true)
    die "tools.profiler:async-profiler:$version has no $platform/libasyncProfiler.so (Linux libraries in it: ${found:-none})"
  fi
fi

"$JAVA" -jar "$JAR" -l "$regex" | tail -n +2 | grep -q . \
  || die "no benchmark matches '$regex'; the benchmarks are: $("$JAVA" -jar "$JAR" -l | tail -n +2 | sed 's/^org\.hvbench\.bench\.//' | sort | paste -sd' ')"

# cpu needs perf_events. Ask async-profiler itself: its event list has perf events only when it
# may open them (the same test by which it would pick cpu's engine).
if [ "$event" = cpu ] && ! "$JAVA" -agentpath:"$lib"=list -version 2>/dev/null | grep -q '^Perf events:'; then
  paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo unknown)
  log "perf events are refused to this user (kernel.perf_event_paranoid=$paranoid, or seccomp): sampling ctimer instead of cpu"
  event=ctimer
  fallback=" (cpu was asked for; perf events are refused to this user)"
fi

# JDK 22+ warn when a class path class loads a native library (JMH loads async-profiler's, in the
# harness and in each fork); the flag exists since JDK 17.
native_access=--enable-native-access=ALL-UNNAMED
defaults=(-f 1 -wi 3 -w 1s -i 3 -r 3s -jvmArgsPrepend "$native_access")
jmh_user_keys "$@"
merge defaults

mkdir -p "$out_root"
out_root=$(cd "$out_root" && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
stage="$out_root/.run-$stamp"
mkdir -p "$stage"
log "profiling '$regex', event $event, on $("$JAVA" -version 2>&1 | head -n1) ($(jvm_id)), async-profiler $version"
log "jmh ${merged[*]} $*"
set +e
"$JAVA" "$native_access" -jar "$JAR" "$regex" "${merged[@]}" -foe true -rf json -rff "$stage/jmh.json" \
  -prof "async:libPath=$lib;event=$event;output=flamegraph;dir=$stage" "$@" 2>&1 \
  | tee "$stage/jmh.log" | jmh_progress
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { tail -n 8 "$stage/jmh.log" >&2; die "JMH failed; see $stage/jmh.log"; }

# JMH names each combination's folder by every parameter (org...Bench.m-Throughput-depth-1-...).
# From the log: one line per combination with its benchmark, parameters, score and flame graphs.
# JMH prints "# Benchmark: B", "# Parameters: (k = v, ...)", the iterations, then 'Result "B":',
# the score, and after "Async profiler results:" the files it wrote.
trials=$(awk '
  /^# Benchmark: / { bench = $3; params = ""; score = "" }
  /^# Parameters: / { params = substr($0, 16); gsub(/^\(|\)$/, "", params); gsub(/ = /, "=", params); gsub(/, /, " ", params) }
  /^Result "/ { getline; score = $0; sub(/^ +/, "", score) }
  /^Async profiler results:/ { files = "" ; while ((getline line) > 0 && line ~ /^  \//) { sub(/^ +/, "", line); files = files "|" line }
                               print bench "\t" params "\t" score "\t" substr(files, 2) }
' "$stage/jmh.log")
[ -n "$trials" ] || die "JMH wrote no profiles; see $stage/jmh.log"

# A parameter names the folder when the user set it with -p or when it varies within this run.
named=" $(printf '%s\n' "$trials" | cut -f2 | tr ' ' '\n' \
  | awk -F= 'NF && !seen[$0]++ { values[$1]++ } END { for (k in values) if (values[k] > 1) printf "%s ", k }')"
for key in $user_keys; do
  [[ "$key" == -p:* ]] && named+="${key#-p:} "
done

jvm="$("$JAVA" -version 2>&1 | head -n1) ($(jvm_id))"
commit=$(source_commit)
written=()
while IFS=$'\t' read -r bench params score files; do
  short=${bench#org.hvbench.bench.}
  name=$short
  for kv in $params; do
    [[ "$named" == *" ${kv%%=*} "* ]] && name+="-$kv"
  done
  dest="$out_root/${short%%.*}/$name"
  mkdir -p "$dest"
  IFS='|' read -ra files <<< "$files"
  for f in "${files[@]}"; do
    [ -s "$f" ] || die "async-profiler wrote an empty $f; see $stage/jmh.log"
    mv -f "$f" "$dest/"
    written+=("$dest/$(basename "$f")")
  done
  { echo "benchmark: $bench"
    echo "parameters: ${params:-none}"
    echo "event: $event$fallback, async-profiler $version"
    echo "score: $score"
    echo "jmh options: ${merged[*]} $*"
    echo "jvm: $jvm"
    echo "commit: $commit"
    echo "date: $stamp"
  } > "$dest/run-$event.txt"
done <<< "$trials"
rm -rf "$stage"

log "flame graphs (event $event):"
printf '%s\n' "${written[@]}"
