// Package coretest has test helpers for code that uses redress: a fake
// clock that makes retries instant and records their delays, a scripted
// strategy, a recording subscriber and policy, a pass-through policy, fault
// injectors (fail N times, with a probability, or by schedule, by class),
// and a conformance test that any core.Subscriber can run.
//
// Everything here is safe for concurrent use.
//
//	f := coretest.FailTimes(2, coretest.ClassErr(core.ClassTransient))
//	p, rec, clk, _ := coretest.NewRecordingPolicy(core.PolicyConfig{})
//	err := p.Run(ctx, f.Op())
//	fmt.Println(err, f.Calls(), len(clk.Sleeps()), rec.Names())
//	// <nil> 3 2 [... success]
package coretest
