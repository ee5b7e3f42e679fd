package redressdebug

import (
	"testing"

	"github.com/redress-go/redress/core"
)

func TestStopReasonsFit(t *testing.T) {
	if n := len(core.StopReasons()) + 1; n != numStops {
		t.Fatalf("core has %d stop reasons, the slots hold %d", n, numStops)
	}
}

func TestSecondSaturates(t *testing.T) {
	var s second
	for range maxPerSecond + 10 {
		s.add(true)
	}
	if c, f := s.load(); c != maxPerSecond || f != maxPerSecond {
		t.Fatalf("calls %d fails %d, want both saturated at %d", c, f, maxPerSecond)
	}
}
