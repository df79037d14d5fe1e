package difftest

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ksc-project/ksc/ir"
)

// edges collects the values next to every bound of every match: the
// packets most likely to show an off-by-one or a dropped match.
// Addresses are sorted into the lab's pools; numbers are kept by field.
type edges struct {
	fw, peer []netip.Addr
	numbers  map[ir.Field][]uint32
}

func (c *Case) edges() edges {
	e := edges{numbers: map[ir.Field][]uint32{}}
	// The return's bounds too: which packets sub's rules see turns on it.
	for _, ms := range append(slices.Clone(c.Written), c.Layout.Return) {
		for _, m := range ms {
			kind := m.Field.Spec().Kind
			for _, sp := range m.Values {
				for _, k := range []ir.Key{sp.Lo, sp.Hi} {
					if kind.Spec().Shape == ir.ShapeAddr {
						e.addAddr(kind, k)
						continue
					}
					e.numbers[m.Field] = append(e.numbers[m.Field], edgeNumbers(kind, k.Uint(), m.Mask)...)
				}
			}
		}
	}
	return e
}

func (e *edges) addAddr(kind ir.Kind, k ir.Key) {
	a, _ := netip.AddrFromSlice(k.Bytes(kind.Spec().Bits / 8))
	for _, x := range []netip.Addr{a.Prev(), a, a.Next()} {
		switch {
		case inPool(x, FW4, FW6):
			e.fw = append(e.fw, x)
		case inPool(x, Peer4, Peer6):
			e.peer = append(e.peer, x)
		}
	}
}

// edgeNumbers are the values to try at a bound v of a kind: its
// neighbours where every number is as good as another (ports), v alone
// where names mark the values that mean something (ICMP types), and v
// with the mask's bits set under a mask.
func edgeNumbers(kind ir.Kind, v uint64, mask uint32) []uint32 {
	spec := kind.Spec()
	out := []uint32{uint32(v)}
	if spec.Ranges && len(spec.Names) == 0 {
		if v > 0 {
			out = append(out, uint32(v-1))
		}
		if v < kind.Max() {
			out = append(out, uint32(v+1))
		}
	}
	if mask != 0 {
		out = append(out, uint32(v)|mask)
	}
	return out
}

func inPool(a netip.Addr, pools ...netip.Prefix) bool {
	for _, p := range pools {
		if a.IsValid() && p.Contains(a) {
			return true
		}
	}
	return false
}

// probes makes n probes for c: half aimed at a rule (every match made to
// hold, then often one moved to an edge), half at random edges.
func (g *Generator) probes(c *Case, n int) []Probe {
	e := c.edges()
	seen := map[string]bool{}
	var out []Probe
	for tries := 0; len(out) < n && tries < 20*n; tries++ {
		pr := g.randomProbe(c, e)
		if len(c.Written) > 0 && g.r.IntN(2) == 0 {
			g.aim(c, &pr, c.Written[g.r.IntN(len(c.Written))], e)
			if c.Layout.Return != nil && g.r.IntN(2) == 0 {
				// Often through the return as well, so that both ways
				// through sub are seen.
				g.aim(c, &pr, c.Layout.Return, e)
			}
		}
		g.place(c.Hook, &pr)
		// Each flow once a batch: conntrack remembers flows.
		key := flowKey(pr.Packet)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, pr)
	}
	return out
}

func flowKey(p ir.Packet) string {
	if p.Protocol == ir.ICMP || p.Protocol == ir.ICMPv6 {
		return fmt.Sprintf("%s %s %s %d/%d", p.Protocol, p.Src, p.Dst, p.ICMPType, p.ICMPCode)
	}
	return p.Protocol.String() + " " + netip.AddrPortFrom(p.Src, p.Sport).String() + " " + netip.AddrPortFrom(p.Dst, p.Dport).String()
}

// probe fields before they are placed as source or destination.
type draft struct {
	fw, peer     netip.Addr
	sport, dport uint16
}

