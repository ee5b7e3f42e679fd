package errtree

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

type coded struct{ code string }

func (e *coded) Error() string { return e.code }

// asCoded turns into a *coded through its As method only.
type asCoded struct{}

func (asCoded) Error() string { return "as" }
func (asCoded) As(target any) bool {
	if p, ok := target.(**coded); ok {
		*p = &coded{"via-as"}
		return true
	}
	return false
}

// isEOF is io.EOF through its Is method only.
type isEOF struct{}

func (isEOF) Error() string        { return "is" }
func (isEOF) Is(target error) bool { return target == io.EOF }

// TestWalkMatchesErrors: Walk with As and Is finds what errors.As and
// errors.Is find, first match first, in chains and joined trees.
func TestWalkMatchesErrors(t *testing.T) {
	trees := []error{
		fmt.Errorf("a: %w", &coded{"one"}),
		errors.Join(errors.New("x"), fmt.Errorf("b: %w", &coded{"two"}), &coded{"three"}),
		fmt.Errorf("c: %w", asCoded{}),
		fmt.Errorf("d: %w and %w", errors.New("y"), isEOF{}),
		fmt.Errorf("e: %w", io.EOF),
		errors.New("plain"),
	}
	for i, tree := range trees {
		var want *coded
		wantOK := errors.As(tree, &want)
		var got *coded
		gotOK := false
		Walk(tree, func(e error) bool {
			got, gotOK = As[*coded](e)
			return !gotOK
		})
		if gotOK != wantOK || (gotOK && got.code != want.code) {
			t.Errorf("tree %d: As found %v %v, errors.As %v %v", i, got, gotOK, want, wantOK)
		}
		isWant := errors.Is(tree, io.EOF)
		isGot := !Walk(tree, func(e error) bool { return !Is(e, io.EOF) })
		if isGot != isWant {
			t.Errorf("tree %d: Is found %v, errors.Is %v", i, isGot, isWant)
		}
	}
}
