package lint

import (
	"net/netip"
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
			if c.Hook == ir.HookInput && c.Policy == ir.Drop && !slices.ContainsFunc(reachable(c), mayAcceptSSH) {
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
		var could bool
		switch m.Field {
		case ir.FieldL4Proto:
			could = m.Effective().Intersect(ir.ProtocolSet(ir.TCP)) != nil
		case ir.FieldDport:
			could = m.Effective().Intersect(ir.PortSet(ir.PortRange{First: 22, Last: 22})) != nil
		case ir.FieldCtState:
			could = m.Effective().Intersect(ir.CtStateSet(ir.CtNew)) != nil
		case ir.FieldIifname, ir.FieldIif:
			could = !m.Effective().Equal(ir.InterfaceSet("lo"))
		case ir.FieldIPSaddr:
			// No SSH client has a broadcast or multicast source address.
			could = !m.Effective().Minus(ir.AddrSet(nonClients4)).IsEmpty()
		case ir.FieldIP6Saddr:
			could = !m.Effective().Minus(ir.AddrSet(nonClients6)).IsEmpty()
		default:
			could = true
		}
		if !could {
			return false
		}
	}
	return true
}

var (
	nonClients4 = []ir.AddrElem{
		{From: netip.MustParseAddr("224.0.0.0"), To: netip.MustParseAddr("239.255.255.255")},
		{From: netip.MustParseAddr("255.255.255.255"), To: netip.MustParseAddr("255.255.255.255")},
	}
	nonClients6 = []ir.AddrElem{{From: netip.MustParseAddr("ff00::"), To: netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}}
)
