// Package skipper is run by testenv's tests through the go command: both of
// its tests miss the same service.
package skipper

import (
	"errors"
	"testing"

	"github.com/redress-go/redress/internal/testenv"
)

func TestFirst(t *testing.T) {
	testenv.Missing(t, "example service (REDRESS_EXAMPLE_DSN)", errors.New("dial tcp 127.0.0.1:1:\nconnection refused"))
}

func TestSecond(t *testing.T) {
	testenv.Missing(t, "example service (REDRESS_EXAMPLE_DSN)", errors.New("dial tcp 127.0.0.1:1: connection refused"))
}
