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
while read -r name dir _; do
	log=$run/out/$name.log
	if [ ! -f "$run/out/$name.rc" ]; then
		[ ! -s "$log" ] || tail -n 100 "$log" | sed 's/^/    /'
		echo "FAIL	$dir	no result: the VM stopped before it or during it"
		bad=$((bad + 1)) failed=$((failed + 1))
		continue
	fi
	rc=$(cat "$run/out/$name.rc")
	p=$(count PASS "$log") f=$(count FAIL "$log") s=$(count SKIP "$log")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$rc" = 0 ]; then
		# Tests and subtests, not the nested runs nstest logs.
		grep -E '^( {4}){0,2}--- (PASS|SKIP):' "$log" | sed 's/^/    /' || true
		echo "ok  	$dir	in the VM: $p passed, $s skipped"
		continue
	fi
	bad=$((bad + 1))
	[ "$f" -gt 0 ] || failed=$((failed + 1)) # died without a FAIL line (panic, timeout)
	echo "--- $dir: the last 100 lines of its output ($log)"
	tail -n 100 "$log" | sed 's/^/    /'
	grep -E '^( {4}){0,2}--- FAIL:' "$log" | sed 's/^/    /' || true
	echo "FAIL	$dir	in the VM (exit $rc)"
done <"$run/plan"

if ! grep -q '^vmtest: done' "$run/console.log"; then
	# A panic's reason comes before its stack: show from the first sign.
	at=$(grep -nE 'Kernel panic|BUG:|Oops|general protection|RIP:' "$run/console.log" | head -n 1 | cut -d: -f1)
	if [ -n "$at" ]; then
		echo "test-kernel: the VM did not finish: the kernel failed; its console from line $at:"
		tail -n +"$at" "$run/console.log" | head -n 60 | sed 's/^/    /'
	else
		echo "test-kernel: the VM did not finish (hang, timeout or a dead init); the console's last 30 lines:"
		tail -n 30 "$run/console.log" | sed 's/^/    /'
	fi
	bad=$((bad + 1))
fi
echo "test-kernel: $passed passed, $failed failed, $skipped skipped"
[ "$bad" -eq 0 ]
