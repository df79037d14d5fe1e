package iptables

// Which chains a policy's rules go to: the builtin chains, ksc's own
// (KSC-INPUT, ...) beside other programs' rules, and the nat and mangle
// tables' chains.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// builtin maps hooks to the filter table's chains.
var builtin = map[ir.Hook]string{ir.HookInput: "INPUT", ir.HookForward: "FORWARD", ir.HookOutput: "OUTPUT"}

// Owned reports whether the policy's rules live in ksc's own chains
// (KSC-INPUT, …) beside other programs' rules: a policy without "flush
// ruleset" replaces only what is its own, as it does with nft. A policy
// with it owns the whole filter table.
func Owned(p *ir.Policy) bool { return !p.FlushRuleset }

// ownChain is the chain ksc keeps a builtin chain's rules in, for a policy
// that lives beside other rules.
func ownChain(builtin string) string { return "KSC-" + builtin }

// jumpLine is the rule that sends a builtin chain's packets through ksc's
// chain, first. It is the only line of the output that Apply leaves out
// when the jump is already there: iptables-restore --noflush would add it
// again.
func jumpLine(builtin string) string { return "-I " + builtin + " 1 -j " + ownChain(builtin) }

// renderOwned writes the policy into ksc's own chains, for
// "iptables-restore --noflush": declaring a chain empties it, so a reload
// replaces ksc's rules and leaves every other rule and chain alone. An
// accept ends only ksc's chain (RETURN), as an accept in one nft base
// chain leaves the packet to the others; a drop policy is a last DROP.
func renderOwned(w *writer, chains map[string]*ir.Chain, family ir.Family, ds *ir.Diagnostics) {
	tool := "iptables-restore"
	if family == ir.IPv6 {
		tool = "ip6tables-restore"
	}
	w.line(ir.Pos{}, "# Load with: "+tool+" --noflush < FILE (replaces ksc's own chains, leaves every other rule;")
	w.line(ir.Pos{}, "# ksc apply adds each -I jump only when it is not there yet)")
	w.line(ir.Pos{}, "*filter")
	// All three are declared, so that a reload empties one the policy no
	// longer has: its rules must not outlive the policy.
	var names []string
	for _, name := range []string{"INPUT", "FORWARD", "OUTPUT"} {
		pos := ir.Pos{}
		if c := chains[name]; c != nil {
			names = append(names, name)
			pos = c.Pos
		}
		w.line(pos, fmt.Sprintf(":%s - [0:0]", ownChain(name)))
	}
	for _, name := range names {
		c := chains[name]
		// A return ends ksc's chain with its policy: a last DROP or the
		// RETURN to the builtin chain.
		ret := "RETURN"
		if c.Policy == ir.Drop {
			ret = "DROP"
		}
		writeRules(w, ownChain(name), family, c, verdictTargets{accept: "RETURN", ret: ret}, ds)
		if c.Policy == ir.Drop {
			w.line(c.Pos, "-A "+ownChain(name)+" -j DROP")
		}
	}
	for _, name := range names {
		w.line(chains[name].Pos, jumpLine(name))
	}
	w.line(ir.Pos{}, "COMMIT")
}

// verdictTargets are the targets accept and return jump to: in ksc's own
// chains beside other rules, neither is what it is in a table of its own.
type verdictTargets struct{ accept, ret string }

// writeRules writes a chain's rules.
func writeRules(w *writer, chain string, family ir.Family, c *ir.Chain, to verdictTargets, ds *ir.Diagnostics) {
	for _, r := range c.Rules {
		lines, err := lowerRule(chain, family, r, to, &w.out.Sets)
		if err != nil {
			*ds = append(*ds, *err)
			continue
		}
		for _, args := range lines {
			w.line(r.Pos, restoreLine(args))
		}
	}
}

