// Command benchratio reads `go test -bench` output on standard input and
// prints, for every benchmark group, each variant's time per operation as a
// ratio of the group's baseline, with allocations. A group is the benchmark
// name up to its last '/'; the baseline is the variant named "baseline"
// (override with -baseline). With -count > 1 the median of the runs is used.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./core | go run ./cmd/benchratio
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:.*?\s([\d.]+) B/op\s+([\d.]+) allocs/op)?`)

type stat struct {
	ns            []float64
	bytes, allocs float64
	extra         map[string][]float64
}

func main() {
	base := flag.String("baseline", "baseline", "name of the baseline variant in each group")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *base); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func run(r io.Reader, w io.Writer, base string) error {
	stats := map[string]*stat{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := m[1]
		st := stats[name]
		if st == nil {
			st = &stat{}
			stats[name] = st
			order = append(order, name)
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		st.ns = append(st.ns, ns)
		if m[3] != "" {
			st.bytes, _ = strconv.ParseFloat(m[3], 64)
			st.allocs, _ = strconv.ParseFloat(m[4], 64)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark lines on input")
	}
	groups := map[string][]string{}
	var gorder []string
	for _, n := range order {
		g := n
		if i := strings.LastIndexByte(n, '/'); i >= 0 {
			g = n[:i]
		}
		if _, ok := groups[g]; !ok {
			gorder = append(gorder, g)
		}
		groups[g] = append(groups[g], n)
	}
	for _, g := range gorder {
		var bns float64
		for _, n := range groups[g] {
			if strings.HasSuffix(n, "/"+base) {
				bns = median(stats[n].ns)
			}
		}
		fmt.Fprintf(w, "%s\n", g)
		for _, n := range groups[g] {
			st := stats[n]
			v := n[strings.LastIndexByte(n, '/')+1:]
			ratio := "   n/a"
			if bns > 0 {
				ratio = fmt.Sprintf("%6.2fx", median(st.ns)/bns)
			}
			fmt.Fprintf(w, "  %-40s %s  %10.1f ns/op  %6.0f B/op  %4.0f allocs/op\n", v, ratio, median(st.ns), st.bytes, st.allocs)
		}
	}
	return nil
}
