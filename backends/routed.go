package backends

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/routing"
)

// routed is a firewall backend with the policy's routing tables
// (package routing) beside it: the firewall's rules go in first and the
// routes after, and come out in the reverse order, so that the rules
// hold whatever the routes are meanwhile.
type routed struct {
	Firewall
	nsPath string
}

func (r routed) DryRun(p *ir.Policy) (string, error) {
	out, err := r.Firewall.DryRun(p)
	if err != nil || len(p.Routing) == 0 {
		return out, err
	}
	add, remove, err := routing.Diff(r.nsPath, p.Routing)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(out)
	b.WriteString("# then the routing, after the rules:\n")
	for _, l := range add {
		fmt.Fprintf(&b, "add %s\n", l)
	}
	for _, l := range remove {
		fmt.Fprintf(&b, "delete %s\n", l)
	}
	return b.String(), nil
}

// Apply refuses tables another program uses before anything changes,
// then puts the rules in force, then the routes.
func (r routed) Apply(p *ir.Policy) error {
	if err := routing.Check(r.nsPath, p.Routing); err != nil {
		return err
	}
	if err := r.Firewall.Apply(p); err != nil {
		return err
	}
	if err := routing.Apply(r.nsPath, p.Routing); err != nil {
		return fmt.Errorf("the rules are in force, the routing is not: %w", err)
	}
	return nil
}

// Remove takes the routes away first, then the rules.
func (r routed) Remove(p *ir.Policy) error {
	if err := routing.Remove(r.nsPath); err != nil {
		return err
	}
	return r.Firewall.Remove(p)
}

func (r routed) Diff(p *ir.Policy) ([]Change, error) {
	d, err := r.Firewall.Diff(p)
	if err != nil {
		return nil, err
	}
	return r.withRouting(d, p)
}

func (r routed) Status(p *ir.Policy) (Status, error) {
	s, err := r.Firewall.Status(p)
	if err != nil {
		return s, err
	}
	var d []Change
	d, err = r.withRouting(nil, p)
	for _, c := range d {
		if c.Op != ' ' {
			s.Differences = append(s.Differences, c)
		}
	}
	return s, err
}

// withRouting adds to d the routing's lines: each ksc has in force and
// the policy has (' '), only in force ('-'), only the policy's ('+').
func (r routed) withRouting(d []Change, p *ir.Policy) ([]Change, error) {
	add, remove, err := routing.Diff(r.nsPath, p.Routing)
	if err != nil {
		return nil, err
	}
	for _, l := range add {
		d = append(d, Change{Op: '+', Text: "routing " + l})
	}
	for _, l := range remove {
		d = append(d, Change{Op: '-', Text: "routing " + l})
	}
	return d, nil
}

// Snapshot keeps the routing ksc has in force beside the firewall's
// snapshot: a rollback puts the rules back first, then the routes.
func (r routed) Snapshot(p *ir.Policy) (Snapshot, error) {
	s, err := r.Firewall.Snapshot(p)
	if err != nil {
		return nil, err
	}
	state, err := routing.Read(r.nsPath)
	if err != nil {
		s.Close()
		return nil, err
	}
	return routedSnapshot{Snapshot: s, nsPath: r.nsPath, state: state}, nil
}

type routedSnapshot struct {
	Snapshot
	nsPath string
	state  routing.State
}

func (s routedSnapshot) Rollback() ([]string, error) {
	notes, err := s.Snapshot.Rollback()
	if err != nil {
		return notes, err
	}
	return notes, errors.Join(routing.PutBack(s.nsPath, s.state))
}

// RoutingCheck is how often Watch compares the routing ksc keeps in
// force with the policy's (rtnetlink's events would name no program).
var RoutingCheck = time.Second

// Watch keeps the firewall's rules in force, as the backend does, and
// beside them the policy's routing: the rules and routes ksc made, put
// back when another program deletes or changes one (other programs'
// own routes, a VPN client's among them, it leaves alone).
func (r routed) Watch(ctx context.Context, k Keeper, report func(Repair)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.keepRouting(ctx, k, report)
	}()
	err := r.Firewall.Watch(ctx, k, report)
	cancel()
	<-done
	return err
}

func (r routed) keepRouting(ctx context.Context, k Keeper, report func(Repair)) {
	tick := time.NewTicker(RoutingCheck)
	defer tick.Stop()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rep := r.repairRouting(k)
		// One report of a failure that goes on, not one a second.
		if rep.Err != nil && rep.Err.Error() == lastErr {
			continue
		}
		lastErr = ""
		if rep.Err != nil {
			lastErr = rep.Err.Error()
		}
		if rep.Err != nil || len(rep.Changes) > 0 {
			report(rep)
		}
	}
}

// repairRouting puts the kept policy's routing back where it differs.
func (r routed) repairRouting(k Keeper) Repair {
	p, release, err := k.Desired()
	if err != nil {
		return Repair{Err: err}
	}
	defer release()
	if p == nil {
		return Repair{} // removed: nothing is kept
	}
	start := time.Now()
	changes, err := r.withRouting(nil, p)
	if err != nil || len(changes) == 0 {
		return Repair{Err: err}
	}
	err = routing.Apply(r.nsPath, p.Routing)
	return Repair{Changes: changes, Took: time.Since(start), Err: err}
}
