// Package doccheck holds the tests of the documents: README.md, docs/*.md
// and the package doc comments. It has no API.
//
//   - doccheck_test.go compiles every Go snippet. A Markdown block fenced
//     ```go is checked; one that is deliberately not compilable must be
//     fenced ```go-fragment instead. A code block of a doc comment is
//     checked unless its first line starts with "$ " (a shell command).
//     Fragments that are not whole files run inside func snippet() error,
//     with the imports they use added from a fixed map and the free names
//     they assume (ctx, bus, dsn, ...) declared in givens.go.
//   - links_test.go checks that every relative link and #anchor resolves,
//     that every recorded run a document cites (bench/results/*.txt)
//     exists and is cited, and that a section quoting a measured ratio
//     names its recorded run or benchmark command.
//   - figures_test.go checks the engine's result tables in
//     docs/benchmarks.md against bench/results/core.txt, through
//     bench/cmd/benchratio.
//   - design_test.go generates the name tables of docs/DESIGN.md from
//     telemetry.Names, the rows cmd/redress prints (-update rewrites them),
//     and checks that every test its promise table names exists.
package doccheck
