package soak

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ksc-project/ksc/ir"
)

// A Loader puts a policy in force in the lab's firewall namespace as one
// of ksc's targets does.
type Loader struct {
	Name  string
	Apply func(l *Lab, p *ir.Policy) error
}

// A Transition is one change of the ruleset in force, repeated.
type Transition struct {
	Name string
	// Setup, when there is one, runs first, before From is put in force.
	Setup func() error
	// Pace is the least time from one step's start to the next.
	Pace time.Duration
	// From is the policy put in force before the first step.
	From *ir.Policy
	// Step carries the change out once.
	Step func() (Step, error)
}

// Step says what a step of a transition left.
type Step struct {
	// InForce is the policy in force after the step, since Since (a Now).
	InForce *ir.Policy
	Since   int64
	// Flushed, when not 0, is when another program flushed the ruleset
	// during the step, before ksc put InForce back.
	Flushed int64
}

// Result is what one transition let through.
type Result struct {
	Loader, Transition string
	Steps              int
	// Forbidden counts the datagrams to DiscardPort the floods sent.
	Forbidden uint64
	// Leaked counts those that arrived, but for those sent while another
	// program had taken the ruleset away (Gap).
	Leaked, Gap int
	// Closed counts the datagrams of the flows to EchoPort sent while a
	// policy that does not let them start was in force, and ClosedLeaked
	// those of them that arrived.
	ClosedLeaked int
	// Took is the longest step.
	Took time.Duration
	// LeakedAt says, for each datagram that leaked, which flood sent it
	// and when, against the step it was sent in: what a leak's cause is
	// looked for with.
	LeakedAt []string
}

func (r Result) String() string {
	gap := ""
	if r.Gap > 0 {
		gap = fmt.Sprintf("; %d sent while another program had flushed the ruleset", r.Gap)
	}
	leaks := ""
	if len(r.LeakedAt) > 0 {
		leaks = "; leaked: " + strings.Join(r.LeakedAt, "; ")
	}
	return fmt.Sprintf("%s, %s: %d steps, %d of %d forbidden datagrams arrived, %d of closed flows%s; longest step %v%s",
		r.Loader, r.Transition, r.Steps, r.Leaked, r.Forbidden, r.ClosedLeaked, gap, r.Took.Round(100*time.Microsecond), leaks)
}

// Table formats results as a Markdown table.
func Table(results []Result) string {
	var b strings.Builder
	b.WriteString("| loader | transition | steps | forbidden datagrams sent | arrived | arrived of closed flows | longest step |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %v |\n", r.Loader, r.Transition, r.Steps, r.Forbidden, r.Leaked, r.ClosedLeaked, r.Took.Round(100*time.Microsecond))
	}
	return b.String()
}

