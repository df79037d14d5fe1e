package lint

import (
	"slices"

	"github.com/ksc-project/ksc/ir"
)

// BlocksNewSSH reports whether p drops new SSH connections (tcp/22): an
// input chain with a drop policy and no accept rule that could let one in.
// Applied over SSH, such a policy keeps the current session at best, and
// nobody gets back in once it ends. It returns the chain's position.
func BlocksNewSSH(p *ir.Policy) (ir.Pos, bool) {
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			if c.Hook == ir.HookInput && c.Policy == ir.Drop && !slices.ContainsFunc(c.Rules, mayAcceptSSH) {
				return c.Pos, true
			}
		}
	}
	return ir.Pos{}, false
}

// mayAcceptSSH is deliberately generous: any accept rule whose matches
// could hold for a new TCP connection to port 22, from any interface or
// address, counts.
func mayAcceptSSH(r *ir.Rule) bool {
	if r.Verdict != ir.Accept {
		return false
	}
	for _, m := range r.Matches {
		switch m := m.(type) {
		case *ir.ProtocolMatch:
			if !slices.Contains(m.Protocols, ir.TCP) {
				return false
			}
		case *ir.PortMatch:
			if m.Protocol == ir.UDP {
				return false // no TCP packet matches a udp port
			}
			if !m.Destination {
				continue
			}
			if !slices.ContainsFunc(m.Ports, func(pr ir.PortRange) bool { return pr.First <= 22 && 22 <= pr.Last }) {
				return false
			}
		case *ir.CtStateMatch:
			if !slices.Contains(m.States, "new") {
				return false
			}
		case *ir.InterfaceMatch:
			if len(m.Names) == 1 && m.Names[0] == "lo" {
				return false
			}
		case *ir.AddressMatch:
			// No SSH client has a broadcast or multicast source address.
			if !m.Destination && !slices.ContainsFunc(m.Set, func(e ir.AddrElem) bool {
				return !(e.From == e.To && e.From.Is4() && e.From.As4() == [4]byte{255, 255, 255, 255}) && !e.From.IsMulticast()
			}) {
				return false
			}
		}
	}
	return true
}
