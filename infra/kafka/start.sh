#!/usr/bin/env bash
# Starts Apache Kafka 4.4.0 in the background for gigstream's tests: one KRaft node that is
# broker and controller at once, on 127.0.0.1 only.
#
#   start.sh DIR PORT
#
# DIR holds everything: server.properties (written anew at each start), the data (DIR/data,
# formatted with Kafka's StorageTool on the first start only, kept across restarts), the log
# DIR/kafka.log (appended) and the PID in DIR/kafka.pid. Put DIR on tmpfs (/dev/shm): the
# controller fsyncs its metadata log at every change (each topic created or deleted), which a
# slow disk turns into delays under load; on tmpfs an fsync is free.
# Clients use PLAINTEXT://127.0.0.1:PORT. The controller listens on 127.0.0.1:PORT+1 (the
# quorum is static, controller.quorum.voters, so that port may change between restarts).
# Waits until the broker answers a Kafka Metadata request listing itself (that is, it is
# unfenced and can host partitions), then prints the PID. The jars come from fetch.sh (Maven
# Central, cached after the first run).
#
# Environment (all optional):
#   START_TIMEOUT           seconds to wait for the broker (default 60)
#   KAFKA_CONTROLLER_PORT   controller listener port (default PORT+1)
#   KAFKA_HEAP_OPTS         heap flags (default "-Xms128m -Xmx768m")
#   KAFKA_JVM_PERFORMANCE_OPTS  GC flags, replacing the defaults (G1, as Kafka's own scripts)
#   KAFKA_OPTS              more JVM flags, appended (e.g. -XX:TieredStopAtLevel=1)
#   KAFKA_LOG_LEVEL         root log level of DIR/kafka.log (default INFO)
#   KAFKA_EXTRA_PROPERTIES  a file appended to server.properties (a later key wins)
#   KAFKA_CLUSTER_ID        cluster id at format time (default: random)
#   KAFKA_LIBS              dir of the Kafka jars (default: what fetch.sh prints)
#   JAVA                    the java command (default $JAVA_HOME/bin/java, else java); 17+
# SASL_SSL with SCRAM-SHA-512 (what services/cli/tests/it/security.rs needs):
#   KAFKA_SASL_SSL_PORT     adds listener SASL_SSL://127.0.0.1:PORT requiring SCRAM-SHA-512
#   KAFKA_SSL_CERT          PEM file: the server certificate (then any intermediate CAs)
#   KAFKA_SSL_KEY           PEM file: its private key, unencrypted (PKCS#8; PKCS#1 is converted
#                           with openssl) or encrypted PKCS#8 with KAFKA_SSL_KEY_PASSWORD
#   KAFKA_SCRAM_USER        SCRAM-SHA-512 user created when DIR is formatted (first start)
#   KAFKA_SCRAM_PASSWORD    its password
# The PLAINTEXT listener stays (brokers and controller talk over it, unauthenticated).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 DIR PORT (see the comment at the top of $0 for the environment)" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$1
port=$2
timeout=${START_TIMEOUT:-60}
cport=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
sport=${KAFKA_SASL_SSL_PORT:-}
log_level=${KAFKA_LOG_LEVEL:-INFO}

die() {
    echo "start.sh: $*" >&2
    exit 1
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535)); }
is_port "$port" || die "PORT must be a number from 1 to 65535, got '$port'"
is_port "$cport" || die "the controller port must be a number from 1 to 65535, got '$cport' (KAFKA_CONTROLLER_PORT, or PORT+1)"
if [[ -n $sport ]]; then
    is_port "$sport" || die "KAFKA_SASL_SSL_PORT must be a number from 1 to 65535, got '$sport'"
fi
if [[ $cport == "$port" || $sport == "$port" || $sport == "$cport" ]]; then
    die "PORT ($port), the controller port ($cport) and KAFKA_SASL_SSL_PORT (${sport:-none}) must differ"
fi

# Java 17+: Kafka 4 brokers refuse older ones.
if [[ -n ${JAVA:-} ]]; then
    java=$JAVA
elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    java=$JAVA_HOME/bin/java
else
    java=java
fi
command -v "$java" >/dev/null 2>&1 ||
    die "$java not found; install Java 17 or later (apt-get install openjdk-17-jre-headless) or set JAVA"
java_major=$("$java" -XshowSettings:properties -version 2>&1 |
    awk -F' = ' '/java.specification.version/ {print $2}')
