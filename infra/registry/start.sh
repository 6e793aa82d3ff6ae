#!/usr/bin/env bash
# Starts Apicurio Registry 3.3.3 in the background for gigstream's tests: a real schema registry
# whose Confluent-compatible REST API (the one Confluent's clients, franz-go's sr and the Rust
# schema_registry_converter speak) is served at
#
#   http://127.0.0.1:PORT/apis/ccompat/v7
#
# That is the base URL to give every client (e.g. SchemaRegistryClient({'url': ...}),
# sr.URLs(...)): /subjects, /schemas/ids/{id}, /config, /compatibility/... hang under it.
#
#   start.sh DIR PORT
#
# DIR holds the log DIR/registry.log (appended) and the PID in DIR/registry.pid. Storage is
# in memory (H2, Apicurio's default): every start is an empty registry, ids start again at 1.
# Set REGISTRY_PERSIST=1 to keep the schemas in DIR/h2 across restarts instead.
# Listens on 127.0.0.1 only; Quarkus's management interface (health, metrics) on
# 127.0.0.1:PORT+1. Waits until GET /apis/ccompat/v7/subjects answers 200, then prints the PID.
# The files come from fetch.sh (Maven Central, cached after the first run).
#
# Settings that bring it closer to Confluent's registry (see README.md):
#   - DELETE of subjects and versions is allowed (apicurio.rest.deletion.*);
#   - a global BACKWARD compatibility rule, Confluent's default (REGISTRY_COMPATIBILITY);
#   - GET /subjects lists up to 100000 subjects (Apicurio's default cap is 1000).
#
# Environment (all optional):
#   START_TIMEOUT             seconds to wait for the registry (default 90)
#   REGISTRY_MANAGEMENT_PORT  port of the management interface (default PORT+1)
#   REGISTRY_HEAP_OPTS        heap flags (default "-Xms64m -Xmx512m")
#   REGISTRY_JVM_PERFORMANCE_OPTS  JIT/GC flags (default "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
#   REGISTRY_CDS              0: no AppCDS archive (default 1: REGISTRY_HOME.jsa, see below)
#   REGISTRY_OPTS             more JVM flags or -Dproperty=value settings, appended (a later
#                             -D wins), e.g. -Dapicurio.ccompat.legacy-id-mode.enabled=true
#   REGISTRY_COMPATIBILITY    the global compatibility rule (default BACKWARD; NONE for none)
#   REGISTRY_PERSIST          1: H2 database files in DIR/h2, kept across restarts
#   REGISTRY_LOG_LEVEL        root log level (default INFO; the access log is at INFO)
#   REGISTRY_HOME             dir of quarkus-run.jar (default: what fetch.sh prints)
#   JAVA                      the java command, 21 or later (default: $JAVA_HOME/bin/java if
#                             that is 21+, else /usr/lib/jvm/temurin-25-jdk-amd64, else java)
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 DIR PORT (see the comment at the top of $0 for the environment)" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$1
port=$2
timeout=${START_TIMEOUT:-90}
mport=${REGISTRY_MANAGEMENT_PORT:-$((port + 1))}
compat=${REGISTRY_COMPATIBILITY:-BACKWARD}
log_level=${REGISTRY_LOG_LEVEL:-INFO}

die() {
    echo "start.sh: $*" >&2
    exit 1
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535)); }
is_port "$port" || die "PORT must be a number from 1 to 65535, got '$port'"
is_port "$mport" || die "the management port must be a number from 1 to 65535, got '$mport' (REGISTRY_MANAGEMENT_PORT, or PORT+1)"
[[ $mport != "$port" ]] || die "PORT and REGISTRY_MANAGEMENT_PORT must differ (both $port)"
case $compat in
BACKWARD | BACKWARD_TRANSITIVE | FORWARD | FORWARD_TRANSITIVE | FULL | FULL_TRANSITIVE | NONE) ;;
*) die "REGISTRY_COMPATIBILITY must be BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE, got '$compat'" ;;
esac

java_major() {
    local v
    v=$("$1" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
    v=${v%%.*}
    [[ $v =~ ^[0-9]+$ ]] && echo "$v"
}
# Java 21+: Apicurio 3.3's classes are Java 21 bytecode (class file version 65).
if [[ -n ${JAVA:-} ]]; then
    java=$JAVA
elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]] && (($(java_major "$JAVA_HOME/bin/java" || echo 0) >= 21)); then
    java=$JAVA_HOME/bin/java
elif [[ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]]; then
    java=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
else
    java=java
fi
command -v "$java" >/dev/null 2>&1 ||
    die "$java not found; Apicurio Registry 3 needs Java 21 or later (set JAVA or JAVA_HOME)"
