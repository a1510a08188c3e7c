#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads outside input (crates/fuzz), with
# libFuzzer on the stable toolchain: the runner (crates/fuzz/libfuzzer) is built with LLVM's
# SanitizerCoverage through stable `-C` flags, so neither nightly nor cargo-fuzz is needed.
# Called by tests/long.sh; documented in docs/PERFORMANCE.md ("Long runs").
#
#   bash tests/fuzz.sh                     # every target, HARBOUR_FUZZ_SECONDS each
#   bash tests/fuzz.sh key_file answers    # some targets
#
#   HARBOUR_FUZZ_SECONDS=180   seconds per target
#
# The corpus grows in target/libfuzzer/corpus/<target> (kept between runs); a crash is written to
# target/libfuzzer/artifacts/<target>/ and fails the run: turn it into a named test in
# crates/fuzz/tests/regressions.rs with its fix. Reproduce one with
#   HARBOUR_FUZZ_TARGET=<target> target/libfuzzer/x86_64-unknown-linux-gnu/release/harbour-libfuzzer <file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${HARBOUR_FUZZ_SECONDS:-180}
triple=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=$PWD/target/libfuzzer
export CARGO_TERM_COLOR=never
# Instrument for coverage: edge counters, the PC table and comparison tracing are what
# libFuzzer's guidance reads. --target keeps build scripts uninstrumented.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"

# The runner is a workspace of its own: same versions as the project's.
cp Cargo.lock crates/fuzz/libfuzzer/Cargo.lock
cargo build --release --manifest-path crates/fuzz/libfuzzer/Cargo.toml --target "$triple"
runner=$CARGO_TARGET_DIR/$triple/release/harbour-libfuzzer

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^ *name: "\([a-z_]*\)",$/\1/p' crates/fuzz/src/lib.rs)
fi

failed=()
for target in "${targets[@]}"; do
    corpus=target/libfuzzer/corpus/$target
    artifacts=target/libfuzzer/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    HARBOUR_FUZZ_TARGET=$target HARBOUR_FUZZ_SEEDS_TO=$corpus "$runner"
    printf '\n== fuzz %s: %s s\n' "$target" "$seconds"
    log=target/libfuzzer/$target.log
    # 2 GiB of resident memory or 10 s on one input is a failure (an unbounded allocation or
    # a hang); inputs up to 256 KiB.
    if HARBOUR_FUZZ_TARGET=$target "$runner" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -timeout=10 -max_len=262144 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" || true
        echo "corpus: $(ls "$corpus" | wc -l) inputs; crashes: 0"
    else
        tail -40 "$log"
        echo "fuzz $target FAILED: see $log and $artifacts/"
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crash"
