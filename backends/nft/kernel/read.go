package kernel

import (
	"fmt"
	"slices"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/backends/nft"
)

// Read returns the whole ruleset of the namespace c is connected to.
func Read(c *nftables.Conn) (*nft.Ruleset, error) {
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", err)
	}
	rs := &nft.Ruleset{}
	for _, t := range tables {
		lt := &nft.LiveTable{Table: t, Sets: map[string]*nft.LiveSet{}}
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("listing sets of %s: %w", t.Name, err)
		}
		for _, s := range sets {
			elems, err := c.GetSetElements(s)
			if err != nil {
				return nil, fmt.Errorf("listing set %s: %w", s.Name, err)
			}
			lt.Sets[s.Name] = &nft.LiveSet{Set: s, Elements: elems}
		}
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return nil, fmt.Errorf("listing rules of %s: %w", ch.Name, err)
			}
			lt.Chains = append(lt.Chains, &nft.LiveChain{Chain: ch, Rules: rules})
		}
		rs.Tables = append(rs.Tables, lt)
	}
	return rs, nil
}

// ReadNamespace reads the ruleset of the namespace at nsPath.
func ReadNamespace(nsPath string) (*nft.Ruleset, error) {
	c, err := Dial(nsPath)
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	return Read(c)
}

// Restore replaces the whole ruleset of the namespace at nsPath with r, in
// one transaction. It replays what Read saw: tables, chains, sets with
// their elements, and rules, re-linking rules to their anonymous sets.
func Restore(r *nft.Ruleset, nsPath string) error {
	c, err := Dial(nsPath)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	if err := queueRestore(c, r); err != nil {
		return err
	}
	return c.Flush()
}

// CheckRestorable proves that Restore would bring r back exactly: it
// restores r in a scratch namespace and compares what it reads back. A
// ruleset holding something ksc cannot replay (another tool's exotic
// expressions, say) fails here, before anything is changed.
func CheckRestorable(r *nft.Ruleset) error {
	scratch, err := scratchNamespace()
	if err != nil {
		return err
	}
	defer scratch.Close()
	c, err := dialHandle(scratch)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	if err := queueRestore(c, r); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("the current ruleset cannot be restored: %w", err)
	}
	back, err := Read(c)
	if err != nil {
		return err
	}
	if !slices.Equal(back.Fingerprint(nil), r.Fingerprint(nil)) {
		return fmt.Errorf("the current ruleset holds something ksc cannot restore exactly")
	}
	return nil
}

func queueRestore(c *nftables.Conn, r *nft.Ruleset) error {
	c.FlushRuleset()
	for _, t := range r.Tables {
		table := c.AddTable(&nftables.Table{Name: t.Table.Name, Family: t.Table.Family, Flags: t.Table.Flags})
		ids := map[string]*nftables.Set{}
		names := make([]string, 0, len(t.Sets))
		for name := range t.Sets {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ls := t.Sets[name]
			s := *ls.Set
			s.Table, s.ID = table, 0
			if s.Anonymous {
				s.Name = ""
			}
			if err := c.AddSet(&s, ls.Elements); err != nil {
				return fmt.Errorf("restoring set %s: %w", name, err)
			}
			ids[name] = &s
		}
		for _, ch := range t.Chains {
			chain := *ch.Chain
			chain.Table = table
			c.AddChain(&chain)
			for _, rule := range ch.Rules {
				exprs := make([]expr.Any, len(rule.Exprs))
				for i, e := range rule.Exprs {
					if l, ok := e.(*expr.Lookup); ok {
						if s := ids[l.SetName]; s != nil {
							copied := *l
							copied.SetID, copied.SetName = s.ID, s.Name
							e = &copied
						}
					}
					exprs[i] = e
				}
				c.AddRule(&nftables.Rule{Table: table, Chain: &chain, Exprs: exprs, UserData: rule.UserData})
			}
		}
	}
	return nil
}
