package sim

import (
	"net/netip"
	"slices"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// What nft's fib finds for a packet (fib daddr type, fib saddr type, fib
// daddr . iif type, fib daddr oif) follows from its addresses and its
// interfaces, which a region also narrows: a cube that holds both a
// packet for this machine's own address and "fib daddr type unicast"
// holds no packet at all. fibCubes cut the packets going one way by
// those classes, each cube with the values the fib fields take for it,
// so that a promise is decided over real packets only.

// addrClass is a part of the addresses that fib tells apart, with an
// address of it that stands for all.
type addrClass struct {
	set  ir.Set
	some netip.Addr
}

// classes cut the addresses of a field (ip saddr, ip6 daddr, ...) into
// the parts of specials, the rest last.
func classes(f ir.Field, specials ...string) []addrClass {
	rest := f.Spec().Kind.Universe()
	var out []addrClass
	for _, text := range specials {
		p := netip.MustParsePrefix(text)
		set := prefixSet(p).Intersect(rest)
		rest = rest.Minus(set)
		out = append(out, addrClass{set, ir.Addrs(f.Spec().Kind, set)[0].From})
	}
	some := netip.MustParseAddr("192.0.2.1")
	if f.Spec().Family == ir.IPv6 {
		some = netip.MustParseAddr("2001:db8::1")
	}
	return append(out, addrClass{rest, some})
}

func prefixSet(p netip.Prefix) ir.Set {
	return ir.AddrSet([]ir.AddrElem{{From: p.Addr(), To: ir.LastAddr(p), Prefix: p}})
}

// fibFields are the fields of nft's fib, which the cut decides.
var fibFields = []ir.Field{ir.FieldFibDaddrType, ir.FieldFibSaddrType, ir.FieldFibDaddrIifType, ir.FieldFibDaddrOif}

// fibCubes are the packets going dir of family, cut by what decides the
// fib fields p matches: nil when it matches none. Each value a field can
// take for a class (the machine's routes decide whether a route covers
// a broadcast, "route exists"; where an address is, "iifaddr") is in its
// cube, so that together they hold every packet that can go dir: a
// forward region loses only what no kernel forwards.
func fibCubes(p *ir.Policy, dir Direction, family ir.Family) []region.Cube {
	used := map[ir.Field]bool{}
	for m := range p.Matches() {
		if slices.Contains(fibFields, m.Field) {
			used[m.Field] = true
		}
	}
	if len(used) == 0 {
		return nil
	}
	saddr, daddr := ir.FieldIPSaddr, ir.FieldIPDaddr
	dsts := []string{"255.255.255.255/32", "224.0.0.0/24", "224.0.0.0/4", "127.0.0.0/8"}
	srcs := []string{"0.0.0.0/32", "0.0.0.0/8", "255.255.255.255/32", "224.0.0.0/4", "127.0.0.0/8"}
	if family == ir.IPv6 {
		saddr, daddr = ir.FieldIP6Saddr, ir.FieldIP6Daddr
		dsts, srcs = []string{"ff00::/8", "::1/128"}, []string{"ff00::/8", "::1/128"}
	}
	// An interface is lo or another; what this machine sends has an
	// output interface, what comes in an input one.
	ifname := map[Direction]ir.Field{In: ir.FieldIifname, Out: ir.FieldOifname, Forward: ir.FieldIifname}[dir]
	lo := ir.InterfaceSet("lo")
	ifaces := []struct {
		set  ir.Set
		name string
	}{{lo, "lo"}, {ifname.Spec().Kind.Universe().Minus(lo), "eth0"}}
	if dir == Forward {
		ifaces = ifaces[1:] // the kernel forwards nothing from or to lo
	}
	var out []region.Cube
	for _, iface := range ifaces {
		for _, dst := range classes(daddr, dsts...) {
			if dir == Forward && !forwardedTo(dst.some) {
				continue
			}
			for _, src := range classes(saddr, srcs...) {
				if dir == Forward && !forwardedFrom(src.some) {
					continue
				}
				pkt := Packet{Dir: dir, Packet: ir.Packet{Src: src.some, Dst: dst.some}}
				switch dir {
				case In:
					pkt.Iif = iface.name
				case Out:
					pkt.Oif = iface.name
				default:
					pkt.Iif, pkt.Oif = iface.name, "wg0"
				}
				pkt.DaddrType, pkt.SaddrType = daddrType(pkt), saddrType(pkt)
				c := region.Cube{}.With(ifname, iface.set).With(daddr, dst.set).With(saddr, src.set)
				for f := range used {
					if values, ok := fibValues(pkt.Packet, f); ok {
						c = c.With(f, values)
					}
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// forwardedTo reports whether the kernel may forward a packet to a: not
// to the limited broadcast, a loopback address or a link-local multicast
// group (a multicast router forwards the other groups).
func forwardedTo(a netip.Addr) bool {
	return a != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && !a.IsLoopback() && !a.IsLinkLocalMulticast() &&
		!netip.MustParsePrefix("224.0.0.0/24").Contains(a)
}

// forwardedFrom reports whether the kernel may forward a packet from a:
// a broadcast, multicast, loopback or 0.0.0.0/8 source is a martian it
// drops at routing.
func forwardedFrom(a netip.Addr) bool {
	return a != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && !a.IsLoopback() && !a.IsMulticast() && !(a.Is4() && a.As4()[0] == 0)
}

// fibValues are the values f takes for packets like pkt: its own, and
// for a field the machine's routes or addresses decide, the other too;
// false where such packets have no value of f (no input interface).
func fibValues(pkt ir.Packet, f ir.Field) (ir.Set, bool) {
	k, ok := pkt.Value(f)
	if !ok {
		return nil, false
	}
	values := ir.NewSet(ir.Span{Lo: k, Hi: k})
	switch {
	case f == ir.FieldFibDaddrOif && pkt.RouteFree():
		values = ir.NumberSet(0, 1)
	case f == ir.FieldFibDaddrIifType && pkt.DaddrType == ir.AddrLocal && !pkt.Dst.IsLoopback():
		values = ir.NumberSet(uint32(ir.AddrUnicast), uint32(ir.AddrLocal)) // unicast where the address is another interface's
	}
	return values, true
}