major=$(java_major "$java" || true)
if [[ -z $major ]] || ((major < 21)); then
    die "Apicurio Registry 3 needs Java 21 or later; $java is ${major:-of an unknown version} (set JAVA or JAVA_HOME)"
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile=$dir/registry.pid
# This start's mark on the command line: stop.sh and the check below find their process by it.
mark=-Dgigstream.registry.dir=$dir
is_ours() {
    [[ $1 =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null &&
        tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$mark"
}
if [[ -f $pidfile ]]; then
    old=$(cat "$pidfile")
    if is_ours "$old"; then
        die "the registry already runs from $dir (pid $old); stop it first: $here/stop.sh $dir"
    fi
    rm -f "$pidfile" # left by a registry that died
fi

# Something already answering on a port would make Quarkus exit after a slow JVM start; say so
# at once instead.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$mport"; do
    if port_busy "$p"; then
        die "127.0.0.1:$p is already in use (another registry? stop it with stop.sh DIR); choose" \
            "other ports (PORT, REGISTRY_MANAGEMENT_PORT)"
    fi
done

if [[ -n ${REGISTRY_HOME:-} ]]; then
    home=$REGISTRY_HOME
else
    home=$("$here/fetch.sh") || die "could not get Apicurio Registry (fetch.sh failed, see above)"
fi
[[ -f $home/quarkus-run.jar ]] || die "no quarkus-run.jar in $home; run $here/fetch.sh (or fix REGISTRY_HOME)"

props=(
    "$mark"
    -Dquarkus.http.host=127.0.0.1
    -Dquarkus.http.port="$port"
    -Dquarkus.management.host=127.0.0.1
    -Dquarkus.management.port="$mport"
    -Dquarkus.log.level="$log_level"
    # Confluent's registry deletes subjects and versions (soft, then ?permanent=true). Apicurio
    # 3's own REST API refuses deletes unless these are on; its ccompat API (3.3.3) deleted
    # without them when tried, but they keep it so across versions.
    -Dapicurio.rest.deletion.artifact.enabled=true
    -Dapicurio.rest.deletion.artifact-version.enabled=true
    -Dapicurio.rest.deletion.group.enabled=true
    -Dapicurio.ccompat.max-subjects=100000
    # Nothing of it is used here; no background traffic to a collector that does not exist.
    -Dquarkus.otel.sdk.disabled=true
    # Schemas are written to the local dir when snapshotting; keep that in DIR, not /tmp.
    -Dapicurio.storage.snapshot.location="$dir"
)
if [[ $compat != NONE ]]; then
    props+=(-Dapicurio.rules.global.compatibility="$compat")
fi
if [[ ${REGISTRY_PERSIST:-0} == 1 ]]; then
    mkdir -p "$dir/h2"
    props+=(-Dapicurio.datasource.url="jdbc:h2:file:$dir/h2/registry")
fi

read -r -a heap <<<"${REGISTRY_HEAP_OPTS:--Xms64m -Xmx512m}"
# C1 only and the serial GC: a test registry serves a few requests a second, and on a busy
# 2-core machine full JIT compilation costs more start time (9 s instead of 5.5 s) than it
# ever gains back.
read -r -a perf <<<"${REGISTRY_JVM_PERFORMANCE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"
read -r -a extra <<<"${REGISTRY_OPTS:-}"
# A registry out of memory dies rather than limps on.
jvm=("${perf[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true)
# AppCDS (class data sharing): a start maps REGISTRY_HOME.jsa, an archive of the classes a
# registry loads (78 MB), when there is one: about 4 s to ready instead of 6.5 s. Without one,
# the JVM writes DIR/registry.jsa at its exit and stop.sh moves it beside REGISTRY_HOME (copied
# under a temporary name, then renamed: concurrent starts never see half a file). The JVM
# checks the archive and ignores it when the JDK or the jars differ. Skipped when that dir is
# not writable and no archive is there.
jsa=$home.jsa
rm -f "$dir/registry.jsa" "$dir/registry.jsa-target"
if [[ ${REGISTRY_CDS:-1} == 1 ]]; then
    if [[ -f $jsa ]]; then
        jvm+=(-XX:SharedArchiveFile="$jsa")
    elif [[ -w $(dirname "$home") ]]; then
        jvm+=(-XX:ArchiveClassesAtExit="$dir/registry.jsa")
        echo "$jsa" >"$dir/registry.jsa-target"
    fi
fi

cd "$dir"
echo "==== start.sh $(date -u +%FT%TZ): http://127.0.0.1:$port/apis/ccompat/v7, management $mport, $java (Java $major)" >>registry.log
nohup "$java" "${heap[@]}" "${jvm[@]}" "${props[@]}" "${extra[@]}" -jar "$home/quarkus-run.jar" \
    >>registry.log 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"

# GET PATH on 127.0.0.1:PORT; prints the HTTP status code (plain bash: no curl needed).
status() {
    (
        exec 2>/dev/null
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nAccept: application/json\r\n\r\n' "$1" "$port" >&3
        timeout 2 head -n 1 <&3 | awk '{print $2}'
    )
}

deadline=$((SECONDS + timeout))
until [[ $(status /apis/ccompat/v7/subjects || true) == 200 ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start.sh: the registry exited during start; last lines of $dir/registry.log:" >&2
        awk '/^==== start.sh /{n=0} {l[n++]=$0} END{for(i=(n>25?n-25:0);i<n;i++) print l[i]}' registry.log >&2
        rm -f "$pidfile"
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "start.sh: the registry on 127.0.0.1:$port does not answer GET /apis/ccompat/v7/subjects" \
            "with 200 after ${timeout}s; see $dir/registry.log (a slow machine: raise START_TIMEOUT);" \
            "stopping it" >&2
        "$here/stop.sh" "$dir" >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "$pid"
