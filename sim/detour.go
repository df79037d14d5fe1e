package sim

import (
	"maps"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// A Detour is another program's dnat that takes packets arriving for
// this machine, which the policy's own chains would drop, and sends them
// to another host: the kernel forwards them, and the policy's input
// chain never sees them. Docker's published ports do this (moby #22054).
type Detour struct {
	Rule  *ir.Rule // the dnat
	Table *ir.Table
	// Packet is one such packet, as it arrives; Policy is what the
	// policy's chains alone do with it, and By the rule that does it (nil
	// for a chain's policy).
	Packet Packet
	Policy ir.Verdict
	By     *ir.Rule
	// Forwarded is the packet as the dnat sends it on, out of an
	// interface the machine's rules name whose forward chains accept it;
	// Dir is zero when they name none, and where it goes is not known.
	Forwarded Packet
}

// Detours finds, for each dnat of machine's tables that are not policy's,
// a new packet arriving for this machine that the dnat sends elsewhere
// on machine and that policy alone drops or rejects. machine is the
// whole ruleset with policy's tables in it.
func Detours(policy, machine *ir.Policy) []Detour {
	var out []Detour
	for _, t := range machine.Tables {
		if slices.Contains(policy.Tables, t) {
			continue
		}
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if r.Verdict != ir.Translate || r.NAT == nil || r.NAT.Kind != ir.DNAT {
					continue
				}
				if d, ok := detour(policy, machine, t, r); ok {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

func detour(policy, machine *ir.Policy, t *ir.Table, r *ir.Rule) (Detour, bool) {
	cube, _ := region.OfMatches(r.Matches, func(ir.Field) bool { return true })
	cube = cube.With(ir.FieldCtState, ir.NumberSet(uint32(ir.CtNew)))
	if f := r.Family(); f != ir.Inet {
		cube = cube.With(ir.FieldNfproto, ir.NfprotoSet(f))
	} else if f := t.Family; f != ir.Inet {
		cube = cube.With(ir.FieldNfproto, ir.NfprotoSet(f))
	}
	w, ok := witness(In, cube, machine)
	if !ok {
		return Detour{}, false
	}
	on := Evaluate(machine, w)
	if on.Sent() != r || on.Final.Dst == w.Dst {
		return Detour{}, false
	}
	alone := Evaluate(policy, w)
	if alone.Verdict != ir.Drop && alone.Verdict != ir.Reject {
		return Detour{}, false
	}
	d := Detour{Rule: r, Table: t, Packet: w, Policy: alone.Verdict}
	if st := alone.Decided(); st != nil {
		d.By = st.Rule
	}
	names := interfaceNames(machine)
	for _, oif := range names {
		if oif == w.Iif {
			continue
		}
		// The packet as the dnat left it, routed on: a unicast
		// destination now, its connection marked as dnat'ed.
		fwd := on.Final
		fwd.Dir, fwd.Oif, fwd.DaddrType = Forward, oif, ir.AddrUnicast
		if Evaluate(machine, fwd).Verdict == ir.Accept {
			d.Forwarded = fwd
			return d, true
		}
	}
	return d, len(names) == 0
}

// interfaceNames are the interface names the policy's rules match, as
// written (no wildcards), sorted.
func interfaceNames(p *ir.Policy) []string {
	seen := map[string]bool{}
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					if region.Canonical(m.Field) != ir.FieldIifname && region.Canonical(m.Field) != ir.FieldOifname {
						continue
					}
					for _, sp := range m.Values {
						if name, ok := ir.InterfacePattern(sp); ok && name != "" && !strings.HasSuffix(name, "*") {
							seen[name] = true
						}
					}
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
