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
PROFILES=(quick paper split iommu threaded full)

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