if ! [[ ${java_major%%.*} =~ ^[0-9]+$ ]] || ((${java_major%%.*} < 17)); then
    die "Kafka 4 needs Java 17 or later; $java is ${java_major:-of an unknown version} (set JAVA or JAVA_HOME)"
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd) # server.properties needs absolute paths
pidfile=$dir/kafka.pid
if [[ -f $pidfile ]]; then
    old=$(cat "$pidfile")
    # The cmdline check keeps a recycled PID of another program from blocking the start.
    if [[ $old =~ ^[0-9]+$ ]] && kill -0 "$old" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
        die "Kafka already runs from $dir (pid $old); stop it first: $here/stop.sh $dir"
    fi
    rm -f "$pidfile" # left by a broker that died
fi

# The SASL_SSL listener's settings, checked before anything is written.
sasl_props=""
if [[ -n $sport ]]; then
    [[ -n ${KAFKA_SSL_CERT:-} && -n ${KAFKA_SSL_KEY:-} ]] ||
        die "KAFKA_SASL_SSL_PORT needs KAFKA_SSL_CERT and KAFKA_SSL_KEY (PEM files of the server certificate and key)"
    [[ -r $KAFKA_SSL_CERT ]] || die "KAFKA_SSL_CERT: cannot read $KAFKA_SSL_CERT"
    [[ -r $KAFKA_SSL_KEY ]] || die "KAFKA_SSL_KEY: cannot read $KAFKA_SSL_KEY"
    grep -q -- '-----BEGIN CERTIFICATE-----' "$KAFKA_SSL_CERT" ||
        die "KAFKA_SSL_CERT: $KAFKA_SSL_CERT holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    key_pem=$(cat "$KAFKA_SSL_KEY")
    key_password=${KAFKA_SSL_KEY_PASSWORD:-}
    if grep -q -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' <<<"$key_pem"; then
        [[ -n $key_password ]] ||
            die "KAFKA_SSL_KEY: $KAFKA_SSL_KEY is encrypted; set KAFKA_SSL_KEY_PASSWORD or give an unencrypted key"
    elif grep -q -E -- '-----BEGIN (RSA|EC) PRIVATE KEY-----' <<<"$key_pem"; then
        # Kafka's PEM keystore reads PKCS#8 only; `openssl genrsa` and old OpenSSL write PKCS#1.
        command -v openssl >/dev/null 2>&1 ||
            die "KAFKA_SSL_KEY: $KAFKA_SSL_KEY is PKCS#1 and Kafka reads PKCS#8 only; install openssl (to convert it) or convert it yourself: openssl pkcs8 -topk8 -nocrypt"
        key_pem=$(openssl pkcs8 -topk8 -nocrypt -in "$KAFKA_SSL_KEY") ||
            die "KAFKA_SSL_KEY: openssl could not convert $KAFKA_SSL_KEY to PKCS#8"
    elif ! grep -q -- '-----BEGIN PRIVATE KEY-----' <<<"$key_pem"; then
        die "KAFKA_SSL_KEY: $KAFKA_SSL_KEY holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
    fi
    # Inline PEM values (ssl.keystore.key/.certificate.chain): a PEM keystore *file*
    # (ssl.keystore.location) is refused by Kafka unless the key is encrypted. In a properties
    # file "\n" is a newline, so the PEM text stays exact on one line.
    pem_line() { awk '{ printf "%s\\n", $0 }'; }
    sasl_props="
# SASL_SSL for clients: TLS with the given PEM certificate, then SCRAM-SHA-512 (users are
# created at format time: start.sh KAFKA_SCRAM_USER/KAFKA_SCRAM_PASSWORD).
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.client.auth=none
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.certificate.chain=$(pem_line <"$KAFKA_SSL_CERT")
listener.name.sasl_ssl.ssl.keystore.key=$(pem_line <<<"$key_pem")"
    if [[ -n $key_password ]]; then
        sasl_props+="
listener.name.sasl_ssl.ssl.key.password=$key_password"
    fi
