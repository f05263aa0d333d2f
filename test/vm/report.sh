#!/bin/sh
# The verdict of a VM run, from its result files and console only:
#   test/vm/report.sh RUNDIR
# Lists every test's PASS/FAIL/SKIP line per package, shows a failing
# package's log tail, and the console's tail when the guest did not reach
# its "vmtest: done" marker (panic, hang, timeout). Ends with
# "test-kernel: N passed, N failed, N skipped" (tests) and exits 1 unless
# every package passed and the VM finished.
set -eu
run=$1
passed=0 failed=0 skipped=0 bad=0
count() { grep -c "^--- $1:" "$2" || true; }
while read -r name dir; do
	log=$run/out/$name.log
	rc=$(cat "$run/out/$name.rc" 2>/dev/null || echo "none")
	if [ ! -f "$log" ]; then
		echo "FAIL	$dir	(never ran in the VM)"
		bad=$((bad + 1))
		continue
	fi
	grep -E '^( {4}){0,2}--- (PASS|FAIL|SKIP):' "$log" | sed 's/^/    /' || true
	p=$(count PASS "$log") f=$(count FAIL "$log") s=$(count SKIP "$log")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$rc" = 0 ]; then
		echo "ok  	$dir	in the VM: $p passed, $s skipped"
		continue
	fi
	bad=$((bad + 1))
	[ "$f" -gt 0 ] || failed=$((failed + 1)) # died without a FAIL line (panic, timeout)
	echo "--- $dir: the last 80 lines of $log"
	tail -n 80 "$log" | sed 's/^/    /'
	echo "FAIL	$dir	in the VM (exit $rc)"
done <"$run/plan"

if ! grep -q '^vmtest: done' "$run/console.log"; then
	echo "test-kernel: the VM did not finish (kernel panic, hang or timeout); the console's last 30 lines:"
	tail -n 30 "$run/console.log" | sed 's/^/    /'
	bad=$((bad + 1))
	failed=$((failed + 1))
fi
echo "test-kernel: $passed passed, $failed failed, $skipped skipped"
[ "$bad" -eq 0 ]
