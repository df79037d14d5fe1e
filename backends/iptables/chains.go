package iptables

// Which chains a policy's rules go to: the builtin chains, ksc's own
// (KSC-INPUT, ...) beside other programs' rules, and the nat and mangle
// tables' chains.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// A tableChain is one builtin chain of an iptables table: the hook it
// runs at, and the priority the kernel gives that table there, which
// decides its place among nft's chains and the other tables.
type tableChain struct {
	table, chain string
	hook         ir.Hook
	priority     int
}

// tableChains are the builtin chains ksc writes, each table's in
// iptables-save's order, the tables in the order ksc writes them.
var tableChains = []tableChain{
	{"filter", "INPUT", ir.HookInput, 0},
	{"filter", "FORWARD", ir.HookForward, 0},
	{"filter", "OUTPUT", ir.HookOutput, 0},
	{"nat", "PREROUTING", ir.HookPrerouting, -100},
	{"nat", "INPUT", ir.HookInput, 100},
	{"nat", "OUTPUT", ir.HookOutput, -100},
	{"nat", "POSTROUTING", ir.HookPostrouting, 100},
	{"mangle", "PREROUTING", ir.HookPrerouting, -150},
	{"mangle", "INPUT", ir.HookInput, -150},
	{"mangle", "FORWARD", ir.HookForward, -150},
	{"mangle", "OUTPUT", ir.HookOutput, -150},
	{"mangle", "POSTROUTING", ir.HookPostrouting, -150},
	{"raw", "PREROUTING", ir.HookPrerouting, -300},
	{"raw", "OUTPUT", ir.HookOutput, -300},
}

// typeTables are the tables that hold each type of chain: a filter
// chain's drop works in the raw and mangle tables too, a nat chain needs
// the nat table, and a route chain is the mangle table's OUTPUT chain,
// which routes the packet again when its mark changed.
var typeTables = map[ir.ChainType][]string{
	ir.ChainFilter: {"filter", "mangle", "raw"},
	ir.ChainNAT:    {"nat"},
	ir.ChainRoute:  {"mangle"},
}

// tableChainOf finds the builtin chain that runs at a base chain's hook and
// priority and can hold its type.
func tableChainOf(c *ir.Chain) (tableChain, bool) {
	for _, at := range tableChains {
		if at.priority == c.Priority && at.fits(c) {
			return at, true
		}
	}
	return tableChain{}, false
}

// fits reports whether the builtin chain runs at c's hook and its table
// holds c's type, at whatever priority.
func (at tableChain) fits(c *ir.Chain) bool {
	if c.Type == ir.ChainFilter && at == routeChainAt {
		return false // rerouting is a route chain's
	}
	return at.hook == c.Hook && slices.Contains(typeTables[c.Type], at.table)
}

// routeChainAt is where a route chain goes.
var routeChainAt = tableChain{"mangle", "OUTPUT", ir.HookOutput, -150}

// chainsOfTable lists one table's tableChains.
func chainsOfTable(table string) []tableChain {
	var out []tableChain
	for _, s := range tableChains {
		if s.table == table {
			out = append(out, s)
		}
	}
	return out
}

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

// builtinsOf lists a table's builtin chains, as iptables-save lists them;
// beside each, a policy without "flush ruleset" keeps a chain of its own.
func builtinsOf(table string) []string {
	var out []string
	for _, s := range chainsOfTable(table) {
		out = append(out, s.chain)
	}
	return out
}

