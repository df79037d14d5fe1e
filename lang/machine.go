package lang

import (
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// LoadMachine reads a ruleset other programs wrote (what "nft list
// ruleset" prints of a machine) for the simulator, as Import does, but
// keeps every rule at its place: one the language cannot say becomes an
// ir.Unread rule, which the simulator answers "unknown" for rather than
// guess. Unseen are the tables and chains it reads nothing of (a family
// ksc has no tables of, an ingress chain), by their first errors: what
// they do with a packet is not known either (what decides nothing, an
// arp table or an empty chain, is left out without a word). The policy is for the
// simulator only: no backend writes an unread rule.
//
// cgroupRoot is where the machine's nft names cgroups from (see
// Config.CgroupRoot).
func LoadMachine(filename string, src []byte, cgroupRoot string) (p *ir.Policy, unseen ir.Diagnostics, ds ir.Diagnostics) {
	cur := src
	for {
		f, pds := Parse(filename, cur)
		if pds.HasErrors() {
			return nil, unseen, pds
		}
		p, bds := build(f, filename, Config{KeepUnread: true, CgroupRoot: cgroupRoot}, false)
		lines := strings.Split(string(cur), "\n")
		var errs ir.Diagnostics
		for _, d := range append(bds, p.ValidateRead()...).OnlyErrors() {
			if r := ruleAt(p, d.Pos); r != nil {
				// Validation refuses a rule the language can say where
				// the kernel took it (a field at a hook ksc does not
				// allow): what it does there is not known.
				*r = ir.Rule{Pos: r.Pos, Unread: &ir.Unread{Why: d.Message, Acts: true}}
				continue
			}
			errs = append(errs, d)
		}
		left, stuck := leaveOut(f, lines, errs)
		if stuck != nil {
			return nil, unseen, ir.Diagnostics{*stuck}
		}
		for _, l := range left {
			if !inertAt(f, l.first) {
				unseen = append(unseen, l.why)
			}
		}
		if len(errs) == 0 {
			fillUnreadText(p, lines)
			return p, unseen, nil
		}
		cur = []byte(strings.Join(lines, "\n"))
	}
}

// inertAt reports whether what starts at line decides nothing of an IP
// packet, so that leaving it out changes no answer: an arp table, a
// chain with no rules and no drop policy (iptables-nft's empty nat INPUT
// chain, on a hook ksc writes no nat chain at).
func inertAt(f *File, line int) bool {
	for _, it := range f.Items {
		t := it.Table
		if t == nil {
			continue
		}
		if t.Pos.Line == line {
			return t.First == "arp"
		}
	}
	return emptyChainAt(f, line)
}

// emptyChainAt reports whether a chain with no rules and no drop policy
// starts at line.
func emptyChainAt(f *File, line int) bool {
	for _, it := range f.Items {
		if it.Table == nil {
			continue
		}
		for _, c := range it.Table.Chains() {
			if c.Pos.Line == line {
				return emptyAccepting(c)
			}
		}
	}
	return false
}

// emptyAccepting reports a chain without rules whose policy is not drop.
func emptyAccepting(c *Chain) bool {
	for _, a := range c.Attrs {
		if a.Key == "policy" && a.Value == "drop" {
			return false
		}
	}
	for _, r := range chainRules(c) {
		if !header(r) {
			return false
		}
		for i, t := range r.Terms {
			if t.word() == "policy" && i+1 < len(r.Terms) && r.Terms[i+1].word() == "drop" {
				return false
			}
		}
	}
	return true
}

// ruleAt is the rule of p at pos's line, if any.
func ruleAt(p *ir.Policy, pos ir.Pos) *ir.Rule {
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if r.Pos.Line == pos.Line {
					return r
				}
			}
		}
	}
	return nil
}

// fillUnreadText gives each unread rule its line, as listed.
func fillUnreadText(p *ir.Policy, lines []string) {
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if r.Unread != nil && r.Pos.Line >= 1 && r.Pos.Line <= len(lines) {
					r.Unread.Text = oneLine(lines[r.Pos.Line-1])
				}
			}
		}
	}
}