func (g *Generator) randomProbe(c *Case, e edges) Probe {
	v6 := g.r.IntN(2) == 0
	pick := func(edges []netip.Addr, pool4, pool6 netip.Prefix) netip.Addr {
		var same []netip.Addr
		for _, a := range edges {
			if a.Is6() == v6 {
				same = append(same, a)
			}
		}
		if len(same) > 0 && g.r.IntN(3) > 0 {
			return same[g.r.IntN(len(same))]
		}
		pool := pool4
		if v6 {
			pool = pool6
		}
		return offset(pool, g.r.IntN(1<<(pool.Addr().BitLen()-pool.Bits())))
	}
	port := func(edges []uint32, first, last int) uint16 {
		var in []uint32
		for _, p := range edges {
			if int(p) >= first && int(p) <= last {
				in = append(in, p)
			}
		}
		if len(in) > 0 && g.r.IntN(3) > 0 {
			return uint16(in[g.r.IntN(len(in))])
		}
		return uint16(first + g.r.IntN(last-first+1))
	}
	d := draft{fw: pick(e.fw, FW4, FW6), peer: pick(e.peer, Peer4, Peer6),
		sport: port(e.numbers[ir.FieldSport], SourceFirst, SourceLast), dport: port(e.numbers[ir.FieldDport], ListenFirst, ListenLast)}
	pr := Probe{Packet: ir.Packet{Protocol: ir.TCP}}
	switch g.r.IntN(3) {
	case 0:
		pr.Packet.Protocol = ir.UDP
		pr.Established = g.r.IntN(3) == 0
	case 1:
		if c.Hook == ir.HookOutput {
			// ICMP is probed where a drop shows at once: as EPERM when the
			// firewall itself sends it.
			pr.Packet.Protocol, pr.Packet.ICMPType, pr.Packet.ICMPCode = g.icmp(v6, append(slices.Clone(e.numbers[ir.FieldICMPType]), e.numbers[ir.FieldICMPv6Type]...))
		}
	}
	// Every probe says its hop limit: a raw ICMPv6 socket sends 64 where
	// the kernel's own neighbour discovery sends 255.
	hops := append(slices.Clone(hopLimits), e.numbers[ir.FieldIPTTL]...)
	hops = slices.DeleteFunc(append(hops, e.numbers[ir.FieldIP6Hoplimit]...), func(v uint32) bool { return v == 0 || v > 255 })
	pr.Packet.HopLimit, pr.Packet.HopLimitSet = uint8(hops[g.r.IntN(len(hops))]), true
	points := slices.DeleteFunc(append(slices.Clone(codePoints), e.numbers[ir.FieldIPDSCP]...), func(v uint32) bool { return v > 63 })
	points = slices.DeleteFunc(append(points, e.numbers[ir.FieldIP6DSCP]...), func(v uint32) bool { return v > 63 })
	pr.Packet.DSCP = uint8(points[g.r.IntN(len(points))])
	if c.Hook == ir.HookOutput && g.r.IntN(3) > 0 {
		// The firewall's own packets carry their socket's mark.
		all := append(slices.Clone(marks), e.numbers[ir.FieldMark]...)
		all = append(all, e.numbers[ir.FieldCtMark]...)
		pr.Packet.Mark = all[g.r.IntN(len(all))]
	}
	pr.Packet.Src, pr.Packet.Dst, pr.Packet.Sport, pr.Packet.Dport = d.peer, d.fw, d.sport, d.dport
	if c.Hook == ir.HookOutput {
		pr.Packet.Src, pr.Packet.Dst = d.fw, d.peer
	}
	return pr
}

// icmp picks an ICMP (or ICMPv6) type and code, often one a rule names.
func (g *Generator) icmp(v6 bool, edges []uint32) (ir.Protocol, uint8, uint8) {
	proto, types := ir.ICMP, icmpTypes
	if v6 {
		proto, types = ir.ICMPv6, icmpv6Types
	}
	all := append(slices.Clone(types), edges...)
	return proto, uint8(all[g.r.IntN(len(all))]), uint8(icmpCodes[g.r.IntN(len(icmpCodes))])
}