// renderOwned writes the policy into ksc's own chains, for
// "iptables-restore --noflush", in each table the policy writes (chains:
// the policy chain that feeds each builtin chain): declaring a chain
// empties it, so a reload replaces ksc's rules and leaves every other
// rule and chain alone. An accept ends only ksc's chain (RETURN), as an
// accept in one nft base chain leaves the packet to the others (a nat
// chain's too: the kernel goes on to the next nat chain until one
// rewrites); a drop policy is a last DROP.
func renderOwned(w *writer, tables []string, chains map[tableChain]*ir.Chain, family ir.Family, ds *ir.Diagnostics) {
	tool := "iptables-restore"
	if family == ir.IPv6 {
		tool = "ip6tables-restore"
	}
	w.line(ir.Pos{}, "# Load with: "+tool+" --noflush < FILE (replaces ksc's own chains, leaves every other rule;")
	w.line(ir.Pos{}, "# ksc apply adds each -I jump only when it is not there yet)")
	for _, table := range tables {
		w.line(ir.Pos{}, "*"+table)
		// All are declared, so that a reload empties one the policy no
		// longer has: its rules must not outlive the policy.
		var used []tableChain
		for _, s := range chainsOfTable(table) {
			pos := ir.Pos{}
			if c := chains[s]; c != nil {
				used = append(used, s)
				pos = c.Pos
			}
			w.line(pos, fmt.Sprintf(":%s - [0:0]", ownChain(s.chain)))
		}
		for _, s := range used {
			c := chains[s]
			// A return ends ksc's chain with its policy: a last DROP or
			// the RETURN to the builtin chain.
			ret := "RETURN"
			if c.Policy == ir.Drop {
				ret = "DROP"
			}
			writeRules(w, table, ownChain(s.chain), family, c, verdictTargets{accept: "RETURN", ret: ret}, ds)
			if c.Policy == ir.Drop {
				w.line(c.Pos, "-A "+ownChain(s.chain)+" -j DROP")
			}
		}
		for _, s := range used {
			w.line(chains[s].Pos, jumpLine(s.chain))
		}
		w.line(ir.Pos{}, "COMMIT")
	}
}

// renderTable writes one table whole, as iptables-save lists it: each
// builtin chain with the policy of the chain that feeds it (ACCEPT where
// none does), the regular chains, and the rules.
func renderTable(w *writer, table string, chains map[tableChain]*ir.Chain, regular []*ir.Chain, family ir.Family, ds *ir.Diagnostics) {
	w.line(ir.Pos{}, "*"+table)
	for _, s := range chainsOfTable(table) {
		policy, pos := "ACCEPT", ir.Pos{}
		if c := chains[s]; c != nil {
			pos = c.Pos
			if c.Policy == ir.Drop {
				policy = "DROP"
			}
		}
		w.line(pos, ":"+s.chain+" "+policy+" [0:0]")
	}
	for _, c := range regular {
		w.line(c.Pos, fmt.Sprintf(":%s - [0:0]", c.Name))
	}
	to := verdictTargets{accept: "ACCEPT", ret: "RETURN"}
	for _, s := range chainsOfTable(table) {
		if c := chains[s]; c != nil {
			writeRules(w, table, s.chain, family, c, to, ds)
		}
	}
	for _, c := range regular {
		writeRules(w, table, c.Name, family, c, to, ds)
	}
	w.line(ir.Pos{}, "COMMIT")
}

// verdictTargets are the targets accept and return jump to: in ksc's own
// chains beside other rules, neither is what it is in a table of its own.
type verdictTargets struct{ accept, ret string }

