package lab

import (
	"context"
	"errors"
	"fmt"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
)

// LoadError is a loader refusing the policy in the lab.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// CheckBlock checks a test block's expectations with real packets, in a
// lab of its own into which load puts the policy (given the firewall
// namespace's path). A policy that keeps state from one packet to the
// next (a limit's bucket) gets a fresh lab for each packet, as the
// simulator takes each packet afresh. When ctx ends, the lab is deleted
// at once and CheckBlock returns ctx's error.
func CheckBlock(ctx context.Context, p *ir.Policy, b sim.TestBlock, load func(nsPath string) error) ([]sim.Checked, error) {
	groups := [][]sim.Expectation{b.Expect}
	if p.KeepsState() {
		groups = groups[:0]
		for _, x := range b.Expect {
			groups = append(groups, []sim.Expectation{x})
		}
	}
	var out []sim.Checked
	for _, g := range groups {
		part := b
		part.Expect = g
		checked, err := checkInNewLab(ctx, p, part, load)
		if err != nil {
			return out, err
		}
		out = append(out, checked...)
	}
	return out, nil
}

func checkInNewLab(ctx context.Context, p *ir.Policy, b sim.TestBlock, load func(nsPath string) error) (checked []sim.Checked, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	uncgroup, err := holdCgroups(p, b)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, uncgroup()) }()
	l, err := New(b.Interfaces())
	if err != nil {
		return nil, err
	}
	closed := make(chan error, 1)
	stop := context.AfterFunc(ctx, func() { closed <- l.Close() })
	defer func() {
		if stop() {
			err = errors.Join(err, l.Close())
			return
		}
		// ctx ended: the lab is being deleted under the probe.
		err = errors.Join(ctx.Err(), <-closed)
	}()
	if err := load(l.Path()); err != nil {
		return nil, &LoadError{err}
	}
	return l.Check(p, b)
}

// Check sends each of the block's packets through the policy that load
// put into the lab, and says what became of each expectation. The lab
// must have the block's interfaces (sim.TestBlock.Interfaces).
func (l *Lab) Check(p *ir.Policy, b sim.TestBlock) ([]sim.Checked, error) {
	l.fromCgroups = len(p.Cgroups()) > 0
	out := make([]sim.Checked, len(b.Expect))
	for i, x := range b.Expect {
		res := sim.Evaluate(p, x.Packet)
		o, err := l.Run(x.Packet, res.Final)
		var u *Unsupported
		if errors.As(err, &u) {
			// A line the lab cannot make says why; the others still run.
			out[i] = sim.Checked{Expectation: x, Unsent: u.Error()}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%d: %s: %w", x.Line, x.Text, err)
		}
		out[i] = sim.Checked{Expectation: x, Got: o.Verdict, By: "the kernel"}
		if !o.Matches(x.Verdict) {
			continue
		}
		out[i].Got = x.Verdict
		// The answer is the policy's promise too: a reset where an ICMP
		// error was written tells a client something else.
		if want, rejects := res.Answer(); rejects && o.Verdict == ir.Reject && o.Answer != want {
			out[i].Answer, out[i].WantAnswer = o.Answer.Text(), want.Text()
		}
	}
	return out, nil
}
