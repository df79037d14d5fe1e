package kernel

import (
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
)

// RuleStatus is one policy rule as found in the live ruleset.
type RuleStatus struct {
	Pos    ir.Pos
	Chain  string
	Text   string
	Loaded bool // a live rule in the same chain is identical
	// Counted says whether the live rule has a counter; Packets and Bytes
	// are its values.
	Counted        bool
	Packets, Bytes uint64
}

// A StatusReport is what Status found.
type StatusReport struct {
	// Rules are b's rules, each found or not, with its counter.
	Rules []RuleStatus
	// Differences are how the policy's tables differ from b, as Diff
	// writes them ('-' only live, '+' only b): a chain's policy, hook,
	// priority or type, a rule or chain missing, and any the policy does
	// not have. Empty when the tables are exactly b's.
	Differences []DiffLine
}

// Status reports, for each rule of b, whether the namespace at nsPath holds
// it and what its counter says, and every difference of b's tables from b.
func Status(b *nft.Batch, nsPath string) (StatusReport, error) {
	live, desired, err := liveAndDesired(b, nsPath)
	if err != nil {
		return StatusReport{}, err
	}
	ours := func(t *nftables.Table) bool { return b.Table(t) != nil }
	diff := changedLines(diffLines(lines(orderedLike(live, desired), ours, nil), lines(desired, ours, b)))
	rules, err := ruleStatus(b, live, desired)
	return StatusReport{Rules: rules, Differences: diff}, err
}

func ruleStatus(b *nft.Batch, live, desired *nft.Ruleset) ([]RuleStatus, error) {
	var out []RuleStatus
	for _, bt := range b.Tables {
		want := desired.Table(bt.Table.Family, bt.Table.Name)
		have := live.Table(bt.Table.Family, bt.Table.Name)
		for ci, bc := range bt.Chains {
			var liveChain *nft.LiveChain
			if have != nil {
				for _, ch := range have.Chains {
					if ch.Chain.Name == bc.Chain.Name {
						liveChain = ch
					}
				}
			}
			used := map[int]bool{}
			for ri, r := range bc.Rules {
				st := RuleStatus{Pos: r.Pos, Chain: bc.Chain.Name, Text: r.Text()}
				if want != nil && liveChain != nil && ci < len(want.Chains) && ri < len(want.Chains[ci].Rules) {
					fp := want.RuleFingerprint(want.Chains[ci].Rules[ri])
					for li, lr := range liveChain.Rules {
						if !used[li] && have.RuleFingerprint(lr) == fp {
							used[li] = true
							st.Loaded = true
							for _, e := range lr.Exprs {
								if c, ok := e.(*expr.Counter); ok {
									st.Counted, st.Packets, st.Bytes = true, c.Packets, c.Bytes
								}
							}
							break
						}
					}
				}
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// Remove deletes the batch's tables, and only those, in one transaction;
// a table that does not exist is no error.
func Remove(b *nft.Batch, nsPath string) error {
	c, err := Dial(nsPath)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	for _, t := range b.Tables {
		c.AddTable(t.Table)
		c.DelTable(t.Table)
	}
	return c.Flush()
}
