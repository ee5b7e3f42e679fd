// Package errtree walks an error tree in the order errors.Is and errors.As
// search it, so that a classifier can look for several kinds of error in
// one walk instead of one errors.As per kind (each of which allocates its
// target). It is internal: not API.
package errtree

// Walk calls visit on err and on every error it wraps (Unwrap() error and
// Unwrap() []error), depth first in pre-order, as errors.Is does, until
// visit returns false. It reports whether the walk ran to the end.
func Walk(err error, visit func(error) bool) bool {
	for err != nil {
		if !visit(err) {
			return false
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if !Walk(e, visit) {
					return false
				}
			}
			return true
		default:
			return true
		}
	}
	return true
}

// As reports whether e is a T or, through its As method, can be one, as
// errors.As decides for one node of the tree, and returns it. Only an error
// with an As method costs an allocation.
func As[T any](e error) (T, bool) {
	if t, ok := e.(T); ok {
		return t, true
	}
	if a, ok := e.(interface{ As(any) bool }); ok {
		return asMethod[T](a)
	}
	var zero T
	return zero, false
}

// asMethod asks e's As method for a T (the T escapes: it is allocated only
// here).
func asMethod[T any](a interface{ As(any) bool }) (T, bool) {
	var t T
	ok := a.As(&t)
	return t, ok
}

// Is reports whether e is target, by == or its Is method, as errors.Is
// decides for one node of the tree. target must be comparable.
func Is(e, target error) bool {
	if e == target {
		return true
	}
	i, ok := e.(interface{ Is(error) bool })
	return ok && i.Is(target)
}
