#!/usr/bin/env bash
# Issue 10's attacks on Harbour as it was before the trust work, to show that they worked there.
#
#   bash tests/attacks_before.sh
#
# What it proves: the tests in tests/before/attacks.rs make the issue's six attacks of a
# malicious relay (a grant of its own key for an existing case, a case planted under a nurse's
# name, events replayed in a laptop's own device id and next number, an older signed directory,
# drops and reorders, an oversized page) and assert what a laptop should do. This script runs them
# on commit 9233082, the tip before issue 10's first commit (2c5fcec), where an attack that works
# makes its test fail. It exits 0 when each test ends as docs/SECURITY.md ("Before and after")
# says it does there: failed for the four attacks that worked, passed for the two that 9233082
# already withstood (an older directory, drops and reorders). The tests on main that make the same
# attacks, and pass, are named in that section.
#
# How: a temporary git worktree of 9233082 under ${TMPDIR:-/tmp}; attacks.rs copied into it as
# crates/sync/tests/attacks.rs (cargo finds an integration test there by itself: no Cargo.toml or
# mod line to patch); each test run alone; the worktree removed at the end. The old tree builds in
# its own target directory, CARGO_TARGET_DIR, by default target/before in this repository (a first
# build takes several minutes). Not part of CI: it builds a tree of the past.
#
# Environment: HARBOUR_BEFORE_COMMIT (default 9233082), CARGO_TARGET_DIR, HARBOUR_BEFORE_SCHEDULES
# (drops and reorders: how many schedules, default 24).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="${HARBOUR_BEFORE_COMMIT:-9233082}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/before}"
export CARGO_TERM_COLOR=never
export CARGO_PROFILE_DEV_DEBUG=0

# Each test, and how it ends on 9233082: fail (the attack works there) or pass.
expected=(
    "a_grant_injected_for_an_existing_case_cannot_take_it_over fail"
    "a_planted_case_with_forged_authorship_is_not_accepted fail"
    "events_bearing_this_laptops_own_id_are_refused_and_its_next_change_is_kept fail"
    "an_older_signed_directory_is_not_taken_back pass"
    "no_schedule_of_drops_and_reorders_makes_honest_laptops_disagree_or_lose_an_event pass"
    "a_page_holding_an_oversized_event_is_refused fail"
)

work="$(mktemp -d "${TMPDIR:-/tmp}/harbour-before.XXXXXX")"
tree="$work/tree"
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    git -C "$repo" worktree remove --force "$tree" >/dev/null 2>&1 || true
    rm -rf "$work"
    git -C "$repo" worktree prune
}
trap cleanup EXIT

git -C "$repo" worktree add --quiet --detach "$tree" "$commit"
mkdir -p "$tree/crates/sync/tests"
cp "$repo/tests/before/attacks.rs" "$tree/crates/sync/tests/attacks.rs"

echo "== Building the attacks against $(git -C "$tree" log -1 --format='%h %cs') in $CARGO_TARGET_DIR"
cd "$tree"
if ! nice -n 10 cargo test --quiet -p harbour-sync --test attacks --no-run; then
    echo "attacks_before.sh: the attacks did not build against $commit" >&2
    exit 1
fi

# The tests the file holds must be the ones listed above.
listed="$(cargo test --quiet -p harbour-sync --test attacks -- --list 2>/dev/null | sed -n 's/: test$//p' | sort)"
wanted="$(for entry in "${expected[@]}"; do echo "${entry% *}"; done | sort)"
if [ "$listed" != "$wanted" ]; then
    echo "attacks_before.sh: the tests in tests/before/attacks.rs are not the ones this script expects" >&2
    diff <(echo "$wanted") <(echo "$listed") >&2 || true
    exit 1
fi

status=0
for entry in "${expected[@]}"; do
    name="${entry% *}"
    want="${entry##* }"
    log="$work/$name.log"
    if nice -n 10 cargo test --quiet -p harbour-sync --test attacks -- --exact "$name" --nocapture \
        --test-threads=1 >"$log" 2>&1; then
        got=pass
    else
        got=fail
    fi
    if [ "$got" = "$want" ]; then verdict="as expected"; else verdict="NOT as expected (expected $want)"; fi
    case "$got" in pass) word=passed ;; *) word=FAILED ;; esac
    echo
    echo "$name: $word on $commit, $verdict"
    grep -E '^observed: ' "$log" | sed 's/^/    /' || true
    # The assertion that failed: the line after "panicked at".
    grep -A1 -E "panicked at" "$log" | grep -vE "panicked at|^--$" | sed 's/^/    assertion: /' || true
    if [ "$got" != "$want" ]; then
        status=1
    fi
done

echo
if [ "$status" -eq 0 ]; then
    echo "Every attack test ended on $commit as expected."
else
    echo "Some attack test did not end on $commit as expected." >&2
fi
exit "$status"