// aim changes the probe so that each match of the rule holds where the
// lab allows it, then sometimes moves one field to a random edge.
func (g *Generator) aim(c *Case, pr *Probe, rule []*ir.Match, e edges) {
	for _, m := range rule {
		for range 30 {
			if m.Holds(pr.Packet) {
				break
			}
			alt := g.randomProbe(c, e)
			g.copyField(m.Field, &pr.Packet, alt.Packet)
			if m.Protocol != ir.AnyTransport {
				pr.Packet.Protocol = m.Protocol
			}
		}
	}
	if g.r.IntN(3) > 0 {
		alt := g.randomProbe(c, e)
		g.copyField(rule[g.r.IntN(len(rule))].Field, &pr.Packet, alt.Packet)
	}
	if pr.Packet.Protocol != ir.UDP {
		pr.Established = false
	}
	switch {
	case pr.Packet.Protocol == ir.ICMP && pr.Packet.Src.Is6():
		pr.Packet.Protocol = ir.ICMPv6 // the addresses decide the family
	case pr.Packet.Protocol == ir.ICMPv6 && pr.Packet.Src.Is4():
		pr.Packet.Protocol = ir.ICMP
	}
	if c.Hook != ir.HookOutput && pr.Packet.Protocol != ir.TCP && pr.Packet.Protocol != ir.UDP {
		pr.Packet.Protocol = ir.UDP // ICMP is probed in output only
	}
	if c.Hook != ir.HookOutput {
		pr.Packet.Mark = 0 // arriving packets carry no mark
	}
}

// copyField sets one field of p from q (addresses move with their family).
func (g *Generator) copyField(f ir.Field, p *ir.Packet, q ir.Packet) {
	switch f {
	case ir.FieldIPSaddr, ir.FieldIP6Saddr, ir.FieldIPDaddr, ir.FieldIP6Daddr, ir.FieldIifname, ir.FieldOifname:
		p.Src, p.Dst = q.Src, q.Dst
	case ir.FieldL4Proto, ir.FieldICMPType, ir.FieldICMPCode, ir.FieldICMPv6Type, ir.FieldICMPv6Code:
		p.Protocol, p.ICMPType, p.ICMPCode = q.Protocol, q.ICMPType, q.ICMPCode
		if (p.Protocol == ir.ICMP) != p.Src.Is4() && (p.Protocol == ir.ICMP || p.Protocol == ir.ICMPv6) {
			p.Src, p.Dst = q.Src, q.Dst // ICMP of the other family
		}
	case ir.FieldMark:
		p.Mark = q.Mark
	case ir.FieldIPTTL, ir.FieldIP6Hoplimit:
		p.HopLimit, p.HopLimitSet = q.HopLimit, q.HopLimitSet
	case ir.FieldIPDSCP, ir.FieldIP6DSCP:
		p.DSCP = q.DSCP
	case ir.FieldNfproto:
		p.Src, p.Dst = q.Src, q.Dst
	case ir.FieldSport:
		p.Sport = q.Sport
	case ir.FieldDport:
		p.Dport = q.Dport
	case ir.FieldCtState:
	}
}

// place sets the interface the lab's routes give the probe: the peer
// address's half of its pool decides it.
func (g *Generator) place(hook ir.Hook, pr *Probe) {
	peer, pool := pr.Packet.Src, Peer4
	if hook == ir.HookOutput {
		peer = pr.Packet.Dst
	}
	if peer.Is6() {
		pool = Peer6
	}
	half := 0
	if !netip.PrefixFrom(pool.Addr(), pool.Bits()+1).Contains(peer) {
		half = 1
	}
	pr.Packet.Iif, pr.Packet.Oif = Interfaces[half], ""
	// The firewall's own pool is local, the peer's unicast; the first
	// address of an IPv6 route's prefix is its subnet-router anycast
	// address, for fib as for the kernel.
	fwType := ir.AddrLocal
	if pr.Packet.Dst == FW6.Addr() && hook != ir.HookOutput || pr.Packet.Src == FW6.Addr() && hook == ir.HookOutput {
		fwType = ir.AddrAnycast
	}
	pr.Packet.DaddrType, pr.Packet.SaddrType = fwType, ir.AddrUnicast
	if hook == ir.HookOutput {
		pr.Packet.Iif, pr.Packet.Oif = "", Interfaces[half]
		pr.Packet.DaddrType, pr.Packet.SaddrType = ir.AddrUnicast, fwType
	}
}
