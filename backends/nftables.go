package backends

import (
	"context"
	"fmt"
	"strings"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/ir"
)

// nftFirewall is the nft backend: netlink, through backends/nft/kernel.
type nftFirewall struct{ nsPath string }

func (f nftFirewall) Name() string { return "nft" }

func (f nftFirewall) DryRun(p *ir.Policy) (string, error) {
	b, err := nft.Lower(p)
	if err != nil {
		return "", err
	}
	return "# ksc apply --dry-run: one transaction, not sent\n" + strings.Join(b.Describe(), "\n") + "\n", nil
}

func (f nftFirewall) Apply(p *ir.Policy) error {
	b, err := nft.Lower(p)
	if err != nil {
		return err
	}
	return kernel.Apply(b, f.nsPath)
}

func (f nftFirewall) Diff(p *ir.Policy) ([]Change, error) {
	b, err := nft.Lower(p)
	if err != nil {
		return nil, err
	}
	d, err := kernel.Diff(b, f.nsPath)
	return changes(d), err
}

func (f nftFirewall) Status(p *ir.Policy) (Status, error) {
	b, err := nft.Lower(p)
	if err != nil {
		return Status{}, err
	}
	r, err := kernel.Status(b, f.nsPath)
	if err != nil {
		return Status{}, err
	}
	s := Status{Differences: changes(r.Differences)}
	for _, rs := range r.Rules {
		s.Rules = append(s.Rules, RuleStatus(rs))
	}
	return s, nil
}

func (f nftFirewall) Remove(p *ir.Policy) error {
	b, err := nft.Lower(p)
	if err != nil {
		return err
	}
	return kernel.Remove(b, f.nsPath)
}

func setRef(t *ir.Table, s *ir.TableSet) kernel.SetRef {
	return kernel.SetRef{Family: nft.TableFamily(t.Family), Table: t.Name, Set: s.Name, Kind: s.Kind}
}

func (f nftFirewall) SetKeys(_ *ir.Policy, t *ir.Table, s *ir.TableSet) (ir.Set, error) {
	return kernel.SetKeys(f.nsPath, setRef(t, s))
}

func (f nftFirewall) ReplaceSet(_ *ir.Policy, t *ir.Table, s *ir.TableSet, keys ir.Set) error {
	return kernel.ReplaceSet(f.nsPath, setRef(t, s), keys)
}

func (f nftFirewall) Watch(ctx context.Context, k Keeper, report func(Repair)) error {
	return kernel.Watch(ctx, f.nsPath, &nftKeeper{k: k}, func(r kernel.Repair) {
		report(Repair{By: r.By, Changes: changes(r.Changes), Took: r.Took, Err: r.Err, Paused: r.Paused})
	})
}

// nftKeeper is a Keeper as kernel.Watch asks it: of batches, each lowered
// once.
type nftKeeper struct {
	k       Keeper
	policy  *ir.Policy
	batch   *nft.Batch
	lowered *ir.Policy
}

func (n *nftKeeper) Desired() (*nft.Batch, func(), error) {
	p, release, err := n.k.Desired()
	if err != nil || p == nil {
		return nil, release, err
	}
	if p != n.lowered {
		b, err := nft.Lower(p)
		if err != nil {
			release()
			return nil, nil, err
		}
		n.batch, n.lowered = b, p
	}
	n.policy = p
	return n.batch, release, nil
}

func (n *nftKeeper) Repair(_ *nft.Batch, repair func() error) error {
	return n.k.Repair(n.policy, repair)
}

func (f nftFirewall) RollsBack() bool { return true }

func (f nftFirewall) Snapshot(p *ir.Policy) (Snapshot, error) {
	b, err := nft.Lower(p)
	if err != nil {
		return nil, err
	}
	s, err := kernel.TakeSnapshot(f.nsPath, kernel.Replaces(b), b.FlushRuleset)
	if err != nil {
		return nil, err
	}
	return nftSnapshot{s}, nil
}

type nftSnapshot struct{ s *kernel.Snapshot }

func (n nftSnapshot) Close() { n.s.Close() }

func (n nftSnapshot) Rollback() ([]string, error) {
	report, err := n.s.Rollback()
	var notes []string
	for _, r := range report.Kept {
		notes = append(notes, fmt.Sprintf("kept table %s: another program added it while waiting", r))
	}
	for _, r := range report.Replaced {
		notes = append(notes, fmt.Sprintf("table %s was re-created by another program while waiting; it is back as it was before the apply", r))
	}
	for _, r := range report.Skipped {
		notes = append(notes, fmt.Sprintf("left table %s alone: another program owns it now", r))
	}
	return notes, err
}

func changes(d []kernel.DiffLine) []Change {
	out := make([]Change, len(d))
	for i, l := range d {
		out[i] = Change(l)
	}
	return out
}
