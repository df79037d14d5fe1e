package backends

import (
	"context"
	"strings"
	"time"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/ir"
)

// iptablesFirewall is the iptables backend: iptables-restore and
// ip6tables-restore, in nf_tables or legacy mode.
type iptablesFirewall struct {
	nsPath   string
	mode     iptables.Mode
	interval time.Duration
}

func (f iptablesFirewall) Name() string { return "iptables" }

func (f iptablesFirewall) DryRun(p *ir.Policy) (string, error) {
	script, err := iptables.RenderScript(p)
	if err != nil {
		return "", err
	}
	return "# ksc apply --dry-run --target iptables: not applied\n" + string(script), nil
}

func (f iptablesFirewall) Apply(p *ir.Policy) error { return iptables.Apply(p, f.nsPath, f.mode) }

func (f iptablesFirewall) Diff(p *ir.Policy) ([]Change, error) {
	d, err := iptables.Status(p, f.nsPath, f.mode)
	return iptablesChanges(d), err
}

func (f iptablesFirewall) Status(p *ir.Policy) (Status, error) {
	d, err := iptables.Status(p, f.nsPath, f.mode)
	return Status{Differences: iptablesChanges(d)}, err
}

func (f iptablesFirewall) Remove(p *ir.Policy) error {
	if iptables.Owned(p) {
		return iptables.RemoveOwned(f.nsPath, f.mode)
	}
	return iptables.Remove(f.nsPath, f.mode, iptables.Tables(p))
}

func (f iptablesFirewall) Watch(ctx context.Context, k Keeper, report func(Repair)) error {
	return iptables.Watch(ctx, f.nsPath, f.mode, f.interval, k, func(r iptables.Repair) {
		report(Repair{Changes: iptablesChanges(r.Differences), Took: r.Took, Err: r.Err})
	})
}

func (f iptablesFirewall) SetKeys(_ *ir.Policy, _ *ir.Table, s *ir.TableSet) (ir.Set, error) {
	return iptables.SetKeys(f.nsPath, s.Name, s.Kind)
}

func (f iptablesFirewall) ReplaceSet(_ *ir.Policy, _ *ir.Table, s *ir.TableSet, keys ir.Set) error {
	return iptables.ReplaceSet(f.nsPath, s.Name, s.Kind, keys)
}

func (f iptablesFirewall) RollsBack() bool { return false }

func (f iptablesFirewall) Snapshot(*ir.Policy) (Snapshot, error) { return nil, ErrNoRollback }

// iptablesChanges turns iptables.Status's lines ("iptables + -P INPUT
// DROP") into changes ('+', "iptables -P INPUT DROP").
func iptablesChanges(lines []string) []Change {
	out := make([]Change, 0, len(lines))
	for _, l := range lines {
		tool, rest, _ := strings.Cut(l, " ")
		op, text, _ := strings.Cut(rest, " ")
		if len(op) != 1 {
			out = append(out, Change{'+', l})
			continue
		}
		out = append(out, Change{op[0], tool + " " + text})
	}
	return out
}
