package nft

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Ruleset is a ruleset as read back from the kernel.
type Ruleset struct {
	Tables []*LiveTable
}

// LiveTable is a table with its chains and its sets (anonymous ones too).
type LiveTable struct {
	Table  *nftables.Table
	Chains []*LiveChain
	Sets   map[string]*LiveSet // by kernel name, e.g. "__set0"
}

// LiveChain is a chain and its rules.
type LiveChain struct {
	Chain *nftables.Chain
	Rules []*nftables.Rule
}

// LiveSet is a set and its elements.
type LiveSet struct {
	Set      *nftables.Set
	Elements []nftables.SetElement
}

// Read returns the whole ruleset of the namespace c is connected to.
func Read(c *nftables.Conn) (*Ruleset, error) {
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", err)
	}
	rs := &Ruleset{}
	for _, t := range tables {
		lt := &LiveTable{Table: t, Sets: map[string]*LiveSet{}}
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("listing sets of %s: %w", t.Name, err)
		}
		for _, s := range sets {
			elems, err := c.GetSetElements(s)
			if err != nil {
				return nil, fmt.Errorf("listing set %s: %w", s.Name, err)
			}
			lt.Sets[s.Name] = &LiveSet{Set: s, Elements: elems}
		}
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return nil, fmt.Errorf("listing rules of %s: %w", ch.Name, err)
			}
			lt.Chains = append(lt.Chains, &LiveChain{Chain: ch, Rules: rules})
		}
		rs.Tables = append(rs.Tables, lt)
	}
	return rs, nil
}

// ReadNamespace reads the ruleset of the namespace at nsPath.
func ReadNamespace(nsPath string) (*Ruleset, error) {
	c, err := Dial(nsPath)
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	return Read(c)
}

// Table returns the live table of that family and name, or nil.
func (r *Ruleset) Table(family nftables.TableFamily, name string) *LiveTable {
	for _, t := range r.Tables {
		if t.Table.Family == family && t.Table.Name == name {
			return t
		}
	}
	return nil
}

// Restore replaces the whole ruleset of the namespace at nsPath with r, in
// one transaction. It replays what Read saw: tables, chains, sets with
// their elements, and rules, re-linking rules to their anonymous sets.
func Restore(r *Ruleset, nsPath string) error {
	c, err := Dial(nsPath)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	if err := r.queueRestore(c); err != nil {
		return err
	}
	return c.Flush()
}

// CheckRestorable proves that Restore would bring r back exactly: it
// restores r in a scratch namespace and compares what it reads back. A
// ruleset holding something ksc cannot replay (another tool's exotic
// expressions, say) fails here, before anything is changed.
func CheckRestorable(r *Ruleset) error {
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
	if err := r.queueRestore(c); err != nil {
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

func (r *Ruleset) queueRestore(c *nftables.Conn) error {
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

// Fingerprint lists the ruleset as canonical lines, one for each table,
// chain and rule, with anonymous sets written out in place and counter
// values left out: two rulesets that behave the same have equal
// fingerprints. Tables that keep returns false for are skipped.
func (r *Ruleset) Fingerprint(keep func(*nftables.Table) bool) []string {
	var lines []string
	for _, t := range r.Tables {
		if keep != nil && !keep(t.Table) {
			continue
		}
		lines = append(lines, "table "+tableName(t.Table))
		for _, ch := range t.Chains {
			lines = append(lines, "chain "+tableName(t.Table)+" "+ch.Chain.Name+" "+chainSpec(ch.Chain))
			for _, rule := range ch.Rules {
				lines = append(lines, "rule "+tableName(t.Table)+" "+ch.Chain.Name+" "+t.RuleFingerprint(rule))
			}
		}
	}
	return lines
}

// RuleFingerprint is the canonical form of one rule of t.
func (t *LiveTable) RuleFingerprint(rule *nftables.Rule) string {
	parts := make([]string, 0, len(rule.Exprs)+1)
	for _, e := range rule.Exprs {
		switch e := e.(type) {
		case *expr.Counter:
			parts = append(parts, "counter")
		case *expr.Lookup:
			parts = append(parts, fmt.Sprintf("lookup(invert=%v %s)", e.Invert, t.setFingerprint(e.SetName)))
		default:
			parts = append(parts, fmt.Sprintf("%T%+v", e, e))
		}
	}
	if len(rule.UserData) > 0 {
		parts = append(parts, fmt.Sprintf("userdata=%x", rule.UserData))
	}
	return strings.Join(parts, " ")
}

func (t *LiveTable) setFingerprint(name string) string {
	s := t.Sets[name]
	if s == nil {
		return "missing set " + name
	}
	elems := make([]string, len(s.Elements))
	for i, e := range s.Elements {
		elems[i] = fmt.Sprintf("%x/%v", e.Key, e.IntervalEnd)
	}
	sort.Strings(elems)
	label := name
	if s.Set.Anonymous {
		label = "anonymous"
	}
	return fmt.Sprintf("%s %s interval=%v {%s}", label, s.Set.KeyType.Name, s.Set.Interval, strings.Join(elems, ","))
}

func tableName(t *nftables.Table) string {
	return familyName(t.Family) + " " + t.Name
}

// familyName names every table family, including those ksc never writes
// but may find in a live ruleset.
func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family-%d", f)
}

func chainSpec(c *nftables.Chain) string {
	spec := fmt.Sprintf("type %s", c.Type)
	if c.Hooknum != nil {
		spec += fmt.Sprintf(" hook %d", *c.Hooknum)
	}
	if c.Priority != nil {
		spec += fmt.Sprintf(" priority %d", *c.Priority)
	}
	if c.Policy != nil {
		spec += fmt.Sprintf(" policy %d", *c.Policy)
	}
	return spec
}
