package redressslog_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressslog "github.com/redress-go/redress/instrument/slog"
)

// The slog subscriber passes the shared subscriber conformance suite, with
// the default event set and with every event, logging at every level.
func TestConformance(t *testing.T) {
	for _, events := range []core.EventSet{0, core.AllEvents} {
		t.Run(fmt.Sprintf("events=%#x", uint32(events)), func(t *testing.T) {
			coretest.TestSubscriber(t, func(t *testing.T) core.Subscriber {
				h := &capture{min: slog.LevelDebug}
				s, err := redressslog.New(redressslog.Config{Handler: h, Events: events})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// Close returns nil and the subscriber still logs afterwards (it owns no
// resources; the handler is the caller's).
func TestClose(t *testing.T) {
	h := &capture{min: slog.LevelDebug}
	s, err := redressslog.New(redressslog.Config{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.Handle(t.Context(), core.Event{Kind: core.EventSuccess, Policy: "p", Operation: "op"})
	if h.handled != 1 {
		t.Fatalf("records after Close = %d, want 1", h.handled)
	}
}
