package main

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
)

// liveSource is the file name positions in the live ruleset refer to.
const liveSource = "live"

// machine is the ruleset in force in a namespace, read for the
// simulator with every other program's tables (lang.LoadMachine).
type machine struct {
	policy *ir.Policy
	// unseen are the tables and chains read nothing of (lang.LoadMachine).
	unseen ir.Diagnostics
	src    []byte
}

// readMachine reads the ruleset in force in the namespace at nsPath;
// with p, as applying p would leave it: p's tables in place of the live
// tables of their names (all of them, when p flushes the ruleset).
func readMachine(nsPath string, p *ir.Policy) (*machine, error) {
	src, err := listRuleset(nsPath)
	if err != nil {
		return nil, err
	}
	live, unseen, ds := lang.LoadMachine(liveSource, src)
	if ds.HasErrors() {
		return nil, fmt.Errorf("reading the live ruleset: %v", ds.Err())
	}
	legacy, err := legacyRules(nsPath)
	if err != nil {
		return nil, err
	}
	unseen = append(unseen, legacy...)
	m := &machine{policy: live, unseen: unseen, src: src}
	if p == nil {
		return m, nil
	}
	if p.FlushRuleset {
		m.policy, m.unseen = p, nil
		return m, nil
	}
	combined := *p
	combined.Tables = nil
	for _, t := range live.Tables {
		if !slicesContainsTable(p.Tables, t) {
			combined.Tables = append(combined.Tables, t)
		}
	}
	combined.Tables = append(combined.Tables, p.Tables...)
	m.policy = &combined
	return m, nil
}

func slicesContainsTable(ts []*ir.Table, t *ir.Table) bool {
	for _, u := range ts {
		if u.Family == t.Family && u.Name == t.Name {
			return true
		}
	}
	return false
}

// evaluate is sim.Evaluate on the machine, and why its verdict is not
// known, if it is not. A table or chain the machine has that ksc reads
// nothing of (a bridge's, a netdev or ingress chain) may decide any
// packet: then none gets a verdict.
func (m *machine) evaluate(pkt sim.Packet) (res sim.Result, unsure string) {
	res = sim.Evaluate(m.policy, pkt)
	if why := res.Unsure(); why != "" {
		return res, why
	}
	if r := res.Sent(); r != nil && res.Final.Dst != pkt.Dst {
		// Docker's published ports: delivered or forwarded, as the
		// machine's routes say, which ksc does not read yet.
		res.Verdict = ir.NoVerdict
		return res, fmt.Sprintf("rule %s sends it to %s, and whether the machine delivers it there or forwards it is routing's choice, which ksc does not read: ask about it as a forward packet", r.Pos, res.Final.Dst)
	}
	if len(m.unseen) > 0 {
		var blind []string
		for _, d := range m.unseen {
			blind = append(blind, d.Pos.String()+" ("+d.Message+")")
		}
		res.Verdict = ir.NoVerdict
		return res, "ksc cannot read " + strings.Join(blind, ", nor ")
	}
	return res, ""
}

