#!/bin/sh
# Instructions, cache misses and branch mispredictions per statement, bare
# driver vs redresssql, under cachegrind's simulated caches: the machine's
# load does not move them, the Go runtime's background work does a little
# (repeated runs differ by a few dozen instructions; the garbage collector
# is off, GOGC=off, since both variants allocate alike). Needs valgrind
# (Debian package).
#
#	cd bench/sql && sh cachegrind.sh [N]
#
# Each figure is (run with N statements - run with none) / N, so that the
# set-up (process start, the table's 100 rows) cancels out.
set -eu
n=${1:-20000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/sql.test" .
for st in QueryRow Exec; do
	for v in baseline redress; do
		for k in 0 "$n"; do
			REDRESS_LOOP_VARIANT=$v REDRESS_LOOP_STATEMENT=$st REDRESS_LOOP_N=$k \
				GOGC=off GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 \
				valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes \
				--cachegrind-out-file="$dir/$st.$v.$k" \
				"$dir/sql.test" -test.run '^TestStatementLoop$' >/dev/null 2>&1
		done
	done
	awk -v n="$n" -v st="$st" '
		/^events:/ { split($0, ev, " ") }
		/^summary:/ {
			fn = FILENAME; sub(/.*\//, "", fn)
			split(fn, f, "."); k = f[3]; v = f[2]
			for (i = 2; i <= NF; i++) s[v, k, ev[i]] = $i
		}
		END {
			split("Ir I1mr D1mr D1mw Bcm Bim", names, " ")
			printf "%s per statement:", st
			for (j = 1; j <= 6; j++) {
				e = names[j]
				b = (s["baseline", n, e] - s["baseline", 0, e]) / n
				r = (s["redress", n, e] - s["redress", 0, e]) / n
				printf "  %s %.0f -> %.0f (%+.0f)", e, b, r, r - b
			}
			printf "\n"
		}' "$dir/$st.baseline.0" "$dir/$st.baseline.$n" "$dir/$st.redress.0" "$dir/$st.redress.$n"
done
