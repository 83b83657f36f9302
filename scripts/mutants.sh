#!/usr/bin/env bash
# Mutation check: each scripts/mutants/*.mutant is a small breaking change
# (a sed script on one file). Each is applied alone to a scratch copy of this
# checkout, the tests named with it run, and the result is reported: killed
# (some test failed, as it must) or SURVIVED (every test passed: a hole in
# the suite). The checkout itself is never changed.
#
#   bash scripts/mutants.sh [name ...]     (make mutants; names without .mutant)
#
# Tests run with COCOON_REQUIRE_ALL=1, so a missing tool fails the unmutated
# baseline instead of letting a mutant survive by a skip; tests that need
# Ollama need COCOON_OLLAMA (make mutants sets it). Prints a Markdown table;
# exits 1 when a mutant survived, did not apply or its baseline failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export COCOON_REQUIRE_ALL=1
GO=${GO:-go}

if [ $# -gt 0 ]; then
	mutants=()
	for n in "$@"; do mutants+=("scripts/mutants/${n%.mutant}.mutant"); done
else
	mutants=(scripts/mutants/*.mutant)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cocoon-mutants.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The scratch copy: this checkout's tracked and untracked, not ignored files
# (uncommitted edits included), so build outputs and caches stay out.
git ls-files -z --cached --others --exclude-standard |
	tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$work/"
# The TON sandbox's npm packages (make tonsandbox) are ignored; link them.
nm=internal/tonsandbox/node/node_modules
[ -d "$nm" ] && ln -s "$root/$nm" "$work/$nm"

# gotest PKG RUN LOG: the tests in the scratch copy; its status is theirs.
gotest() {
	# shellcheck disable=SC2086 # ENV is a list of NAME=value words
	(cd "$work" && env ${ENV:-} "$GO" test -count=1 -timeout 10m -run "$2" "$1") >"$3" 2>&1
}

# firstfail LOG: the first failing test's name, for the table.
firstfail() {
	grep -o -m1 -- '--- FAIL: [^ ]*' "$1" | sed 's/--- FAIL: //' || true
}

declare -A baseline
bad=0
printf '| mutant | what it breaks | tests | result |\n|---|---|---|---|\n'
for m in "${mutants[@]}"; do
	name=$(basename "$m" .mutant)
	unset WHAT FILE SED PKG RUN ENV
	# shellcheck source=/dev/null
	. "$m"
	log="$work/.log-$name"
	tests="\`$PKG -run ${RUN//|/\\|}\`" # a | would end the table cell
	key="$PKG $RUN ${ENV:-}"
	if [ -z "${baseline[$key]:-}" ]; then
		# Unmutated, the tests must pass and must run something.
		if gotest "$PKG" "$RUN" "$log" && ! grep -q 'no tests to run' "$log"; then
			baseline[$key]=ok
		else
			baseline[$key]=fail
			echo "baseline of $key:" >&2
			tail -30 "$log" >&2
		fi
	fi
	if [ "${baseline[$key]}" != ok ]; then
		result="BASELINE FAILS (the tests fail unmutated; see stderr)"
		bad=1
	else
		cp "$work/$FILE" "$work/.orig"
		sed -i "$SED" "$work/$FILE"
		if cmp -s "$work/$FILE" "$work/.orig"; then
			result="NOT APPLIED (the sed matched nothing in $FILE)"
			bad=1
		elif ! (cd "$work" && "$GO" test -count=1 -run '^$' "$PKG") >"$log" 2>&1; then
			result="DOES NOT BUILD (fix the mutant)"
			tail -5 "$log" >&2
			bad=1
		elif gotest "$PKG" "$RUN" "$log"; then
			result="**SURVIVED**"
			bad=1
		else
			result="killed ($(firstfail "$log"))"
		fi
		cp "$work/.orig" "$work/$FILE"
	fi
	printf '| %s | %s | %s | %s |\n' "$name" "$WHAT" "$tests" "$result"
done
exit $bad
