package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/redress-go/redress/internal/telemetry"
)

const usage = `usage: redress [names] [-format text|json|markdown]

names (the default) prints the telemetry name table: metrics, attributes
and labels, events, stop reasons, classes and label values.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: it parses args, writes the output to stdout and
// errors to stderr, and returns the exit status (0, 1 when writing fails,
// 2 for bad usage).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("redress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage, "\nflags:\n")
		fs.PrintDefaults()
	}
	format := fs.String("format", "text", "output format: text (aligned columns), json or markdown")
	cmd, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "redress: %v\n", err)
		fs.Usage()
		return 2
	}
	switch cmd {
	case "names":
		var write func(io.Writer, telemetry.Table) error
		switch *format {
		case "text":
			write = writeText
		case "json":
			write = writeJSON
		case "markdown":
			write = writeMarkdown
		default:
			fmt.Fprintf(stderr, "redress: unknown format %q (want text, json or markdown)\n", *format)
			return 2
		}
		if err := write(stdout, telemetry.Names()); err != nil {
			fmt.Fprintf(stderr, "redress: %v\n", err)
			return 1
		}
		return 0
	case "help":
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	fmt.Fprintf(stderr, "redress: unknown command %q (want names)\n", cmd)
	fs.Usage()
	return 2
}

// parse parses flags before and after the subcommand and returns the
// subcommand ("names" when there is none).
func parse(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	cmd := "names"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return "", err
		}
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cmd, nil
}

func writeJSON(w io.Writer, t telemetry.Table) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

// series writes a histogram's series as family_bucket/_sum/_count.
func series(m telemetry.MetricRow) string {
	s := m.Series[0]
	for _, x := range m.Series[1:] {
		s += "/" + strings.TrimPrefix(x, m.Prom)
	}
	return s
}

func withWrapper(ss []string, wrapper bool) string {
	s := strings.Join(ss, " ")
	if wrapper {
		s += " +wrapper"
	}
	return s
}

func buckets(t telemetry.Table) string {
	var bk []string
	for _, x := range t.Buckets {
		bk = append(bk, strconv.FormatFloat(x, 'g', -1, 64))
	}
	return strings.Join(bk, " ")
}

// writeText writes the table as aligned columns, one section each.
func writeText(w io.Writer, t telemetry.Table) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }

	p("METRICS")
	p("OTEL INSTRUMENT", "KIND", "UNIT", "PROMETHEUS SERIES", "PROMETHEUS LABELS")
	for _, m := range t.Metrics {
		p(m.Name, m.Kind, m.Unit, series(m), withWrapper(m.OwnLabels(), m.Wrapper))
	}
	var wl []string
	for _, a := range t.Attributes {
		if a.Wrapper {
			wl = append(wl, a.Label)
		}
	}
	p()
	p("+wrapper = " + strings.Join(wl, " "))
	p("histogram buckets (s) = " + buckets(t))

	p()
	p("ATTRIBUTES")
	p("OTEL ATTRIBUTE", "PROMETHEUS LABEL", "WRAPPER", "ON (redress.*)")
	for _, a := range t.Attributes {
		on := "every instrument"
		if len(a.Metrics) < len(t.Metrics) {
			var short []string
			for _, m := range a.Metrics {
				short = append(short, strings.TrimPrefix(m, "redress."))
			}
			on = strings.Join(short, " ")
		}
		p(a.Attr, a.Label, yes(a.Wrapper), on)
	}

	p()
	p("EVENTS (redress.event / redress_event)")
	p("EVENT", "TERMINAL", "REJECTION", "IN redress_events_total")
	for _, e := range t.Events {
		p(e.Name, yes(e.Terminal), yes(e.Rejection), yes(e.Counted))
	}

	p()
	p("STOP REASONS (redress.stop_reason / redress_stop_reason)")
	p("STOP REASON", "TERMINAL EVENT")
	for _, s := range t.StopReasons {
		p(s.Name, s.Event)
	}

	p()
	p("CLASSES (error.type / error_type)")
	p("CLASS", "RETRIED")
	for _, c := range t.Classes {
		p(c.Name, yes(c.Retryable))
	}

	p()
	p("VALUES")
	p("redress.outcome", strings.Join(t.Outcomes, " "))
	p("redress.circuit_breaker.state", strings.Join(t.BreakerStates, " "))
	return tw.Flush()
}

func codes(ss []string) string {
	var out []string
	for _, s := range ss {
		out = append(out, "`"+s+"`")
	}
	return strings.Join(out, ", ")
}

// writeMarkdown writes the table as Markdown tables.
func writeMarkdown(w io.Writer, t telemetry.Table) error {
	var b strings.Builder
	wrapped := func(ss []string, wrapper bool) string {
		s := codes(ss)
		if wrapper {
			s += " + the wrapper labels"
		}
		return s
	}
	b.WriteString("## Metrics\n\n| OTel instrument | kind | unit | Prometheus series | OTel attributes | Prometheus labels | description |\n|---|---|---|---|---|---|---|\n")
	for _, m := range t.Metrics {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s | %s |\n", m.Name, m.Kind, m.Unit, codes(m.Series),
			wrapped(m.OwnAttrs(), m.Wrapper), wrapped(m.OwnLabels(), m.Wrapper), m.Description)
	}
	var wa, wl []string
	for _, a := range t.Attributes {
		if a.Wrapper {
			wa, wl = append(wa, a.Attr), append(wl, a.Label)
		}
	}
	fmt.Fprintf(&b, "\nThe wrapper labels: %s (Prometheus: %s).\n", codes(wa), codes(wl))
	fmt.Fprintf(&b, "\nHistogram buckets (seconds): %s.\n", strings.ReplaceAll(buckets(t), " ", ", "))

	b.WriteString("\n## Attributes\n\n| OTel attribute | Prometheus label | wrapper label | carried by |\n|---|---|---|---|\n")
	for _, a := range t.Attributes {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", a.Attr, a.Label, yes(a.Wrapper), codes(a.Metrics))
	}

	b.WriteString("\n## Events (`redress.event`)\n\n| event | terminal | rejection | counted by `redress.events` |\n|---|---|---|---|\n")
	for _, e := range t.Events {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.Name, yes(e.Terminal), yes(e.Rejection), yes(e.Counted))
	}

	b.WriteString("\n## Stop reasons (`redress.stop_reason`)\n\n| stop reason | terminal event |\n|---|---|\n")
	for _, s := range t.StopReasons {
		fmt.Fprintf(&b, "| `%s` | `%s` |\n", s.Name, s.Event)
	}

	b.WriteString("\n## Classes (`error.type`)\n\n| class | retried |\n|---|---|\n")
	for _, c := range t.Classes {
		fmt.Fprintf(&b, "| `%s` | %s |\n", c.Name, yes(c.Retryable))
	}

	b.WriteString("\n## Values\n\n")
	fmt.Fprintf(&b, "- `redress.outcome`: %s.\n", codes(t.Outcomes))
	fmt.Fprintf(&b, "- `redress.circuit_breaker.state`: %s.\n", codes(t.BreakerStates))
	_, err := io.WriteString(w, b.String())
	return err
}
