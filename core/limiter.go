package core

import "time"

// Limiter admits attempts against a rate: a policy asks it before each
// attempt (PolicyConfig.Limiter), and a refused attempt is not made (the
// call stops with StopLimited and a *LimitedError). contrib/redis provides
// one shared by every replica of a service. A Limiter must be safe for
// concurrent use; Allow is on the path of every attempt and must not block.
type Limiter interface {
	// Allow reports whether one attempt may be sent now; when it may not,
	// retryIn is when one could be (0 if unknown).
	Allow() (ok bool, retryIn time.Duration)
	// Name names the limiter in its errors.
	Name() string
}
