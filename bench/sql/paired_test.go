package sqlbench

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// statements are the statements of BenchmarkSQLQueryRow and BenchmarkSQLExec.
var statements = []struct {
	name string
	run  func(ctx context.Context, db *sql.DB, i int, s *string) error
}{
	{"QueryRow", func(ctx context.Context, db *sql.DB, i int, s *string) error {
		return db.QueryRowContext(ctx, "SELECT v FROM kv WHERE id = ?", i%100).Scan(s)
	}},
	{"Exec", func(ctx context.Context, db *sql.DB, i int, s *string) error {
		_, err := db.ExecContext(ctx, "UPDATE kv SET v = ? WHERE id = ?", "x", i%100)
		return err
	}},
}

// BenchmarkPaired runs the statements of BenchmarkSQLQueryRow and
// BenchmarkSQLExec on every variant in every iteration, one statement each,
// in rotating order. A sub-benchmark reports as ns/op the time of its own
// variant's statements only, and as <variant>/baseline the ratio of its
// variant's time to the baseline's within the run, which no drift of the
// machine's load between runs can bias (the SQL benchmarks run each variant
// for a second or more after the other, so on a shared machine such a drift
// shows as overhead, or as a gain). Every variant runs after the others as
// often as before them.
//
//	cd bench && go test -run '^$' -bench Paired -count 8 -cpu 1 -benchtime 300ms ./sql
func BenchmarkPaired(b *testing.B) {
	const block = 64 // statements per variant in a row, as in the SQL benchmarks' steady state
	for _, st := range statements {
		b.Run(st.name, func(b *testing.B) {
			dbs := make([]*sql.DB, len(variants))
			for j, v := range variants {
				dbs[j] = v.open(b)
				defer dbs[j].Close()
				setup(b, dbs[j])
			}
			for vi, v := range variants {
				b.Run(v.name, func(b *testing.B) {
					ctx := context.Background()
					total := make([]time.Duration, len(dbs))
					var s string
					i := 0
					for b.Loop() {
						for k := range dbs {
							j := (k + i) % len(dbs)
							start := time.Now()
							for n := range block {
								if err := st.run(ctx, dbs[j], i*block+n, &s); err != nil {
									b.Fatal(err)
								}
							}
							total[j] += time.Since(start)
						}
						i++
					}
					b.ReportMetric(float64(total[vi].Nanoseconds())/float64(b.N*block), "ns/op")
					b.ReportMetric(float64(total[vi])/float64(total[0]), v.name+"/baseline")
				})
			}
		})
	}
}
