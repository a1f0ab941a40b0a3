#!/usr/bin/env bash
# The main job: run a benchmark profile, keep the JMH JSON, print the placement table.
#
#   scripts/bench.sh [quick|paper|split|iommu|threaded|ring|channel|mac|tpm|full] [JMH options...]
#
# Profiles (time on 2 cores):
#   quick  about two minutes: every placement; 4 KiB read; depth 1; persistent grants; each placement's
#          own IOMMU (iommu=system); the raw copy;
#          1 fork, 3 x 1 s warm-up, 5 x 1 s measurement. A first look, not for quoting.
#   paper  about 12 min (the default), two JMH runs in one result: (1) every placement at 4 KiB read,
#          depth 1 and 32, untagged TLB, persistent grants, each with the IOMMU its real system has
#          (iommu=system: off for native, so "x native" divides by an OS on bare hardware), with the
#          raw copy; (2) native with the IOMMU on, strict and deferred ("native + IOMMU strict",
#          "native + IOMMU deferred": the price of DMA protection); 2 forks, 3 x 1 s warm-up,
#          5 x 2 s measurement; -prof gc. The table splits each modelled ns into its causes.
#   split  about 25 min: io-partition and dom0-emulator in every grant mode (map, copy, persistent)
#          at 4 KiB read, depth 1 and 32, with native and the raw copy beside them; GrantBench;
#          EventChannelBench; 2 forks; -prof gc.
#   iommu  about 45 min, three JMH runs in one result: (1) native, hypervisor-trap, both passthrough
#          placements and both channel programs at 4 KiB read, depth (= chain length) 1, 8, 32;
#          (2) native at 4 KiB and 64 KiB, depth 1, 8 and 32, with the IOMMU off, as an exclusion
#          vector, and on with strict and with deferred invalidation; (3) IommuBench. 2 forks; -prof gc.
#   threaded  about 15 min, two JMH runs in one result: every placement at 4 KiB read, depth 1 and
#          32, under the inline executor and under the threaded one with each idle strategy (spin,
#          backoff, park); 2 forks, 2 x 1 s warm-up, 3 x 1 s measurement; -prof gc. The table ends
#          with threaded against inline.
#   ring   about 10 min: the shared ring against JCTools' SpscArrayQueue and Agrona's
#          OneToOneRingBuffer (RingBench: 64- and 112-byte messages, batch 1 and 16, the ring's
#          publish check and release), and event delivery two-level, FIFO, posted on one thread and
#          across two (EventChannelBench deliver, crossThread); 2 forks, 3 x 1 s warm-up,
#          5 x 2 s measurement; -prof gc. Producer/consumer pairs take both cores: run it alone.
#   channel  about 10 min: the covert channel's signal in this JVM (CovertChannelBench): one 4 KiB read
#          of a receiver guest beside an idle or a loaded sender guest, through hypervisor-pv,
#          io-partition, dom0-emulator and channel-program, under each driver scheduler (fifo,
#          round-robin, time-slotted, constant-rate); 2 forks, 3 x 1 s warm-up, 5 x 1 s measurement;
#          -prof gc. The capacities, and the control, are scripts/covert.sh's.
#   mac    about 40 min, two JMH runs in one result: (1) every placement at 4 KiB read, depth 1, without
#          access control and under sHype (mac=ste, mac=chwall-ste: the hooks decide at bind time, so
#          the data path should not see them); 4 forks, 3 x 1 s warm-up, 5 x 2 s measurement, so that
#          the ratios' errors come near the 1 % they are to show; (2) AccessControlBench, the hooks
#          themselves (cached and not), the Chinese Wall check, a revocation; -prof gc.
#   tpm    about 3 min: TpmBench, a PCR extend and a quote where the guest's TPM sits (a vTPM in the
#          TPM domain through tpmfront/tpmback, or the guest's own kernel); 2 forks, 3 x 1 s warm-up,
#          5 x 1 s; -prof gc.
#   full   several hours: every benchmark with every parameter value as annotated, plus the grant
#          modes map, copy and persistent for the split placements; 2 forks; -prof gc.
# Further arguments go to JMH after the profile's, so they win: e.g. -f 3, -p depth=32, -jvm PATH.
# (Pass JVM flags with -jvmArgsPrepend: -jvmArgsAppend would replace the benchmarks' own flags.)
#
# Output: results/<jvm-id>/<profile>-<timestamp>.json (JMH), .log (all JMH printed), .md (the table),
# .machine.json (CPU model, cores, memory, kernel: no host name); then results/REPORT.md and
# results/charts/ are drawn again from the newest run of each profile of each JVM.
# The JVM is $JAVA_HOME/bin/java when JAVA_HOME is set, else java on the PATH. With -jvm PATH the
# benchmarks (JMH's forks) run on PATH instead, and the results are filed under that JVM's id.
set -euo pipefail
. "$(dirname "$0")/common.sh"