// writeRules writes a chain's rules.
func writeRules(w *writer, table, chain string, family ir.Family, c *ir.Chain, to verdictTargets, ds *ir.Diagnostics) {
	for _, r := range c.Rules {
		lines, err := lowerRule(table, chain, family, r, to, &w.out.Sets)
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
// refuses what iptables' tables cannot hold.
func plan(p *ir.Policy, family ir.Family) (map[tableChain]*ir.Chain, ir.Diagnostics) {
	var ds ir.Diagnostics
	chains := map[tableChain]*ir.Chain{}
	for _, t := range p.Tables {
		if !t.Family.Covers(family) {
			continue
		}
		for _, c := range t.Chains {
			if !c.IsBase() {
				continue // see regularChains
			}
			s, ok := tableChainOf(c)
			if !ok {
				ds = append(ds, noTableChain(c))
				continue
			}
			if prev := chains[s]; prev != nil {
				ds.Errorf(c.Pos, "chain %s and chain %s at %s both hook %s at priority %d: iptables has one %s chain in its %s table", c.Name, prev.Name, prev.Pos, c.Hook, c.Priority, s.chain, s.table).Hint =
					"merge them into one chain; in nft an accept in one base chain does not skip the other, so ksc cannot merge them for you"
				continue
			}
			if s.table != "filter" {
				refuseRejects(c, s, &ds)
			}
			chains[s] = c
		}
	}
	return chains, ds
}

// noTableChain refuses a base chain that no builtin chain can stand for,
// naming the priorities iptables runs its tables at on that hook.
func noTableChain(c *ir.Chain) ir.Diagnostic {
	fits := slices.DeleteFunc(slices.Clone(tableChains), func(b tableChain) bool { return !b.fits(c) })
	slices.SortFunc(fits, func(a, b tableChain) int { return a.priority - b.priority })
	var at []string
	for _, s := range fits {
		at = append(at, fmt.Sprintf("%s (%d, table %s)", priorityName(s.priority), s.priority, s.table))
	}
	d := ir.Diagnostic{Pos: c.Pos}
	switch {
	case len(at) == 0:
		d.Message = fmt.Sprintf("the iptables target cannot express %s chain %s on hook %s: no iptables table holds one there", c.Type, c.Name, c.Hook)
		d.Hint = "use the nft target"
	default:
		d.Message = fmt.Sprintf("the iptables target cannot express %s chain %s at hook %s priority %d: iptables' tables run their chains there at %s only", c.Type, c.Name, c.Hook, c.Priority, strings.Join(at, ", "))
		d.Hint = "use one of those priorities for the iptables targets, or use the nft target"
	}
	if c.Type == ir.ChainFilter && c.Hook == ir.HookOutput && c.Priority == routeChainAt.priority {
		d.Hint = "iptables' mangle OUTPUT chain routes a packet again when its mark changed: write type route, or use another priority"
	}
	return d
}

// priorityName is nft's name for a priority iptables runs a table at.
func priorityName(priority int) string {
	for _, p := range ir.Priorities {
		if p.Value == priority {
			return p.Name
		}
	}
	return strconv.Itoa(priority)
}

// refuseRejects refuses a reject in a chain outside iptables' filter
// table, where the REJECT target does not work.
func refuseRejects(c *ir.Chain, s tableChain, ds *ir.Diagnostics) {
	for _, r := range c.Rules {
		if r.Verdict == ir.Reject {
			ds.Errorf(r.Pos, "the iptables target cannot express reject in chain %s: it is iptables' %s %s chain, and REJECT works in the filter table only", c.Name, s.table, s.chain).Hint =
				"drop here, or reject in a chain at priority filter"
		}
	}
}

// Tables lists the iptables tables the policy writes, filter first, then
// each table one of its base chains is in (tableChains). With "flush ruleset"
// the policy owns them whole; without, it keeps its own chains in each.
func Tables(p *ir.Policy) []string {
	used := map[string]bool{"filter": true}
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			if s, ok := tableChainOf(c); ok && c.IsBase() {
				used[s.table] = true
			}
		}
	}
	var out []string
	for _, s := range tableChains {
		if used[s.table] && !slices.Contains(out, s.table) {
			out = append(out, s.table)
		}
	}
	return out
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
			other := slices.IndexFunc(reached[c], func(b *ir.Chain) bool {
				s, ok := tableChainOf(b)
				return !ok || s.table != "filter"
			})
			switch {
			case other >= 0:
				// nft runs it in the other table's context; ksc's iptables
				// writer puts regular chains in the filter table.
				base := reached[c][other]
				ds.Errorf(c.Pos, "the iptables target cannot express regular chain %s, reached from %s chain %s: ksc writes regular chains in iptables' filter table, and %s is not there", c.Name, base.Type, base.Name, base.Name).Hint =
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
