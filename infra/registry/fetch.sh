#!/usr/bin/env bash
# Puts Apicurio Registry 3.3.3 (a Quarkus "fast-jar" application: quarkus-run.jar, lib/,
# quarkus/, app/) into a cache dir, from Maven Central through mvn: the test machines reach no
# other download site. The artifact is io.apicurio:apicurio-registry-app:3.3.3, classifier
# "all", type tar.gz (see pom.xml); the plain jar cannot run alone.
#
#   fetch.sh [DEST]
#
# DEST defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/gigstream/apicurio-registry-3.3.3. Prints
# DEST, the dir holding quarkus-run.jar (the only line on stdout, so `home=$(fetch.sh)` works);
# progress and errors go to stderr. Does nothing when DEST is already complete: a marker
# written last holds a hash of pom.xml, so a half-unpacked dir (interrupted run) or an edited
# pom fetches again. Safe from any cwd and from several processes at once (flock on DEST.lock).
# The first run downloads 158 MB into mvn's local repository (~/.m2) and unpacks 168 MB.
# MVN (env) overrides the mvn command.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
version=3.3.3
dest=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/gigstream/apicurio-registry-$version}
mvn=${MVN:-mvn}
marker=.gigstream-complete

if [[ ! -f $pom ]]; then
    echo "fetch.sh: $pom is missing; run the fetch.sh of a full gigstream checkout" >&2
    exit 1
fi
# The pom's content decides what is fetched: its hash in the marker detects a stale cache.
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

# Two test runs starting at once must not unpack into the same dir together.
exec 9>"$dest.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if complete; then # the other process finished it while we waited
    echo "$dest"
    exit 0
fi

# Unpack into a fresh dir beside DEST and swap it in, so DEST is never seen half-filled.
tmp=$(mktemp -d "$dest.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # mktemp makes it 0700; other users may run the registry from the same cache
echo "fetch.sh: fetching Apicurio Registry $version from Maven Central into $dest" >&2
start=$SECONDS
# -B: no colour codes or progress bars in CI logs. Only the tarball: it holds every jar.
if ! out=$("$mvn" -B -q -f "$pom" dependency:copy-dependencies -DexcludeTransitive=true \
    -DoutputDirectory="$tmp/download" 2>&1); then
    echo "$out" >&2
    echo "fetch.sh: mvn could not fetch apicurio-registry-app-$version-all.tar.gz (see above);" \
        "check that Maven Central is reachable (mvn's settings, proxy) and retry" >&2
    exit 1
fi
tarball=$tmp/download/apicurio-registry-app-$version-all.tar.gz
if [[ ! -f $tarball ]]; then
    echo "fetch.sh: mvn finished but $(basename "$tarball") is not in $tmp/download; check $pom" >&2
    exit 1
fi
mkdir "$tmp/app"
# --no-same-owner: the tarball's files belong to uid 1001; root would keep that otherwise.
tar -xzf "$tarball" -C "$tmp/app" --no-same-owner
rm -rf "$tmp/download" # mvn's local repository keeps a copy
# Sanity check: what start.sh runs must be there.
for f in quarkus-run.jar quarkus/quarkus-application.dat app/apicurio-registry-app-$version.jar; do
    if [[ ! -f $tmp/app/$f ]]; then
        echo "fetch.sh: $f is missing from $(basename "$tarball"); the artifact's layout changed?" >&2
        exit 1
    fi
done
echo "$want" >"$tmp/app/$marker"
rm -rf "$dest"
mv "$tmp/app" "$dest"
rm -rf "$tmp"
trap - EXIT
echo "fetch.sh: $(find "$dest" -name '*.jar' | wc -l) jars, $(du -sh "$dest" | cut -f1), in $((SECONDS - start))s" >&2
echo "$dest"
