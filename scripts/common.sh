# Shared by the scripts: where things are, which java, and building the jar when needed.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR="$ROOT/hv-bench/target/benchmarks.jar"
# Agrona 2.x reaches jdk.internal.misc.Unsafe; the jar's manifest opens it for `java -jar`,
# a plain class path needs the flag (the parent pom's agrona.opens property says the same).
ADD_OPENS="--add-opens java.base/jdk.internal.misc=ALL-UNNAMED"

if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi

# scripts/bench.sh's profiles (its case statement defines them).
PROFILES=(quick paper split iommu threaded ring channel mac tpm full)

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# Builds benchmarks.jar when it is missing or older than any source or pom.
ensure_jar() {
  local stale=""
  if [ ! -f "$JAR" ]; then
    stale="missing"
  elif [ -n "$(find "$ROOT/pom.xml" "$ROOT/hv-core" "$ROOT/hv-bench" -path '*/target' -prune -o \
        \( -name '*.java' -o -name 'pom.xml' -o -name '*.properties' \) -newer "$JAR" -print -quit)" ]; then
    stale="older than the sources"
  fi
  if [ -n "$stale" ]; then
    log "benchmarks.jar is $stale: building it (mvn -B -q -DskipTests package)"
    (cd "$ROOT" && mvn -B -q -DskipTests package) || die "the build failed"
  fi
}

# vendor-version of a java binary, e.g. debian-17.0.15 or eclipse-adoptium-25.0.1
jvm_id() {
  local java=${1:-$JAVA} props vendor version
  props=$("$java" -XshowSettings:properties -version 2>&1)
  vendor=$(printf '%s\n' "$props" | sed -n 's/^ *java.vendor = //p' | head -n1)
  version=$(printf '%s\n' "$props" | sed -n 's/^ *java.version = //p' | head -n1)
  printf '%s-%s' "$(printf '%s' "$vendor" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9.' '-' | sed 's/-*$//')" "$version"
}

# jmh_progress: filters JMH's output (stdin) down to one line per benchmark and parameter set
# ("[progress] benchmark 3 of 18: ArchitectureBench.io (depth = 1, placement = native), elapsed
# 00:00:42, about 00:03:26 left"), the measured iterations, and errors and warnings. JMH says neither which
# benchmark of how many nor the time elapsed: the count comes from its first "Run progress" step
# (each fork of each benchmark is one step of the same length when the options are the same for all,
# as in every profile) and from "# Fork: k of F"; until the second step it is unknown and not shown.
jmh_progress() {
  local start=$SECONDS line name="" params="" steps=0 step pct eta="" total="" forks i=0 of elapsed
  while IFS= read -r line; do
    case "$line" in
      "# Benchmark: "*) name=${line#"# Benchmark: "}; name=${name#org.hvbench.bench.}; params="" ;;
      "# Parameters: "*) params=${line#"# Parameters: "} ;;
      "# Run progress: "*)
        steps=$((steps + 1))
        pct=${line#"# Run progress: "}; pct=${pct%%%*}
        eta=${line##*ETA }
        if [ -z "$total" ] && [ "$steps" -eq 2 ]; then
          total=$(awk -v p="$pct" 'BEGIN { if (p > 0) printf "%d", 100 / p + 0.5 }')
        fi ;;
      "# Fork: "*)
        step=${line#"# Fork: "}; forks=${step##* of }; step=${step%% of *}
        # -f 0: "# Fork: N/A, test runs in the host VM"
        case "$forks" in ''|*[!0-9]*) step=1; forks=1 ;; esac
        if [ "$step" = 1 ]; then
          i=$((i + 1))
          of=""
          [ -n "$total" ] && of=" of $(( (total + forks - 1) / forks ))"
          elapsed=$((SECONDS - start))
          printf '[progress] benchmark %d%s: %s%s, elapsed %02d:%02d:%02d, about %s left\n' "$i" "$of" "$name" \
            "${params:+ $params}" $((elapsed / 3600)) $((elapsed / 60 % 60)) $((elapsed % 60)) "$eta"
        fi ;;
      "Iteration "*|*ERROR*|*Exception*|"[WARN]"*) printf '%s\n' "$line" ;;
    esac
  done
}

# A script's own JMH options (a profile's) give way to the user's: JMH refuses an option given
# twice. A user's -p replaces the script's -p of the same parameter; -prof adds a profiler (the
# same one is not given twice).
# jmh_user_keys USER_ARGS...: the options the user set, into $user_keys (" -f -p:depth -prof:gc ").
jmh_user_keys() {
  user_keys=" "
  local args=("$@") i
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
      -p) user_keys+="-p:${args[i+1]%%=*} "; i=$((i + 1)) ;;
      -prof) user_keys+="-prof:${args[i+1]} "; i=$((i + 1)) ;;
      -*) user_keys+="${args[i]} " ;;
    esac
  done
}
# merge LIST...: the items of the named arrays, less the options in $user_keys, into $merged.
merge() {
  merged=()
  local list item key i items
  for list in "$@"; do
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
}

# JSON string and number values for machine_facts: empty or not a number becomes null.
json_str() { if [ -n "$1" ]; then printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; else printf null; fi; }
json_num() { if [[ "$1" =~ ^[0-9]+$ ]]; then printf '%s' "$1"; else printf null; fi; }

# The machine the results come from, as JSON on standard output (no host name): the report reads
# it beside the results, never the machine that draws the report. A fact this system does not
# offer (no /proc) is null.
machine_facts() {
  local model="" logical="" cores="" mem="" os=""
  if [ -r /proc/cpuinfo ]; then
    model=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n1)
    # Physical cores: distinct (package, core) pairs; absent on some virtual machines and arches.
    cores=$(awk -F': *' '/^physical id/ { p = $2 } /^core id/ { c[p "/" $2] = 1 } END { n = 0; for (k in c) n++; if (n) print n }' /proc/cpuinfo)
  fi
  logical=$(getconf _NPROCESSORS_ONLN 2>/dev/null || true)
  [ -r /proc/meminfo ] && mem=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
  [ -r /etc/os-release ] && os=$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-}")
  printf '{\n  "cpuModel": %s,\n  "logicalCpus": %s,\n  "physicalCores": %s,\n  "memoryKiB": %s,\n  "kernel": %s,\n  "arch": %s,\n  "os": %s\n}\n' \
    "$(json_str "$model")" "$(json_num "$logical")" "$(json_num "$cores")" "$(json_num "$mem")" \
    "$(json_str "$(uname -sr 2>/dev/null || true)")" "$(json_str "$(uname -m 2>/dev/null || true)")" "$(json_str "$os")"
}

# The commit the sources are at, with "(with local changes)" when a tracked file outside results/
# differs from it: the report that bench.sh redraws after every run does not count.
source_commit() {
  local c
  c=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no -- . ':(exclude)results' 2>/dev/null)" ] \
    && c="$c (with local changes)"
  printf '%s' "$c"
}
