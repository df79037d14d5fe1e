package main

import (
	"fmt"
	"strings"

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
