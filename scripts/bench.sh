#!/usr/bin/env bash
# The main job: run a benchmark profile, keep the JMH JSON, print the placement table.
#
#   scripts/bench.sh [quick|paper|full] [JMH options...]
#
# Profiles (time on 2 cores):
#   quick  about a minute: every placement; 4 KiB read; depth 1; persistent grants; the raw copy;
#          1 fork, 3 x 1 s warm-up, 5 x 1 s measurement. A first look, not for quoting.
#   paper  about 8 min (the default): every placement at 4 KiB read, depth 1 and 32, untagged TLB,
#          persistent grants, with the raw copy; 2 forks, 3 x 2 s warm-up, 5 x 2 s measurement; -prof gc.
#   split  about 25 min: io-partition and dom0-emulator in every grant mode (map, copy, persistent)
#          at 4 KiB read, depth 1 and 32, with native and the raw copy beside them; GrantBench;
#          EventChannelBench; 2 forks; -prof gc.
#   full   several hours: every benchmark with every parameter value as annotated, plus the grant
#          modes map, copy and persistent for the split placements; 2 forks; -prof gc.
# Further arguments go to JMH after the profile's, so they win: e.g. -f 3, -p depth=32, -jvm PATH.
#
# Output: results/<jvm-id>/<profile>-<timestamp>.json (JMH), .log (all JMH printed), .md (the table).
# The JVM is $JAVA_HOME/bin/java when JAVA_HOME is set, else java on the PATH.
set -euo pipefail
. "$(dirname "$0")/common.sh"

profile=paper
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  profile=$1
  shift
fi

case "$profile" in
  quick)
    opts=(-f 1 -wi 3 -w 1s -i 5 -r 1s)
    select=("ArchitectureBench|RawCopyBench" -p operation=read -p size=4096 -p depth=1 -p tlbTagged=false
            -p costProfile=current-x86 -p grantMode=persistent) ;;
  paper)
    opts=(-f 2 -wi 3 -w 2s -i 5 -r 2s -prof gc)
    select=("ArchitectureBench|RawCopyBench" -p operation=read -p size=4096 -p depth=1,32 -p tlbTagged=false
            -p costProfile=current-x86 -p grantMode=persistent) ;;
  split)
    opts=(-f 2 -wi 3 -w 2s -i 5 -r 2s -prof gc)
    select=("ArchitectureBench|RawCopyBench|GrantBench|EventChannelBench" -p placement=native,io-partition,dom0-emulator
            -p grantMode=map,copy,persistent -p operation=read -p size=4096 -p depth=1,32 -p tlbTagged=false
            -p costProfile=current-x86 -p payload=512,4096,65536 -p guests=1,16) ;;
  full)
    opts=(-f 2 -wi 3 -w 2s -i 5 -r 2s -prof gc)
    select=(".*" -p grantMode=map,copy,persistent) ;;
  -h|--help|help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0 ;;
  *)
    die "unknown profile '$profile'; use quick, paper, split or full (scripts/bench.sh --help)" ;;
esac

# The user's options replace the profile's: JMH refuses an option given twice. A -p replaces the
# profile's -p of the same parameter; -prof adds a profiler (the same one is not given twice).
user_keys=" "
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -p) user_keys+="-p:${args[i+1]%%=*} "; i=$((i + 1)) ;;
    -prof) user_keys+="-prof:${args[i+1]} "; i=$((i + 1)) ;;
    -*) user_keys+="${args[i]} " ;;
  esac
done
merged=()
for list in select opts; do
  eval "items=(\"\${${list}[@]}\")"
  for ((i = 0; i < ${#items[@]}; i++)); do
    item=${items[i]}
    case "$item" in
      -p) key="-p:${items[i+1]%%=*}" ;;
      -prof) key="-prof:${items[i+1]}" ;;
      -*) key=$item ;;
      *) merged+=("$item"); continue ;;
    esac
    if [[ "$user_keys" == *" $key "* ]]; then
      [[ "$item" == -* && "$item" != -foe ]] && i=$((i + 1))
    else
      merged+=("$item")
      [[ "$item" == -* && "$item" != -foe ]] && { merged+=("${items[i+1]}"); i=$((i + 1)); }
    fi
  done
done

ensure_jar
id=$(jvm_id)
out="$ROOT/results/$id"
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
base="$out/$profile-$stamp"
log "profile $profile on $("$JAVA" -version 2>&1 | head -n1) ($id)"
log "writing $base.{json,log,md}"

start=$(date +%s)
# JMH prints its own progress ("Run progress: x% complete, ETA ..."); show that and each
# benchmark's name and parameters, keep everything in the log.
set +e
log "jmh ${merged[*]} $*"
"$JAVA" -jar "$JAR" "${merged[@]}" -foe true -rf json -rff "$base.json" "$@" 2>&1 \
  | sed -u "s#$ROOT/#./#g" \
  | tee "$base.log" \
  | grep --line-buffered -E '^# (Run progress|Benchmark:|Parameters:)|^Iteration +[0-9]+:|ERROR|Exception' \
  | sed -u -e 's/^# Run progress: /[progress] /' -e 's/^# Benchmark: /[benchmark] /' -e 's/^# Parameters: /            /'
status=${PIPESTATUS[0]}
set -e
log "JMH finished in $(( $(date +%s) - start )) s with status $status"
[ "$status" -eq 0 ] || die "JMH failed; see $base.log"
[ -s "$base.json" ] || die "JMH wrote no results; see $base.log"

"$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.report.Report table "$base.json" | tee "$base.md"
