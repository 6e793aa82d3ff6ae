#!/usr/bin/env bash
# Puts the jars of Apache Kafka 4.4.0 (broker, StorageTool, log4j2) into a cache dir, from Maven
# Central through mvn: the test machines reach no other download site.
#
#   fetch.sh [DEST]
#
# DEST defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/gigstream/kafka-4.4.0/libs. Prints DEST (the
# only line on stdout, so `libs=$(fetch.sh)` works); progress and errors go to stderr. Does
# nothing when DEST is already complete: a marker written last holds a hash of pom.xml, so a
# half-copied dir (interrupted run) or an edited pom fetches again. Safe from any cwd and from
# several processes at once (flock on DEST.lock).
# MVN (env) overrides the mvn command.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
version=4.4.0
dest=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/gigstream/kafka-$version/libs}
mvn=${MVN:-mvn}
marker=.gigstream-complete

if [[ ! -f $pom ]]; then
    echo "fetch.sh: $pom is missing; run the fetch.sh of a full gigstream checkout" >&2
    exit 1
fi
# The pom's content decides the jar set: its hash in the marker detects a stale cache.
want=$(sha256sum "$pom" | cut -d' ' -f1)

complete() {
    [[ -f $dest/$marker && $(cat "$dest/$marker") == "$want" ]]
}

if complete; then
    echo "$dest"
    exit 0
fi

if ! command -v "$mvn" >/dev/null 2>&1; then
    echo "fetch.sh: $mvn not found; install Maven (apt-get install maven) or set MVN" >&2
    exit 1
fi
mkdir -p "$(dirname "$dest")"

# Two test runs starting at once must not copy into the same dir together.
exec 9>"$dest.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if complete; then # the other process finished it while we waited
    echo "$dest"
    exit 0
fi

# Copy into a fresh dir beside DEST and swap it in, so DEST is never seen half-filled.
tmp=$(mktemp -d "$dest.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # mktemp makes it 0700; other users may run the broker from the same cache
echo "fetch.sh: fetching Kafka $version jars from Maven Central into $dest" >&2
start=$SECONDS
# -B: no colour codes or progress bars in CI logs; runtime scope: what `java` needs, no test jars.
if ! out=$("$mvn" -B -q -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1); then
    echo "$out" >&2
    echo "fetch.sh: mvn could not fetch the Kafka jars (see above); check that Maven Central is" \
        "reachable (mvn's settings, proxy) and retry" >&2
    exit 1
fi
# Sanity check: the two classes start.sh runs must be there.
if ! ls "$tmp"/kafka_2.13-"$version".jar >/dev/null 2>&1; then
    echo "fetch.sh: mvn finished but kafka_2.13-$version.jar is not in $tmp; check $pom" >&2
    exit 1
fi
echo "$want" >"$tmp/$marker"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "fetch.sh: $(find "$dest" -name '*.jar' | wc -l) jars, $(du -sh "$dest" | cut -f1), in $((SECONDS - start))s" >&2
echo "$dest"