// plan picks, for each builtin chain, the policy chain that feeds it, and
// refuses what the filter table cannot hold.
func plan(p *ir.Policy, family ir.Family) (map[string]*ir.Chain, ir.Diagnostics) {
	var ds ir.Diagnostics
	chains := map[string]*ir.Chain{}
	for _, t := range p.Tables {
		if !t.Family.Covers(family) {
			continue
		}
		for _, c := range t.Chains {
			if !c.IsBase() {
				continue // see regularChains
			}
			switch c.Type {
			case ir.ChainNAT:
				continue // see natChains
			case ir.ChainRoute:
				continue // see routeChain
			case ir.ChainFilter:
			default:
				ds.Errorf(c.Pos, "the iptables target cannot express chain type %d", c.Type)
				continue
			}
			if c.Priority != 0 {
				// A chain elsewhere would run before or after other chains
				// than in nft, and the raw and mangle tables are not ksc's.
				ds.Errorf(c.Pos, "the iptables target cannot express chain %s at priority %d: ksc writes iptables' filter table, whose chains run at priority 0 (filter)", c.Name, c.Priority).Hint =
					"use priority filter (0) for the iptables targets, or use the nft target"
				continue
			}
			name, ok := builtin[c.Hook]
			if !ok {
				ds.Errorf(c.Pos, "iptables' filter table has no %s chain", c.Hook).Hint = "filter with hook input, forward or output, or use the nft target"
				continue
			}
			if prev := chains[name]; prev != nil {
				ds.Errorf(c.Pos, "chain %s and chain %s at %s both hook %s: iptables has one %s chain", c.Name, prev.Name, prev.Pos, c.Hook, name).Hint =
					"merge them into one chain; in nft an accept in one base chain does not skip the other, so ksc cannot merge them for you"
				continue
			}
			chains[name] = c
		}
	}
	return chains, ds
}

// chainsOfType lists the policy's chains of one type in the tables that
// see packets of family, in policy order.
func chainsOfType(p *ir.Policy, family ir.Family, typ ir.ChainType) []*ir.Chain {
	var out []*ir.Chain
	for _, t := range p.Tables {
		if !t.Family.Covers(family) {
			continue
		}
		for _, c := range t.Chains {
			if c.Type == typ {
				out = append(out, c)
			}
		}
	}
	return out
}

// routeChain picks the route chain that is the mangle table's OUTPUT
// chain, which iptables runs at mangle (-150) and routes again after, and
// refuses what it cannot hold.
func routeChain(p *ir.Policy, family ir.Family) (*ir.Chain, ir.Diagnostics) {
	var ds ir.Diagnostics
	var out *ir.Chain
	for _, c := range chainsOfType(p, family, ir.ChainRoute) {
		switch {
		case Owned(p):
			ds.Errorf(c.Pos, "the iptables target cannot express route chain %s in a policy without \"flush ruleset\": ksc keeps such a policy in its own filter chains beside other rules, and writes no mangle table there", c.Name).Hint =
				"add \"flush ruleset\" if the policy owns the mangle and filter tables, or use the nft target"
		case c.Priority != -150:
			ds.Errorf(c.Pos, "the iptables target cannot express route chain %s at priority %d: iptables' mangle OUTPUT chain runs at mangle (-150)", c.Name, c.Priority).Hint =
				"use priority mangle for the iptables targets, or use the nft target"
		case out != nil:
			ds.Errorf(c.Pos, "route chains %s and %s at %s both hook output: iptables has one mangle OUTPUT chain", c.Name, out.Name, out.Pos).Hint = "merge them into one chain"
		default:
			out = c
		}
		for _, r := range c.Rules {
			if r.Verdict == ir.Reject {
				ds.Errorf(r.Pos, "the iptables target cannot express reject in route chain %s: iptables' REJECT works in the filter table only", c.Name).Hint =
					"drop here, or reject in a filter chain"
			}
		}
	}
	return out, ds
}

// natHooks are the nat table's chains ksc writes, by hook, with the
// priority iptables runs each at.
var natHooks = map[ir.Hook]struct {
	name, priorityName string
	priority           int
}{
	ir.HookPrerouting:  {"PREROUTING", "dstnat", -100},
	ir.HookOutput:      {"OUTPUT", "dstnat", -100},
	ir.HookPostrouting: {"POSTROUTING", "srcnat", 100},
}

