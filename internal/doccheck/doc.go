// Package doccheck holds the test that compiles every Go snippet of
// README.md and of the package doc comments (see doccheck_test.go). It has
// no API.
//
// A README block fenced ```go is checked; one that is deliberately not
// compilable must be fenced ```go-fragment instead. A code block of a doc
// comment is checked unless its first line starts with "$ " (a shell
// command). Fragments that are not whole files run inside
// func snippet() error, with the imports they use added from a fixed map
// and the free names they assume (ctx, bus, dsn, ...) declared in
// givens.go.
package doccheck