profile=paper
if [ $# -gt 0 ] && { [ "$1" = -h ] || [ "$1" = --help ]; }; then
  profile=help
  shift
elif [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  profile=$1
  shift
fi

# Each profile is one or more JMH runs (select_1, select_2, ...) with the same options; their
# results are merged into one JSON file.
runs=1
case "$profile" in
  quick)
    opts=(-f 1 -wi 3 -w 1s -i 5 -r 1s)
    select_1=("ArchitectureBench|RawCopyBench" -p operation=read -p size=4096 -p depth=1 -p tlbTagged=false
              -p costProfile=current-x86 -p grantMode=persistent -p iommu=system -p iommuInvalidation=strict) ;;
  paper)
    runs=2
    # 10 s of warm-up: with 3 s, native's forks at depth 1 were still tiering up in the measured
    # iterations (1.4M then 2.2M I/O per s), and that denominator's error went into every ratio.
    opts=(-f 2 -wi 5 -w 2s -i 5 -r 2s -prof gc)
    select_1=("ArchitectureBench|RawCopyBench" -p operation=read -p size=4096 -p depth=1,32 -p tlbTagged=false
              -p costProfile=current-x86 -p grantMode=persistent -p iommu=system -p iommuInvalidation=strict)
    select_2=("ArchitectureBench.io" -p placement=native -p operation=read -p size=4096 -p depth=1,32 -p tlbTagged=false
              -p costProfile=current-x86 -p grantMode=persistent -p iommu=on -p iommuInvalidation=strict,deferred) ;;
  split)
    opts=(-f 2 -wi 3 -w 2s -i 5 -r 2s -prof gc)
    select_1=("ArchitectureBench|RawCopyBench|GrantBench|EventChannelBench" -p placement=native,io-partition,dom0-emulator
              -p grantMode=map,copy,persistent -p operation=read -p size=4096 -p depth=1,32 -p tlbTagged=false
              -p costProfile=current-x86 -p payload=512,4096,65536 -p guests=1,16 -p iommu=system -p iommuInvalidation=strict) ;;
  iommu)
    runs=3
    opts=(-f 2 -wi 3 -w 2s -i 5 -r 2s -prof gc)
    select_1=("ArchitectureBench.io" -p placement=native,hypervisor-trap,passthrough,passthrough-posted,channel-program,channel-program-iommu
              -p operation=read -p size=4096 -p depth=1,8,32 -p tlbTagged=false -p costProfile=current-x86
              -p grantMode=persistent -p iommu=on -p iommuInvalidation=strict)
    select_2=("ArchitectureBench.io" -p placement=native -p operation=read -p size=4096,65536 -p depth=1,8,32
              -p tlbTagged=false -p costProfile=current-x86 -p grantMode=persistent -p iommu=off,exclusion,on
              -p iommuInvalidation=strict,deferred)
    select_3=("IommuBench") ;;
  threaded)
    runs=2
    opts=(-f 2 -wi 2 -w 1s -i 3 -r 1s -prof gc)
    select_1=("ArchitectureBench.io" -p executor=inline -p idle=backoff -p operation=read -p size=4096 -p depth=1,32
              -p tlbTagged=false -p costProfile=current-x86 -p grantMode=persistent -p iommu=system -p iommuInvalidation=strict)
    select_2=("ArchitectureBench.io" -p executor=threaded -p idle=spin,backoff,park -p operation=read -p size=4096
              -p depth=1,32 -p tlbTagged=false -p costProfile=current-x86 -p grantMode=persistent -p iommu=system
              -p iommuInvalidation=strict) ;;
  ring)
    opts=(-f 2 -wi 3 -w 1s -i 5 -r 2s -prof gc)
    select_1=("RingBench|EventChannelBench.(deliver|crossThread)") ;;
  channel)
    opts=(-f 2 -wi 3 -w 1s -i 5 -r 1s -prof gc)
    select_1=("CovertChannelBench") ;;
  mac)
    runs=2
    opts=(-f 4 -wi 3 -w 1s -i 5 -r 2s -prof gc)
    select_1=("ArchitectureBench.io" -p mac=off,ste,chwall-ste -p operation=read -p size=4096 -p depth=1 -p tlbTagged=false
              -p costProfile=current-x86 -p grantMode=persistent -p iommu=system -p iommuInvalidation=strict)
    select_2=("AccessControlBench") ;;
  tpm)
    opts=(-f 2 -wi 3 -w 1s -i 5 -r 1s -prof gc)
    select_1=("TpmBench") ;;
  full)
    opts=(-f 2 -wi 3 -w 2s -i 5 -r 2s -prof gc)
    select_1=(".*" -p grantMode=map,copy,persistent) ;;
  -h|--help|help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0 ;;
  *)
    die "unknown profile '$profile'; use ${PROFILES[*]} (scripts/bench.sh --help)" ;;