// natChains picks the nat chain that feeds each of the nat table's
// chains, by iptables name, and refuses what they cannot hold.
func natChains(p *ir.Policy, family ir.Family) (map[string]*ir.Chain, ir.Diagnostics) {
	var ds ir.Diagnostics
	out := map[string]*ir.Chain{}
	for _, c := range chainsOfType(p, family, ir.ChainNAT) {
		hook, known := natHooks[c.Hook]
		switch {
		case Owned(p):
			ds.Errorf(c.Pos, "the iptables target cannot express nat chain %s in a policy without \"flush ruleset\": ksc keeps such a policy in its own filter chains beside other rules, and writes no nat table there", c.Name).Hint =
				"add \"flush ruleset\" if the policy owns the nat and filter tables, or use the nft target"
		case !known:
			ds.Errorf(c.Pos, "the iptables target cannot express nat chain %s on hook %s", c.Name, c.Hook)
		case c.Priority != hook.priority:
			ds.Errorf(c.Pos, "the iptables target cannot express nat chain %s at priority %d: iptables' nat %s chain runs at %s (%d)", c.Name, c.Priority, hook.name, hook.priorityName, hook.priority).Hint =
				"use priority srcnat at postrouting, dstnat at prerouting, -100 at output, or use the nft target"
		case out[hook.name] != nil:
			ds.Errorf(c.Pos, "nat chains %s and %s at %s both hook %s: iptables has one nat %s chain", c.Name, out[hook.name].Name, out[hook.name].Pos, c.Hook, hook.name).Hint = "merge them into one chain"
		default:
			out[hook.name] = c
		}
	}
	return out, ds
}

// Tables lists the iptables tables the policy writes, filter first: a
// policy with a nat chain owns the nat table whole, one with a route chain
// the mangle table, as it owns the filter table.
func Tables(p *ir.Policy) []string {
	tables := []string{"filter"}
	for _, extra := range []struct {
		name string
		typ  ir.ChainType
	}{{"nat", ir.ChainNAT}, {"mangle", ir.ChainRoute}} {
		if hasChainType(p, extra.typ) {
			tables = append(tables, extra.name)
		}
	}
	return tables
}

func hasChainType(p *ir.Policy, typ ir.ChainType) bool {
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			if c.Type == typ {
				return true
			}
		}
	}
	return false
}

// reservedChainNames are what a chain of the policy cannot be called in
// iptables: the builtin chains and the targets.
var reservedChainNames = []string{"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING",
	"ACCEPT", "DROP", "RETURN", "REJECT", "QUEUE", "LOG", "NFLOG", "MARK", "CONNMARK"}

// regularChains lists the policy's regular chains that one family's
// filter table holds, by their own names, and refuses what iptables
// cannot hold: every table's chains share one filter table there.
func regularChains(p *ir.Policy, family ir.Family) ([]*ir.Chain, ir.Diagnostics) {
	var ds ir.Diagnostics
	var out []*ir.Chain
	seen := map[string]*ir.Chain{}
	for _, t := range p.Tables {
		if !t.Family.Covers(family) {
			continue
		}
		reached := ir.ReachedFrom(t)
		for _, c := range t.Chains {
			if c.IsBase() {
				continue
			}
			other := slices.IndexFunc(reached[c], func(b *ir.Chain) bool { return b.Type != ir.ChainFilter })
			switch {
			case other >= 0:
				// nft runs it in the nat or route chain's context; ksc's
				// iptables writer puts regular chains in the filter table.
				base := reached[c][other]
				ds.Errorf(c.Pos, "the iptables target cannot express regular chain %s, reached from %s chain %s: ksc writes regular chains in iptables' filter table", c.Name, base.Type, base.Name).Hint =
					"write its rules in chain " + base.Name + ", or use the nft target"
				continue
			case Owned(p):
				ds.Errorf(c.Pos, "the iptables target cannot express regular chain %s in a policy without \"flush ruleset\": such a policy lives in ksc's own chains beside other rules, where an accept is a RETURN to the builtin chain, and from a regular chain it would return to the chain that jumped", c.Name).Hint =
					"add \"flush ruleset\" if the policy owns the filter table, or use the nft target"
				continue
			case slices.Contains(reservedChainNames, c.Name):
				ds.Errorf(c.Pos, "iptables reserves the name %s for a builtin chain or a target", c.Name).Hint = "rename the chain for the iptables targets (names are case-sensitive: " + strings.ToLower(c.Name) + " will do)"
				continue
			case seen[c.Name] != nil:
				ds.Errorf(c.Pos, "chain %s is also declared at %s: iptables has one filter table for every table of the policy", c.Name, seen[c.Name].Pos).Hint = "rename one of them for the iptables targets"
				continue
			}
			seen[c.Name] = c
			out = append(out, c)
		}
	}
	// By name, as iptables-save lists them.
	slices.SortFunc(out, func(a, b *ir.Chain) int { return strings.Compare(a.Name, b.Name) })
	return out, ds
}
