#!/usr/bin/env bash
# Runs every Fuzz* target in the module for FUZZTIME each (default 5s) and
# prints the executions per target. A target fails on a real finding: a
# failing input written, a panic, a failed check. Go 1.26's fuzz coordinator
# can also end a healthy run with a bare "context deadline exceeded" at the
# -fuzztime boundary when the machine is loaded (golang/go#75804, fixed in Go
# 1.27); such a run found nothing, so it is run once more, and a second such
# end fails like any other.
#
# Each run fuzzes from the committed seeds (testdata/fuzz) with a corpus
# cache of its own, removed at the end: the machine's shared cache under
# GOCACHE keeps what earlier runs found, and replaying a large one can take
# a target's whole FUZZTIME. The machine's cache is left as it was.
set -euo pipefail
go=${GO:-go}
fuzztime=${FUZZTIME:-5s}
cachedir=$(mktemp -d "${TMPDIR:-/tmp}/signalr-fuzzcache.XXXXXX")
trap 'rm -rf "$cachedir"' EXIT

deadline_race_only() {
  grep -q 'context deadline exceeded' <<<"$1" &&
    ! grep -Eq 'Failing input written|panic:|_test\.go:[0-9]+:' <<<"$1"
}

for pkg in $($go list ./...); do
  for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    for try in 1 2; do
      if out=$($go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" \
        -args -test.fuzzcachedir="$cachedir/$target" 2>&1); then
        break
      fi
      if [ "$try" = 1 ] && deadline_race_only "$out"; then
        echo "fuzz $pkg $target: ended by the fuzztime deadline race (golang/go#75804) with nothing found; running it again"
        continue
      fi
      echo "$out"
      exit 1
    done
    execs=$(grep -o 'execs: [0-9]*' <<<"$out" | tail -1 || true)
    echo "fuzz $pkg $target: ${execs:-execs: ?} in $fuzztime"
  done
done
