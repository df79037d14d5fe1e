package backends

import (
	"context"
	"fmt"

	"github.com/ksc-project/ksc/ir"
)

// Fake is a Firewall in memory, for the tests of callers: it holds the
// policy last applied, as the kernel would, and records every call. Err,
// when set, makes every change (Apply, Remove, a repair) fail with it,
// changing nothing.
type Fake struct {
	Backend string // its name; "fake" when empty
	// InForce is the policy in force: the last applied, nil after Remove.
	InForce *ir.Policy
	Err     error
	// Calls are the methods called, in order, with the policy's source.
	Calls []string
}

func (f *Fake) record(method string, p *ir.Policy) {
	src := ""
	if p != nil {
		src = p.Source
	}
	f.Calls = append(f.Calls, method+" "+src)
}

func (f *Fake) Name() string {
	if f.Backend == "" {
		return "fake"
	}
	return f.Backend
}

func (f *Fake) DryRun(p *ir.Policy) (string, error) {
	f.record("DryRun", p)
	return fmt.Sprintf("# would apply %s\n", p.Source), nil
}

func (f *Fake) Apply(p *ir.Policy) error {
	f.record("Apply", p)
	if f.Err != nil {
		return f.Err
	}
	f.InForce = p
	return nil
}

// difference is the fake's diff: the policy in force against p.
func (f *Fake) difference(p *ir.Policy) []Change {
	if f.InForce == p {
		return nil
	}
	var d []Change
	if f.InForce != nil {
		d = append(d, Change{'-', "policy " + f.InForce.Source})
	}
	return append(d, Change{'+', "policy " + p.Source})
}

func (f *Fake) Diff(p *ir.Policy) ([]Change, error) {
	f.record("Diff", p)
	return f.difference(p), nil
}

func (f *Fake) Status(p *ir.Policy) (Status, error) {
	f.record("Status", p)
	return Status{Differences: f.difference(p)}, nil
}

func (f *Fake) Remove(p *ir.Policy) error {
	f.record("Remove", p)
	if f.Err != nil {
		return f.Err
	}
	f.InForce = nil
	return nil
}

// Watch checks once, as a watch does at its start, then waits for ctx.
func (f *Fake) Watch(ctx context.Context, k Keeper, report func(Repair)) error {
	f.record("Watch", nil)
	p, release, err := k.Desired()
	if err != nil {
		report(Repair{Err: err})
	} else {
		if p != nil && f.InForce != p {
			err := k.Repair(p, func() error { return f.Apply(p) })
			report(Repair{Changes: f.difference(p), Err: err})
		}
		release()
	}
	<-ctx.Done()
	return nil
}

func (f *Fake) RollsBack() bool { return true }

func (f *Fake) Snapshot(p *ir.Policy) (Snapshot, error) {
	f.record("Snapshot", p)
	return &fakeSnapshot{f: f, before: f.InForce}, nil
}

type fakeSnapshot struct {
	f      *Fake
	before *ir.Policy
}

func (s *fakeSnapshot) Rollback() ([]string, error) {
	s.f.record("Rollback", s.before)
	if s.f.Err != nil {
		return nil, s.f.Err
	}
	s.f.InForce = s.before
	return nil, nil
}

func (s *fakeSnapshot) Close() {}

// inForceSet is the set of the policy in force that t and s name.
func (f *Fake) inForceSet(t *ir.Table, s *ir.TableSet) (*ir.TableSet, error) {
	if f.InForce != nil {
		for _, ft := range f.InForce.Tables {
			for _, fs := range ft.Sets {
				if ft.Family == t.Family && ft.Name == t.Name && fs.Name == s.Name {
					return fs, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("set %s is not in force", s.Name)
}

func (f *Fake) SetKeys(p *ir.Policy, t *ir.Table, s *ir.TableSet) (ir.Set, error) {
	f.record("SetKeys", p)
	fs, err := f.inForceSet(t, s)
	if err != nil {
		return nil, err
	}
	return fs.Elements, nil
}

// ReplaceSet changes the set of the policy in force, as the kernel would.
func (f *Fake) ReplaceSet(p *ir.Policy, t *ir.Table, s *ir.TableSet, keys ir.Set) error {
	f.record("ReplaceSet", p)
	if f.Err != nil {
		return f.Err
	}
	fs, err := f.inForceSet(t, s)
	if err == nil {
		fs.Elements = keys
	}
	return err
}

var _ Firewall = (*Fake)(nil)
