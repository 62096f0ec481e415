#!/bin/sh
# fuzz/run.sh - fuzz the snapshot reader with libFuzzer.
#
#   fuzz/run.sh [SECONDS]     build, run a campaign (default 600 s, one job),
#                             then merge the inputs that add coverage into
#                             fuzz/corpus/
#   fuzz/run.sh --minimize    rebuild fuzz/corpus/ as a minimal set with the
#                             same coverage (the seed-* files always stay)
#
# Needs clang (apt-get install -y clang).  Builds into build/fuzz/; crashes
# land there as crash-* / leak-* / timeout-* (replay one with
# build/fuzz/fuzz_snapfile FILE, or with gcc: see tests/test_snapfile_fuzz.py).
# Without clang the corpus still runs under gcc via fuzz/standalone.c.
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-clang}
OUT=build/fuzz
ENGINE=src/heapwatch/_engine
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run.sh: $CC not found (apt-get install -y clang)" >&2
    exit 2
fi
mkdir -p "$OUT"
"$CC" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ENGINE" fuzz/fuzz_snapfile.c "$ENGINE/snapfile.c" "$ENGINE/graph.c" \
    "$ENGINE/strtab.c" "$ENGINE/bigmem.c" -o "$OUT/fuzz_snapfile"

# Refuse one malloc above 64 MB: inputs are at most 64 KB, and the reader
# must never allocate more than a small multiple of its input.
OPTS="-malloc_limit_mb=64 -rss_limit_mb=2048 -max_len=65536 -timeout=20
      -use_value_profile=1 -dict=fuzz/snapfile.dict -artifact_prefix=$OUT/
      -print_final_stats=1"
# Merging without -use_value_profile keeps the inputs that add code
# coverage, not every new comparison value: a corpus of a few hundred files.
MERGE_OPTS="-max_len=65536 -timeout=20 -malloc_limit_mb=64 -rss_limit_mb=2048"

if [ "${1:-}" = "--minimize" ]; then
    # The seeds first: a merge keeps what its first directory holds and
    # adds only the inputs that bring coverage beyond it.
    rm -rf "$OUT/min" && mkdir -p "$OUT/min"
    cp fuzz/corpus/seed-* "$OUT/min/"
    # shellcheck disable=SC2086
    "$OUT/fuzz_snapfile" $MERGE_OPTS -merge=1 "$OUT/min" fuzz/corpus
    find fuzz/corpus -type f ! -name 'seed-*' -delete
    find "$OUT/min" -type f ! -name 'seed-*' -exec cp {} fuzz/corpus/ \;
    echo "run.sh: corpus minimized to $(ls fuzz/corpus | wc -l) files, $(du -sh fuzz/corpus | cut -f1)"
    exit 0
fi

SECONDS_=${1:-600}
rm -rf "$OUT/work" && mkdir -p "$OUT/work"
# New inputs go to the first directory; fuzz/corpus is only read.  One
# process (no -jobs): the machine is shared.
echo "run.sh: fuzzing for $SECONDS_ s, log in $OUT/campaign.log"
rc=0
# shellcheck disable=SC2086
"$OUT/fuzz_snapfile" $OPTS -max_total_time="$SECONDS_" "$OUT/work" fuzz/corpus \
    >"$OUT/campaign.log" 2>&1 || rc=$?
grep '^stat::\|^Done\|^#[0-9]*[[:space:]]*DONE' "$OUT/campaign.log" || true
if [ "$rc" -ne 0 ]; then
    tail -n 40 "$OUT/campaign.log" >&2
    echo "run.sh: the campaign found a bug (exit $rc); see $OUT/campaign.log and $OUT/crash-*" >&2
    exit 1
fi
# shellcheck disable=SC2086
"$OUT/fuzz_snapfile" $MERGE_OPTS -merge=1 fuzz/corpus "$OUT/work"
echo "run.sh: corpus now $(ls fuzz/corpus | wc -l) files, $(du -sh fuzz/corpus | cut -f1)"