// checkMachine warns of what the machine's other rules do to the policy:
// a dnat that takes arriving packets around it (sim.Detours), and every
// region whose verdict differs from the policy's alone (sim.Difference).
// It returns how many warnings it printed.
func checkMachine(e env, p *ir.Policy, m *machine) (int, error) {
	if len(m.unseen) > 0 {
		fmt.Fprintf(e.stderr, "warning: the machine has %s (%s), which ksc reads nothing of: what it does to the policy is not known\n", m.unseen[0].Pos, m.unseen[0].Message)
		return 1, nil
	}
	n := 0
	for _, d := range sim.Detours(p, m.policy) {
		n++
		by := "the chain's policy"
		if d.By != nil {
			by = d.By.Pos.String()
		}
		fmt.Fprintf(e.stderr, "warning: %s (table %s %s, not the policy's) sends packets that arrive for this machine to %s: the kernel forwards them, around the policy, which would %s them (%s)\n  e.g. %s\n",
			d.Rule.Pos, d.Table.Family, d.Table.Name, d.Rule.NAT.Addr, d.Policy, by, sim.FormatPacket(d.Packet))
		if d.Forwarded.Dir != 0 {
			fmt.Fprintf(e.stderr, "  and the machine's forward chains accept it: %s\n", sim.FormatPacket(d.Forwarded))
		}
		fmt.Fprintf(e.stderr, "  hint: drop what must not pass in a forward chain (Docker's DOCKER-USER, or a forward chain of the policy)\n")
	}
	changes, err := sim.Difference(p, m.policy)
	if err != nil {
		return n, err
	}
	// One warning for each rule of theirs that decides otherwise, with
	// its first region's packet: a ruleset beside Docker's changes
	// hundreds of regions, by a few rules.
	type key struct {
		by    *ir.Rule
		v     ir.Verdict
		maybe bool
	}
	var order []key
	groups := map[key][]sim.Change{}
	for _, c := range changes {
		k := key{c.NewBy, c.New, c.Witness == ""}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	for _, k := range order {
		n++
		cs := groups[k]
		first := cs[0]
		who, verb := "their chains' policies", strings.TrimSuffix(verdictVerb(k.v), "s")
		if k.by != nil {
			who, verb = k.by.Pos.String()+m.tableOf(k.by), verdictVerb(k.v)
		}
		regions := fmt.Sprintf("%d regions of packets", len(cs))
		if len(cs) == 1 {
			regions = "a region of packets"
		}
		if k.maybe {
			why := "no packet line can stand for them"
			if len(first.Maybe) > 0 {
				why = first.Maybe[0]
			}
			fmt.Fprintf(e.stderr, "warning: %s may change what the policy does with %s, because %s\n  e.g. %s: %s alone\n", who, regions, why, sim.FormatRegion(first.Dir, first.Packets), decision(first.Old, first.OldBy))
			continue
		}
		fmt.Fprintf(e.stderr, "warning: %s %s %s that the policy alone does not\n  e.g. %s: %s by %s alone, %s with the machine's other rules\n", who, verb, regions, first.Witness, first.Old, first.OldWhy, first.New)
	}
	return n, nil
}

// tableOf names the table of one of the machine's rules.
func (m *machine) tableOf(r *ir.Rule) string {
	for _, t := range m.policy.Tables {
		if t.Has(r) {
			return fmt.Sprintf(" (table %s %s)", t.Family, t.Name)
		}
	}
	return ""
}

func verdictVerb(v ir.Verdict) string {
	switch v {
	case ir.Accept:
		return "accepts"
	case ir.Drop:
		return "drops"
	case ir.Reject:
		return "rejects"
	}
	return "decides"
}

// legacyRules says where the namespace has iptables-legacy rules, which
// run at the same hooks as nft's and which nft does not list: ksc does
// not read them yet, so every answer is then unknown. Tables with empty
// built-in chains that accept are no rules.
func legacyRules(nsPath string) (ir.Diagnostics, error) {
	var ds ir.Diagnostics
	err := nsenter.Run(nsPath, func() error {
		for _, tool := range []string{"iptables-legacy-save", "ip6tables-legacy-save"} {
			path, err := exec.LookPath(tool)
			if err != nil {
				continue
			}
			out, err := exec.Command(path).Output()
			if err != nil {
				return fmt.Errorf("%s: %v", tool, err)
			}
			rules := 0
			for _, line := range strings.Split(string(out), "\n") {
				builtIn := strings.HasPrefix(line, ":") && !strings.Contains(line, " - ")
				if strings.HasPrefix(line, "-A ") || builtIn && !strings.Contains(line, " ACCEPT ") {
					rules++
				}
			}
			if rules > 0 {
				ds = append(ds, ir.Diagnostic{Severity: ir.Error, Pos: ir.Pos{File: tool},
					Message: fmt.Sprintf("%d iptables-legacy rules and chain policies, which nft does not list and ksc does not read yet", rules)})
			}
		}
		return nil
	})
	return ds, err
}