// Run puts tr.From in force with load, floods the lab with pps forbidden
// datagrams a second (and flows to EchoPort), carries out steps steps of
// tr, and counts what arrived. closes says whether a policy forbids the
// flows to EchoPort.
func (l *Lab) Run(loader string, load func(*ir.Policy) error, tr Transition, steps, pps int, closes func(*ir.Policy) bool) (Result, error) {
	res := Result{Loader: loader, Transition: tr.Name, Steps: steps}
	if tr.Setup != nil {
		if err := tr.Setup(); err != nil {
			return res, err
		}
	}
	if err := load(tr.From); err != nil {
		return res, fmt.Errorf("putting the first policy in force: %w", err)
	}
	discard, echo, err := l.floods(pps)
	if err != nil {
		return res, err
	}
	stopAll := func() (sent uint64) {
		for _, f := range append(append([]*Flood(nil), discard...), echo...) {
			s, r := f.Stop()
			if contains(discard, f) {
				sent += s + r
			}
		}
		return sent
	}
	// Let the floods and the echo flows get going before the first step.
	time.Sleep(50 * time.Millisecond)
	type window struct{ from, to int64 }
	var gaps, closed []window
	// Each step's start, the end of its apply, and when it says its
	// policy was in force.
	type stepTimes struct{ start, end, since int64 }
	var times []stepTimes
	closedFrom := int64(-1)
	if closes(tr.From) {
		closedFrom = Now()
	}
	for range steps {
		start := time.Now()
		stepStart := Now()
		step, err := tr.Step()
		if err != nil {
			stopAll()
			return res, err
		}
		res.Took = max(res.Took, time.Since(start))
		times = append(times, stepTimes{stepStart, Now(), step.Since})
		if step.Flushed != 0 {
			gaps = append(gaps, window{step.Flushed, step.Since})
		}
		// A flow the policy before forbade may start during a step (under
		// the other policy, or while the ruleset is flushed); it must not
		// send once a policy that forbids it is in force again.
		if closedFrom >= 0 {
			closed = append(closed, window{closedFrom, stepStart})
			closedFrom = -1
		}
		if closes(step.InForce) {
			closedFrom = step.Since
		}
		// Give the flows time to carry on, or to show they were closed.
		time.Sleep(max(5*time.Millisecond, tr.Pace-time.Since(start)))
	}
	end := Now()
	res.Forbidden = stopAll()
	if closedFrom >= 0 {
		closed = append(closed, window{closedFrom, end})
	}
	time.Sleep(20 * time.Millisecond) // the last datagrams on their way
	received := 0
	for _, f := range discard {
		_, all := l.Received(f.ID, 0, math.MaxInt64)
		received += all
		for _, g := range gaps {
			n, _ := l.Received(f.ID, g.from, g.to)
			res.Gap += n
		}
	}
	res.Leaked = received - res.Gap
	for i, f := range discard {
		for _, sent := range l.Arrivals(f.ID) {
			if slices.ContainsFunc(gaps, func(g window) bool { return sent >= g.from && sent < g.to }) {
				continue
			}
			j := sort.Search(len(times), func(j int) bool { return times[j].start > sent }) - 1
			where := "before the first step"
			if j >= 0 {
				t := times[j]
				where = fmt.Sprintf("step %d +%dµs (its apply took %dµs, in force from +%dµs)", j+1, (sent-t.start)/1000, (t.end-t.start)/1000, (t.since-t.start)/1000)
			}
			res.LeakedAt = append(res.LeakedAt, fmt.Sprintf("flood %d (%s) sent at %s", i, floodNames[i], where))
		}
	}
	for _, f := range echo {
		for _, w := range closed {
			n, _ := l.Received(f.ID, w.from, w.to)
			res.ClosedLeaked += n
		}
	}
	// The receiver must have seen what far's ingress counted: a datagram
	// lost on the way to it would be a leak unseen.
	counted, err := l.Arrived()
	if err != nil {
		return res, err
	}
	if uint64(received) != counted["discard"] {
		return res, fmt.Errorf("the lab lost datagrams: far's ingress counted %d to the discard port, its receiver %d", counted["discard"], received)
	}
	return res, nil
}

// floodNames name the discard floods, in the order floods starts them.
var floodNames = []string{"fw, IPv4", "fw, IPv6", "LAN, IPv4", "LAN, IPv6"}

// floods starts the soak's traffic: datagrams to DiscardPort from fw and
// from the LAN in both families, and a flow to EchoPort from each.
func (l *Lab) floods(pps int) (discard, echo []*Flood, err error) {
	each := pps / 4
	for _, from := range []string{l.FW, l.LAN} {
		for _, dst := range []netip.AddrPort{Forbidden4, Forbidden6, netip.AddrPortFrom(Forbidden4.Addr(), EchoPort)} {
			rate := each
			if dst.Port() == EchoPort {
				rate = 2000
			}
			f, err := l.Flood(from, dst, rate)
			if err != nil {
				for _, f := range append(discard, echo...) {
					f.Stop()
				}
				return nil, nil, err
			}
			if dst.Port() == EchoPort {
				echo = append(echo, f)
			} else {
				discard = append(discard, f)
			}
		}
	}
	return discard, echo, nil
}

func contains(list []*Flood, f *Flood) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}
