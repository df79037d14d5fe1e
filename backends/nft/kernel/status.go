package kernel

import (
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

// Status reports, for each rule of b, whether the namespace at nsPath holds
// it and what its counter says.
func Status(b *nft.Batch, nsPath string) ([]RuleStatus, error) {
	live, desired, err := liveAndDesired(b, nsPath)
	if err != nil {
		return nil, err
	}
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
