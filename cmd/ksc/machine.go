package main

import (
	"fmt"
	"strings"

	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/machine"
	"github.com/ksc-project/ksc/sim"
	"github.com/spf13/pflag"
)

// machineFlags are the flags of a command that can answer for the whole
// machine: --live, --netns, --in-force.
type machineFlags struct {
	live, inForce *bool
	netns         *string
	fs            *pflag.FlagSet
}

func registerMachineFlags(fs *pflag.FlagSet, live string) machineFlags {
	return machineFlags{
		live:    fs.Bool("live", false, live),
		inForce: fs.Bool("in-force", false, "with --live: the policy is in force already, with either backend; answer for the machine as it is"),
		netns:   namespaceFlag(fs),
		fs:      fs,
	}
}

// misused reports --netns or --in-force without --live, on stderr.
func (m machineFlags) misused(e env) bool {
	for _, name := range []string{"netns", "in-force"} {
		if m.fs.Changed(name) && !*m.live {
			fmt.Fprintf(e.stderr, "ksc %s: --%s goes with --live; add --live\n", m.fs.Name(), name)
			return true
		}
	}
	return false
}

// read reads the firewall of the namespace --netns names; with p, as
// applying p would leave it, or with --in-force, as it is.
func (m machineFlags) read(p *ir.Policy) (*machine.Machine, error) {
	live, err := machine.Read(enforce.Namespace(*m.netns).Path())
	if err != nil || p == nil || *m.inForce {
		return live, err
	}
	return live.With(p), nil
}

// checkMachine warns of what the machine's other rules do to the policy:
// a dnat that takes arriving packets around it (sim.Detours), and every
// region whose verdict differs from the policy's alone (sim.Difference).
// It returns how many warnings it printed.
func checkMachine(e env, p *ir.Policy, m *machine.Machine) (int, error) {
	if len(m.Unseen) > 0 {
		fmt.Fprintf(e.stderr, "warning: the machine has %s (%s), which ksc reads nothing of: what it does to the policy is not known\n", m.Unseen[0].Pos, m.Unseen[0].Message)
		return 1, nil
	}
	n := 0
	for _, d := range sim.Detours(p, m.Policy) {
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
	changes, err := sim.Difference(p, m.Policy)
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
			who, verb = k.by.Pos.String()+m.TableOf(k.by), verdictVerb(k.v)
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
