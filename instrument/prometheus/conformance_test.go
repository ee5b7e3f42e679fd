package redressprom_test

import (
	"fmt"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
)

// The Prometheus subscriber passes the shared subscriber conformance suite,
// with the default event set and with every event; afterwards its registry
// still gathers (no inconsistent label sets or duplicate series).
func TestConformance(t *testing.T) {
	for _, events := range []core.EventSet{0, core.AllEvents} {
		t.Run(fmt.Sprintf("events=%#x", uint32(events)), func(t *testing.T) {
			coretest.TestSubscriber(t, func(t *testing.T) core.Subscriber {
				s, reg := newSub(t, redressprom.Config{Events: events})
				t.Cleanup(func() {
					if _, err := reg.Gather(); err != nil {
						t.Errorf("Gather after the conformance run: %v", err)
					}
				})
				return s
			})
		})
	}
}

// Close unregisters the collectors: a second Close reports that nothing was
// left, and a new subscriber on the same registry then registers.
func TestClose(t *testing.T) {
	s, reg := newSub(t, redressprom.Config{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("second Close: got nil, want an error (collectors already unregistered)")
	}
	if _, err := redressprom.New(redressprom.Config{Registerer: reg}); err != nil {
		t.Fatalf("New on the registry after Close: %v", err)
	}
}
