#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time on the stable toolchain.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, all targets)
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, -Cllvm-args=...); RUSTC_BOOTSTRAP=1
# lets the stable compiler accept them. Builds go to fuzz/target (never the main crate's
# target/). New corpus entries go to fuzz/corpus/<target>/ (ignored), seeded from
# fuzz/corpus_seed/<target>/; crashes are written to fuzz/artifacts/<target>/ and make the
# script exit non-zero, after every target has run.
set -euo pipefail

cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(geojson_geometry demand_csv)
fi
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version

triple="$(rustc -vV | sed -n 's/^host: //p')"
echo "== building ${targets[*]} (release + debug assertions + ASan, $triple)"
for t in "${targets[@]}"; do
    cargo fuzz build --target "$triple" "$t"
done

failed=()
for t in "${targets[@]}"; do
    bin="target/$triple/release/$t"
    mkdir -p "corpus/$t" "artifacts/$t"
    dict=()
    [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
    log="artifacts/$t/last-run.log"
    echo "== $t for ${secs}s (log: fuzz/$log)"
    start=$(date +%s)
    set +e
    # -timeout: one input taking > 10 s is reported as a hang (a crash); -rss_limit_mb: as OOM.
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        "${dict[@]}" -artifact_prefix="artifacts/$t/" "corpus/$t" "corpus_seed/$t" >"$log" 2>&1
    rc=$?
    set -e
    end=$(date +%s)
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )' "$log" || true
    echo "   corpus/$t: $(find "corpus/$t" -type f | wc -l) inputs; $((end - start))s; exit $rc"
    if [ $rc -ne 0 ]; then
        failed+=("$t")
        echo "!! $t CRASHED (exit $rc):"
        grep -E "panicked at|assertion|left:|right:|SUMMARY|Test unit written" "$log" | head -20 || true
    fi
done

# Known issues (known_issues/<target>/, see README.md) are tolerated by the targets unless
# TERRITORY_FUZZ_STRICT=1; replay them strictly to say which are still there. Informational.
for t in "${targets[@]}"; do
    [ -d "known_issues/$t" ] || continue
    for f in "known_issues/$t"/*; do
        if TERRITORY_FUZZ_STRICT=1 "target/$triple/release/$t" "$f" >/dev/null 2>&1; then
            echo "known issue FIXED (remove its tolerance and this file): fuzz/$f"
        else
            echo "known issue still present: fuzz/$f"
        fi
    done
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/crash-*; replay: RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>)"
    exit 1
fi
echo "OK: ${targets[*]} ran ${secs}s each without a crash"