fi
scram_user=${KAFKA_SCRAM_USER:-}
scram_password=${KAFKA_SCRAM_PASSWORD:-}
if [[ -n $scram_user || -n $scram_password ]]; then
    [[ -n $scram_user && -n $scram_password ]] ||
        die "KAFKA_SCRAM_USER and KAFKA_SCRAM_PASSWORD go together; set both or neither"
    # StorageTool parses 'SCRAM-SHA-512=[name=U,password="P"]': these would break it.
    [[ $scram_user =~ ^[A-Za-z0-9._@-]+$ ]] ||
        die "KAFKA_SCRAM_USER may hold letters, digits and . _ @ - only, got '$scram_user'"
    # StorageTool splits the list at every comma, quoted or not (4.4).
    [[ $scram_password != *[,\"\\]* ]] ||
        die "KAFKA_SCRAM_PASSWORD must not contain a comma, \" or \\ (Kafka's StorageTool cannot take them)"
fi

# Something already answering on a port would make the broker exit after a slow JVM start; say
# so at once instead.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$cport" $sport; do
    if port_busy "$p"; then
        die "127.0.0.1:$p is already in use (another broker? stop it with stop.sh DIR); choose" \
            "other ports (PORT, KAFKA_CONTROLLER_PORT, KAFKA_SASL_SSL_PORT)"
    fi
done

if [[ -n ${KAFKA_LIBS:-} ]]; then
    libs=$KAFKA_LIBS
else
    libs=$("$here/fetch.sh") || die "could not get the Kafka jars (fetch.sh failed, see above)"
fi
[[ -f $libs/kafka_2.13-4.4.0.jar ]] ||
    die "no kafka_2.13-4.4.0.jar in $libs; run $here/fetch.sh (or fix KAFKA_LIBS)"

if [[ -n ${KAFKA_EXTRA_PROPERTIES:-} && ! -r $KAFKA_EXTRA_PROPERTIES ]]; then
    die "KAFKA_EXTRA_PROPERTIES: cannot read $KAFKA_EXTRA_PROPERTIES"
fi

listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
advertised="PLAINTEXT://127.0.0.1:$port"
protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
if [[ -n $sport ]]; then
    listeners+=",SASL_SSL://127.0.0.1:$sport"
    advertised+=",SASL_SSL://127.0.0.1:$sport"
    protocols+=",SASL_SSL:SASL_SSL"
fi

# 0600: it may hold the TLS private key.
(
    umask 077
    cat >"$dir/server.properties" <<EOF
# Written by infra/kafka/start.sh at each start; edits are lost (use KAFKA_EXTRA_PROPERTIES).
process.roles=broker,controller
node.id=1
# A static quorum of this one node: unlike a dynamic one (--standalone) it keeps no controller
# address in the data, so the controller port may change between restarts.
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
log.dirs=$dir/data

# One broker: every internal topic with one replica.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer partitions of the internal topics than the default 50: faster to create, fewer files.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=4
share.coordinator.state.topic.num.partitions=4

# gigstream creates its topics itself (ensure_topics, with a checked partition count); a topic
# created by a producer's metadata request would have 1 partition and hide a missing one.
auto.create.topics.enable=false

# Groups: the first rebalance at once; sessions as short as 1 s allowed (the default floor is 6 s,
# and the tests use 3 s). group.consumer.* is the KIP-848 protocol (librdkafka uses "classic").
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.consumer.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=500

# Test data has fixed, old timestamps: never delete by age (nor by size), and accept record
# timestamps in the future too (Kafka 4's default refuses more than 1 h ahead).
log.retention.ms=-1
log.retention.bytes=-1
log.message.timestamp.after.max.ms=9223372036854775807
# Small files on tmpfs: index files are allocated at their max size (sparse, but mapped).
log.segment.bytes=16777216
log.index.size.max.bytes=1048576
log.preallocate=false
offsets.topic.segment.bytes=16777216
# The cleaner (compacts __consumer_offsets) reserves this much heap; the default is 128 MiB.
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.threads=1

# A shared 2-core machine: fewer threads than the defaults (3 network, 8 io, 10 background).
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
$sasl_props
EOF
    if [[ -n ${KAFKA_EXTRA_PROPERTIES:-} ]]; then
        printf '\n# From KAFKA_EXTRA_PROPERTIES=%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$dir/server.properties"
        cat "$KAFKA_EXTRA_PROPERTIES" >>"$dir/server.properties"
    fi
)

log4j=(-Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.log.level="$log_level")
cd "$dir"

# Format on the first start only: formatting writes the cluster id and the initial metadata
# (the SCRAM users among them), and refuses a formatted dir.
if [[ ! -f $dir/data/meta.properties ]]; then
    # A random id per DIR: two test brokers side by side are told apart in logs and errors.
    cluster_id=${KAFKA_CLUSTER_ID:-$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')}
    args=(format --config "$dir/server.properties" --cluster-id "$cluster_id")
    if [[ -n $sport && -z $scram_user ]]; then
        echo "start.sh: warning: no KAFKA_SCRAM_USER: nobody can log in on the SASL_SSL listener" \
            "(users are created at this first start only)" >&2
    fi
    if [[ -n $scram_user ]]; then
        args+=(--add-scram "SCRAM-SHA-512=[name=$scram_user,password=\"$scram_password\"]")
    fi
    # C1 only and a small heap: the tool runs for a second, full JIT would only cost CPU.
    status=0
    out=$("$java" -Xmx256m -XX:TieredStopAtLevel=1 "${log4j[@]}" -cp "$libs/*" \
        kafka.tools.StorageTool "${args[@]}" 2>&1) || status=$?
    # The password shows in no output or file (the tool may echo its arguments).
    [[ -z $scram_password ]] || out=${out//"$scram_password"/<password>}
    printf '%s\n' "$out" >"$dir/format.log"
    if ((status != 0)); then
        printf '%s\n' "$out" >&2
        die "Kafka's StorageTool could not format $dir/data (see above, and $dir/format.log)"
    fi
    [[ -z $scram_user ]] || echo "$scram_user" >"$dir/scram-users"
elif [[ -n $scram_user ]] && ! grep -qx -- "$scram_user" "$dir/scram-users" 2>/dev/null; then
    die "SCRAM user $scram_user was not created: users are added only when DIR is formatted" \
        "(first start). Use a fresh DIR, or stop the broker and remove $dir"
fi

# The variables of Kafka's own scripts (kafka-run-class.sh), with the same performance
# defaults less GC logging; and a broker out of memory dies rather than limps on.
read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xms128m -Xmx768m}"
read -r -a perf <<<"${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}"
read -r -a extra_jvm <<<"${KAFKA_OPTS:-}"
jvm=("${perf[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dkafka.logs.dir="$dir")

echo "==== start.sh $(date -u +%FT%TZ): PLAINTEXT 127.0.0.1:$port, controller $cport${sport:+, SASL_SSL $sport}" >>kafka.log
nohup "$java" "${heap[@]}" "${jvm[@]}" "${extra_jvm[@]}" "${log4j[@]}" -cp "$libs/*" \
    kafka.Kafka "$dir/server.properties" >>kafka.log 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"

# Metadata v4 (request header v1): length 20, api key 3, version 4, correlation id 7, client id
# "ready", topics: empty array, allow_auto_topic_creation false. Kafka 4.4 still answers
# Metadata v0-v13 (KIP-896 removed old versions of Produce, Fetch, OffsetCommit and others, not
# of Metadata), but in v0 an empty array means "all topics": a probe that grows with every test
# topic. From v1 on it means none, and v4 states that nothing is to be created.
metadata='\x00\x00\x00\x14\x00\x03\x00\x04\x00\x00\x00\x07\x00\x05ready\x00\x00\x00\x00\x00'
# ApiVersions v0, which every broker answers: only to explain a timeout.
apiversions='\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x07\x00\x05ready'

# Sends request $1 to 127.0.0.1:PORT, prints the first $2 bytes of the answer in hex.
ask() {
    (
        exec 2>/dev/null
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        # shellcheck disable=SC2059 # the request is the format: printf turns \xNN into bytes
        printf "$1" >&3
        timeout 2 head -c "$2" <&3 | od -An -tx1 | tr -d ' \n'
    )
}

# Ready when the Metadata v4 answer (int32 length, int32 correlation id, int32 throttle time,
# then the broker array) lists a broker: fenced brokers are left out, and a topic can only be
# created once this one is unfenced.
ready() {
    local reply
    reply=$(ask "$metadata" 16) || return 1
    [[ ${#reply} -eq 32 && ${reply:8:8} == 00000007 && ${reply:24:8} != 00000000 ]] || return 1
    # The SASL_SSL listener opens together with the others; check it anyway.
    [[ -z $sport ]] || port_busy "$sport"
}

deadline=$((SECONDS + timeout))
until ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start.sh: Kafka exited during start; last lines of $dir/kafka.log:" >&2
        # Only this start's lines: the log is appended across restarts.
        awk '/^==== start.sh /{n=0} {l[n++]=$0} END{for(i=(n>25?n-25:0);i<n;i++) print l[i]}' kafka.log >&2
        rm -f "$pidfile"
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        reply=$(ask "$apiversions" 10 || true)
        if [[ ${reply:8:8} == 00000007 ]]; then
            why="it answers ApiVersions but its Metadata v4 answer lists no broker (still fenced?)"
        else
            why="it answers no Kafka request"
        fi
        echo "start.sh: Kafka on 127.0.0.1:$port is not ready after ${timeout}s: $why; see" \
            "$dir/kafka.log (a slow machine: raise START_TIMEOUT); stopping it" >&2
        "$here/stop.sh" "$dir" >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "$pid"
