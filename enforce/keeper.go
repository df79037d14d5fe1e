package enforce

import (
	"bytes"
	"fmt"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/ir"
)

// A Keeper is what "ksc watch" keeps in force (a backends.Keeper): its
// own policy at first, then whatever the namespace's intent says, as a
// later "ksc apply" or "ksc remove" wrote it. Each repair closes the
// connections the policy would not let start that began while it was not
// in force.
type Keeper struct {
	ns      Namespace
	backend string
	// Notify hears what the keeper takes on, and what went wrong with the
	// connections of a repair.
	Notify func(msg string)
	raw    []byte // the intent last followed
	policy *ir.Policy
	path   string
}

// Keep starts keeping p (as in says) in force in the namespace through a
// backend of that name: it records in as the namespace's intent, since
// the watch puts p in force now.
func (n Namespace) Keep(p *ir.Policy, in Intent, notify func(string)) (*Keeper, error) {
	k := &Keeper{ns: n, backend: in.Backend, Notify: notify, policy: p, path: p.Source}
	release, err := n.lockChanges()
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := n.writeIntent(in); err != nil {
		return nil, err
	}
	_, k.raw, err = n.ReadIntent()
	return k, err
}

// Path is the policy kept in force now, as given.
func (k *Keeper) Path() string { return k.path }

// Desired is backends.Keeper's: the policy the intent says, with the
// change lock held until release.
func (k *Keeper) Desired() (*ir.Policy, func(), error) {
	release, err := k.ns.lockChanges()
	if err != nil {
		return nil, nil, err
	}
	k.follow()
	return k.policy, release, nil
}

// Repair is backends.Keeper's.
func (k *Keeper) Repair(p *ir.Policy, repair func() error) error {
	report, err := flows.Transition(k.ns.Path(), flows.Allows(p), repair)
	if err == nil {
		for _, msg := range FlowNotes(report) {
			k.Notify(msg)
		}
		if n := len(report.Closed); n > 0 {
			k.Notify(fmt.Sprintf("closed %d connections that started while the policy was not in force", n))
		}
	}
	return err
}

// follow takes on what the namespace's intent says now, when it changed.
// A policy that does not load is reported, and the one before kept.
func (k *Keeper) follow() {
	in, raw, err := k.ns.ReadIntent()
	if err != nil {
		k.Notify(err.Error())
		return
	}
	if raw == nil || bytes.Equal(raw, k.raw) {
		return
	}
	k.raw = raw
	switch {
	case in.Removed:
		k.policy = nil
		k.Notify(in.By + " took the policy away: nothing is kept in force until the next ksc apply")
		return
	case in.Backend != k.backend:
		k.policy = nil
		k.Notify(fmt.Sprintf("%s put %s in force with the %s backend; this watch keeps the %s one, and stands by", in.By, in.Path, in.Backend, k.backend))
		return
	}
	p, err := in.Load()
	if err != nil {
		k.Notify(fmt.Sprintf("%v; still keeping %s", err, k.path))
		return
	}
	k.policy, k.path = p, in.Path
	k.Notify(fmt.Sprintf("%s put %s in force: keeping it from now on", in.By, in.Path))
}

var _ backends.Keeper = (*Keeper)(nil)

// FlowNotes says what went wrong with the connections in a transition,
// for a command to print.
func FlowNotes(r flows.Report) []string {
	var out []string
	if r.Unguarded != nil {
		out = append(out, fmt.Sprintf("connections could not be held through the change (%v): those the policy would not let start were closed just after it", r.Unguarded))
	}
	if r.Err != nil {
		out = append(out, fmt.Sprintf("the policy is in force, but connections opened before it may go on: %v", r.Err))
	}
	return out
}
