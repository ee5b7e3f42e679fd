// Package httpbench compares redresshttp.Transport with the bare
// http.Transport and with the HTTP integrations of the peer libraries
// (failsafe-go's failsafehttp and hashicorp/go-retryablehttp), each with its
// defaults: loopback throughput (BenchmarkRoundTrip) and a full-outage
// scenario (TestOutage) that counts the server hits each logical request
// costs while the server answers 503 to everything.
//
//	cd bench && go test -run '^$' -bench RoundTrip -benchmem -count 10 ./http | go run ./cmd/benchratio
//	cd bench && go test -run TestOutage -v ./http
package httpbench
