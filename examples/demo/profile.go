package main

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// faults is what an upstream does to each request during a phase. Rates are
// probabilities in [0, 1], checked in this order.
type faults struct {
	unavailable float64       // 503 / UNAVAILABLE: a server error, retried, trips breakers
	rateLimited float64       // 429 with Retry-After / RESOURCE_EXHAUSTED with pushback: holds the host
	overloaded  float64       // 429 / RESOURCE_EXHAUSTED without a hint: never trips a breaker, its throttler refuses calls once most are refused
	notFound    float64       // 404 / NOT_FOUND: permanent, never retried
	locked      bool          // SQLite: another writer holds the database lock (SQLITE_BUSY)
	latency     time.Duration // base latency
	jitter      time.Duration // extra uniform latency
}

// phase is one step of a fault profile.
type phase struct {
	name   string
	share  float64 // share of the run's duration
	faults faults
	// inventory, if set, replaces faults for the gRPC inventory service:
	// its elements follow each other, each for an equal share of the phase.
	inventory []faults
}

var (
	healthy  = faults{unavailable: 0.01, notFound: 0.005, latency: 2 * time.Millisecond, jitter: 8 * time.Millisecond}
	degraded = faults{unavailable: 0.30, overloaded: 0.05, notFound: 0.02, latency: 20 * time.Millisecond, jitter: 60 * time.Millisecond}
	// The outage: the catalog is down (its breaker opens); the database is
	// locked by another writer; the inventory is overloaded for the first
	// two thirds of it, then down. Overloaded, it refuses most calls with
	// RESOURCE_EXHAUSTED, which does not trip its breaker (it answered) but
	// makes its throttler refuse most calls locally; in the second third it
	// also pushes back (the target is held).
	outage   = faults{unavailable: 1, locked: true, latency: time.Millisecond}
	overload = []faults{
		{unavailable: 0.2, overloaded: 0.8, latency: time.Millisecond},
		{unavailable: 0.2, overloaded: 0.3, rateLimited: 0.5, latency: time.Millisecond},
		{unavailable: 1, latency: time.Millisecond},
	}
	recovered = faults{unavailable: 0.03, notFound: 0.005, latency: 5 * time.Millisecond, jitter: 15 * time.Millisecond}
)

// profiles are the fault profiles of the -profile flag.
var profiles = map[string][]phase{
	"cycle": {
		{"healthy", 0.2, healthy, nil},
		{"degraded", 0.25, degraded, nil},
		{"outage", 0.3, outage, overload},
		{"recovery", 0.25, recovered, nil},
	},
	"healthy":  {{"healthy", 1, healthy, nil}},
	"degraded": {{"degraded", 1, degraded, nil}},
	"outage":   {{"outage", 1, outage, overload}},
}

func profileNames() string {
	return "cycle, healthy, degraded, outage"
}

// schedule is a profile laid out on a timeline: phase i lasts durs[i].
type schedule struct {
	phases []phase
	durs   []time.Duration
	repeat bool // start over after the last phase (runs until interrupted)
}

// newSchedule lays profile out over total; a zero total (run until
// interrupted) gives each phase 15s and repeats the profile.
func newSchedule(profile string, total time.Duration) (schedule, error) {
	ps, ok := profiles[strings.ToLower(profile)]
	if !ok {
		return schedule{}, fmt.Errorf("demo: unknown -profile %q (want one of %s)", profile, profileNames())
	}
	s := schedule{phases: ps, repeat: total == 0}
	for _, p := range ps {
		d := 15 * time.Second
		if total > 0 {
			d = time.Duration(float64(total) * p.share)
		}
		s.durs = append(s.durs, d)
	}
	return s, nil
}

// at returns the index of the phase in force at elapsed.
func (s schedule) at(elapsed time.Duration) int {
	i, _ := s.locate(elapsed)
	return i
}

// progress returns how far into its phase (at) elapsed is, from 0 to 1.
func (s schedule) progress(elapsed time.Duration) float64 {
	i, into := s.locate(elapsed)
	return min(float64(into)/float64(s.durs[i]), 1)
}

// locate returns the phase in force at elapsed and how long it has been
// in force.
func (s schedule) locate(elapsed time.Duration) (int, time.Duration) {
	var cycle time.Duration
	for _, d := range s.durs {
		cycle += d
	}
	if s.repeat && cycle > 0 {
		elapsed %= cycle
	}
	for i, d := range s.durs {
		if elapsed < d {
			return i, elapsed
		}
		elapsed -= d
	}
	last := len(s.durs) - 1
	return last, s.durs[last] + elapsed
}

// shortest returns the shortest phase duration (breaker timings scale on it).
func (s schedule) shortest() time.Duration {
	m := s.durs[0]
	for _, d := range s.durs[1:] {
		m = min(m, d)
	}
	return m
}

// current holds the phase in force, read by the upstreams on each request.
type current struct {
	idx      atomic.Int32
	permille atomic.Int32 // how far into its phase the run is, in thousandths
	s        schedule
}

func (c *current) phase() phase { return c.s.phases[c.idx.Load()] }

// inventoryFaults is what the gRPC inventory service does now.
func (c *current) inventoryFaults() faults {
	p := c.phase()
	if n := len(p.inventory); n > 0 {
		return p.inventory[min(int(c.permille.Load())*n/1000, n-1)]
	}
	return p.faults
}
