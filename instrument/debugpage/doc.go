// Package redressdebug is a live introspection page for the redress event
// bus, in the manner of grpc-go's channelz and OpenTelemetry's zPages: what
// every breaker, budget and policy is doing right now, readable at a glance
// without a metrics stack.
//
// A Page is a core.Subscriber (put it on the bus beside the other
// subscribers) and an http.Handler (mount it at a path of your choice). It
// keeps a small, bounded, in-memory view and shows:
//
//   - per circuit breaker: its state (read from the breaker when the page is
//     rendered), the time of its last transition, its recent transitions and
//     a strip of its state over the last minute; open breakers come first;
//   - per retry budget: the share in use, the retries left, the retries
//     denied;
//   - per (policy, operation): calls per second, success ratio, attempts
//     per call and stop reasons over the last minute, sparklines of calls
//     and failures per second, and the last failures with their class, stop
//     reason, attempts and (redacted) error text.
//
// The page is plain HTML from html/template with inline SVG sparklines: no
// script, no external asset (its Content-Security-Policy forbids both).
// ?refresh=N reloads it every N seconds.
//
// # JSON
//
// The same view, for scripts, is served at the same path with ?format=json:
// the View type, encoded with encoding/json. Its top-level keys are time,
// window_seconds, operations, breakers, budgets and limits; see View,
// OperationView, BreakerView, BudgetView and Limits for every field. For
// example, the open breakers:
//
//	$ curl -s 'http://127.0.0.1:9464/debug/redress?format=json' | jq -r '.breakers[] | select(.state == "open") | .name'
//
// # Security
//
// Do not expose the page publicly. It shows operation names, breaker names
// (hosts, for the HTTP wrapper's per-host breakers) and error texts. Mount
// it on an internal listener (the demo serves it beside /metrics on
// loopback), behind your own authentication, or set Config.Authorize (a
// false answer is 403 Forbidden).
//
// It shows no request data beyond what the other subscribers record, under
// the same rules: names and labels come from the events' typed fields; a
// query string in an operation name is cut (as the Prometheus, OTel and slog
// subscribers cut it); the error message is the only free text, passed
// through Config.RedactError (default: err.Error() with the query string of
// any URL in it cut) and bounded to Config.MaxErrorLen bytes. Config.Policy
// leaves out the policies you would rather not show, as it does for the
// other subscribers.
//
// # Bounds
//
// Memory is bounded. At most Config.MaxOperations (default 1,000)
// (policy, operation) pairs are tracked one by one; the calls of any further
// pair are counted in one "(other)" operation, and the page says how many.
// The same bound applies to the breakers and to the budgets (those beyond it
// are counted, not shown). Per operation, the page holds 60 per-second
// counters, four 15-second slots of attempts and stop reasons, and the last
// Config.MaxFailures (default 5) failures; per breaker, the last
// Config.MaxTransitions (default 10). Measured by TestMemoryBound and
// TestBreakerMemoryBound with the defaults: 1,000 operations hold at most
// 1 MiB (about 0.7 KiB each) when they succeed, at most 1.5 MiB (about
// 1.4 KiB each) in the worst case, every failure slot full of 96-byte error
// text; 1,000 breakers, about 0.4 KiB each, at most 0.5 MiB.
//
// The page holds the breakers and budgets it tracks (up to the bound), as
// a registry holds its collectors. Rendering reads everything at request
// time: with 1,000 operations, all failing, the HTML is about 2.5 MB and
// takes about 0.15 s to build (the JSON form, about 0.05 s).
//
// A second counts at most 65,535 calls of one operation (then saturates).
// Attempts per call and stop reasons cover the last 45 to 60 seconds
// (15-second slots); rates, ratios and sparklines the last 60 seconds.
//
// # Cost
//
// The page wants only the terminal events (one per call) and the breaker
// transitions, and is core.DurationFree: it asks the engine for no clock
// read (with the system clock, the page itself reads only the monotonic
// clock, once per call). On a call's success, Handle does one lock-free
// lookup, one clock read and a few atomic operations, and allocates nothing
// once the operation is known (a failure takes a mutex and formats the
// error). Measured on the success path of a policy
// (bench/results/debugpage.txt, a shared 2-vCPU VM), with
//
//	$ cd bench && for i in $(seq 8); do go test -run '^$' -bench 'DebugPage' -benchmem -benchtime 300ms ./telemetry; done | go run ./cmd/benchratio
//
// the bare call takes 13.7 ns; with the page 110.8 ns (8.1× the bare call,
// 0 allocations), of which 54.5 ns are the engine's own cost of publishing
// the event to a subscriber that does nothing; with the Prometheus
// subscriber 218.2 ns. The page costs 0.51× what the Prometheus subscriber
// does.
//
// # Example
//
//	page, err := redressdebug.New(redressdebug.Config{})
//	if err != nil {
//		return err
//	}
//	policy, err := core.NewPolicy(core.PolicyConfig{Name: "users", Bus: core.NewBus(page)})
//	if err != nil {
//		return err
//	}
//	mux := http.NewServeMux() // served on an internal listener only
//	mux.Handle("/debug/redress", page)
//	go http.ListenAndServe("127.0.0.1:9464", mux)
//	return policy.Run(ctx, ping) // shown on the page
package redressdebug