esac

jmh_user_keys "$@"
args=("$@")

# The JVM that runs the benchmarks: JMH's forks run on -jvm's java when it is given, the harness on $JAVA.
fork_java=$JAVA
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = -jvm ]; then
    fork_java=${args[i+1]:-}
    [ -f "$fork_java" ] && [ -x "$fork_java" ] || die "-jvm '$fork_java': not an executable java; give the path of a bin/java"
  fi
done
fork_version=$("$fork_java" -version 2>&1 | head -n1)

ensure_jar
id=$(jvm_id "$fork_java")
out="$ROOT/results/$id"
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
base="$out/$profile-$stamp"
log "profile $profile on $fork_version ($id), commit $(source_commit)"
log "writing $base.{json,log,md,machine.json}"
machine_facts > "$base.machine.json" || log "warning: could not record the machine in $base.machine.json"

start=$(date +%s)
printf '# hvbench profile %s, commit %s, %s\n' "$profile" \
  "$(source_commit)" "$fork_version" > "$base.log"
parts=()
for ((run = 1; run <= runs; run++)); do
  merge "select_$run" opts
  part="$base.json"
  [ "$runs" -gt 1 ] && part="$base.part$run.json"
  # Show JMH's progress, keep everything it prints in the log.
  set +e
  log "run $run of $runs: jmh ${merged[*]} $*"
  "$JAVA" -jar "$JAR" "${merged[@]}" -foe true -rf json -rff "$part" "$@" 2>&1 \
    | sed -u "s#$ROOT/#./#g" \
    | tee -a "$base.log" | jmh_progress
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" -eq 0 ] || die "JMH failed in run $run; see $base.log"
  [ -s "$part" ] || die "JMH wrote no results in run $run; see $base.log"
  parts+=("$part")
done
log "JMH finished in $(( $(date +%s) - start )) s"
if [ "$runs" -gt 1 ]; then
  # JMH's JSON is one array, "[" on its first line and "]" on its last: join the arrays.
  # Each part is one JSON array ("[", records, "]", then blank lines): keep the records, joined.
  { echo "["; for ((k = 0; k < ${#parts[@]}; k++)); do
      [ "$k" -gt 0 ] && echo ","
      awk 'NR > 1 { line[n++] = $0 }
           END { while (n > 0 && line[n - 1] ~ /^[[:space:]]*$/) n--; for (i = 0; i < n - 1; i++) print line[i] }' "${parts[k]}"
    done; echo "]"; } > "$base.json"
  rm -f "${parts[@]}"
fi

# Which code and JVM made these numbers, first in the table.
commit=$(source_commit)
# Neither the table nor the report may lose a run: the JSON is complete by now, and a failure here
# only warns (rerun the command printed).
if ! { printf 'Profile `%s`, %s, commit %s, %s.\n\n' "$profile" "$fork_version" "$commit" "$stamp"
       "$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.report.Report table "$base.json"; } | tee "$base.md"; then
  log "warning: the table failed; the results are in $base.json"
fi
report=("$JAVA" -Djava.awt.headless=true $ADD_OPENS -cp "$JAR" org.hvbench.report.Report markdown
        --out "$ROOT/results/REPORT.md" --charts "$ROOT/results/charts" "$ROOT/results")
if "${report[@]}"; then
  log "results/REPORT.md and results/charts/ drawn again"
else
  log "warning: results/REPORT.md was not drawn; the results are in $base.json. Again: ${report[*]}"
fi
