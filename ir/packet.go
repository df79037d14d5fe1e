package ir

import (
	"net/netip"
	"slices"
)

// Packet is what a rule can see of one packet: the IR's own meaning of a
// match, evaluated without any backend. Tests compare the kernel's verdicts
// with it.
type Packet struct {
	// Iif and Oif are the input and output interfaces; empty where the
	// hook has none.
	Iif, Oif string
	Src, Dst netip.Addr
	Protocol Protocol
	// Sport and Dport are meaningful for protocols with ports.
	Sport, Dport uint16
	CtState      CtState
	// ICMPType and ICMPCode are meaningful for ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	Mark, CtMark       uint32
	// UID and GID own the socket that sent the packet (output only).
	UID, GID uint32
	// Pkttype is the link-layer packet type: 0 (host) for every packet a
	// local socket sends, broadcast or multicast for such packets received.
	Pkttype uint8
	// TCPFlags are the flag bits of a TCP packet (SYN for a first packet).
	TCPFlags uint8
	// DaddrType is the route type of the destination (RTN_*): local for
	// an address of this machine, broadcast, multicast, else unicast;
	// SaddrType that of the source.
	DaddrType, SaddrType uint8
	// HopLimit is the IPv4 TTL or IPv6 hop limit, when HopLimitSet;
	// else the packet has what the kernel sends (see Hops).
	HopLimit    uint8
	HopLimitSet bool
	// DSCP is the code point the packet is marked with, 0 unless a
	// packet line says otherwise, as a socket sends by default.
	DSCP uint8
	// Reply: the packet goes its connection's reply way (ct direction
	// reply), as an answer to a connection the other end opened; a
	// packet line says "dir reply". A new packet is never one.
	Reply bool
	// NoRouteBack: the machine's route back to the source does not leave
	// by the interface the packet came in by (a spoofed source, for
	// reverse-path filtering); a packet line says "rpf missing".
	NoRouteBack bool
	// DstRouted: a route covers the IPv4 broadcast or multicast
	// destination (a default route does), which the kernel's fib then
	// finds; a packet line says "route exists". See RouteExists.
	DstRouted bool
	// DstElsewhere: the destination is one of this machine's addresses,
	// but not of the interface the packet came in by (a loopback packet
	// to eth0's address); a packet line says "iifaddr unicast".
	DstElsewhere bool
	// Added are the keys rules have put into dynamic sets on the
	// packet's way so far: every dynamic set starts empty, as it is when
	// the policy is loaded, and a rule after an "add" sees the key.
	Added []Added
	// IifGroup and OifGroup are the groups of the input and output
	// interfaces: 0 (default) unless a packet line says "iifgroup 11".
	IifGroup, OifGroup uint32
	// CtStatus is its connection's status bits (see CtStatusNames),
	// meaningful for a tracked packet.
	CtStatus uint32
	// Priority is the traffic control class the sending socket gave the
	// packet (SO_PRIORITY); 0 for every packet that arrives.
	Priority uint32
	// Headers are the values a packet line gave header fields (Place),
	// written into the packet's bytes in order.
	Headers []HeaderValue
	// Cgroup is the cgroup of the socket that sent the packet, below the
	// cgroup2 root; empty for the root itself (output only).
	Cgroup string
}

// ICMPReplies pairs each ICMP query type with its reply, per protocol:
// conntrack tracks these as flows.
var ICMPReplies = map[Protocol]map[uint8]uint8{
	ICMP:   {8: 0, 13: 14, 15: 16, 17: 18},
	ICMPv6: {128: 129, 139: 140},
}

// ICMPQuery is the query the packet answers, when it is an ICMP reply.
func (p Packet) ICMPQuery() (uint8, bool) {
	for q, r := range ICMPReplies[p.Protocol] {
		if r == p.ICMPType {
			return q, true
		}
	}
	return 0, false
}

// Added is a key a rule put into a dynamic set.
type Added struct {
	Set *TableSet
	Key Key
}

// Add puts the packet's value of w's key into w's set.
func (p *Packet) Add(w *SetWrite) {
	if k, ok := p.Value(w.Key); ok && !p.inSet(w.Set, k) {
		p.Added = append(p.Added, Added{w.Set, k})
	}
}

func (p Packet) inSet(s *TableSet, k Key) bool {
	return slices.ContainsFunc(p.Added, func(a Added) bool { return a.Set == s && a.Key == k })
}

// Hops is the packet's TTL or hop limit: HopLimit, else what the kernel
// itself sends: 255 on neighbour discovery and 1 on MLD, which receivers
// ignore otherwise, and 64 on the rest.
func (p Packet) Hops() uint8 {
	if p.HopLimitSet {
		return p.HopLimit
	}
	if p.Protocol == ICMPv6 {
		switch {
		case p.ICMPType >= 133 && p.ICMPType <= 137:
			return 255
		case p.ICMPType >= 130 && p.ICMPType <= 132 || p.ICMPType == 143:
			return 1
		}
	}
	return 64
}

// Tracked reports a packet that has a connection: new, established or
// related (an invalid or untracked one has none, and so no ct mark,
// direction or status).
func (p Packet) Tracked() bool {
	return p.CtState == CtNew || p.CtState == CtEstablished || p.CtState == CtRelated
}

// Family is the packet's address family.
func (p Packet) Family() Family {
	if p.Src.Is4() {
		return IPv4
	}
	return IPv6
}

// Holds reports whether the match holds for the packet, the protocol its
// selector implies ("tcp dport") included.
func (m *Match) Holds(p Packet) bool {
	if m.Protocol != AnyTransport && p.Protocol != m.Protocol {
		return false
	}
	k, ok := p.Value(m.Field)
	if m.Mask != 0 {
		k = uintKey(k.Uint() & uint64(m.Mask))
	}
	if m.Set != nil && m.Set.Dynamic {
		return ok && p.inSet(m.Set, k) != (m.Op == Neq)
	}
	return ok && m.Effective().Has(k)
}

// Holds reports whether every match of the rule holds for the packet, and
// the rule's family is the packet's ("meta l4proto icmp" is IPv4's).
func (r *Rule) Holds(p Packet) bool {
	if f := r.Family(); f != Inet && f != p.Family() {
		return false
	}
	for _, m := range r.Matches {
		if !m.Holds(p) {
			return false
		}
	}
	return true
}

// Value is the packet's value of field f, or false when the packet has none
// (an IPv6 packet has no ip saddr, an input packet no oifname). It panics
// on a field it does not know: a new row of the fields table needs one
// here, and TestEveryFieldHasAPacketValue says so.
func (p Packet) Value(f Field) (Key, bool) {
	if spec := f.Spec(); spec.Place.Header != NoHeader {
		present := (spec.Family == Inet || spec.Family == p.Family()) && (spec.Protocol == AnyTransport || spec.Protocol == p.Protocol)
		if !present {
			return Key{}, false
		}
		return uintKey(uint64(p.headerValue(f))), true
	}
	if level := f.CgroupLevel(); level > 0 {
		path, ok := CgroupAncestor(p.Cgroup, level)
		if !ok || p.Iif != "" {
			return Key{}, false
		}
		return CgroupKey(path), true
	}
	switch f {
	case FieldIifname:
		// nft's meta iifname of a packet without one is the empty name
		// (so "iifname != x" holds), its iif no value at all; ksc's own
		// policies never ask (validation), other programs' do (Docker's
		// nat chains, reached from output).
		return interfaceSpan(p.Iif).Lo, true
	case FieldIif:
		return interfaceSpan(p.Iif).Lo, p.Iif != ""
	case FieldOifname:
		return interfaceSpan(p.Oif).Lo, true
	case FieldOif:
		return interfaceSpan(p.Oif).Lo, p.Oif != ""
	case FieldIPSaddr:
		return AddrKey(p.Src), p.Family() == IPv4
	case FieldIPDaddr:
		return AddrKey(p.Dst), p.Family() == IPv4
	case FieldIP6Saddr:
		return AddrKey(p.Src), p.Family() == IPv6
	case FieldIP6Daddr:
		return AddrKey(p.Dst), p.Family() == IPv6
	case FieldL4Proto:
		return uintKey(uint64(p.Protocol)), true
	case FieldSport:
		return uintKey(uint64(p.Sport)), p.Protocol.HasPorts()
	case FieldDport:
		return uintKey(uint64(p.Dport)), p.Protocol.HasPorts()
	case FieldCtState:
		return uintKey(uint64(p.CtState)), true
	case FieldICMPType, FieldICMPv6Type:
		return uintKey(uint64(p.ICMPType)), p.Protocol == f.Spec().Protocol
	case FieldICMPCode, FieldICMPv6Code:
		return uintKey(uint64(p.ICMPCode)), p.Protocol == f.Spec().Protocol
	case FieldMark:
		return uintKey(uint64(p.Mark)), true
	case FieldCtMark:
		return uintKey(uint64(p.CtMark)), p.Tracked()
	case FieldSkuid:
		return uintKey(uint64(p.UID)), p.Iif == ""
	case FieldSkgid:
		return uintKey(uint64(p.GID)), p.Iif == ""
	case FieldTCPFlags:
		return uintKey(uint64(p.TCPFlags)), p.Protocol == TCP
	case FieldPkttype:
		return uintKey(uint64(p.Pkttype)), true
	case FieldNfproto:
		return uintKey(map[Family]uint64{IPv4: 2, IPv6: 10}[p.Family()]), true
	case FieldIPProtocol:
		return uintKey(uint64(p.Protocol)), p.Family() == IPv4
	case FieldFibDaddrType:
		return uintKey(uint64(p.DaddrType)), true
	case FieldFibSaddrType:
		return uintKey(uint64(p.SaddrType)), true
	case FieldCtDirection:
		if p.Reply {
			return uintKey(1), p.Tracked()
		}
		return uintKey(0), p.Tracked()
	case FieldFibRPF:
		if p.NoRouteBack {
			return uintKey(0), p.Iif != ""
		}
		return uintKey(1), p.Iif != ""
	case FieldFibDaddrIifType:
		if p.DaddrType == AddrLocal && p.DstElsewhere {
			return uintKey(uint64(AddrUnicast)), p.Iif != "" // on the input interface
		}
		return uintKey(uint64(p.DaddrType)), p.Iif != ""
	case FieldFibDaddrOif:
		if p.RouteExists() {
			return uintKey(1), p.Iif != ""
		}
		return uintKey(0), p.Iif != ""
	case FieldMetaLength:
		return uintKey(uint64(len(p.Wire()))), true
	case FieldPriority:
		return uintKey(uint64(p.Priority)), true
	case FieldCtStatus:
		return uintKey(uint64(p.CtStatus)), p.Tracked()
	case FieldIifgroup:
		return uintKey(uint64(p.IifGroup)), p.Iif != ""
	case FieldOifgroup:
		return uintKey(uint64(p.OifGroup)), p.Oif != ""
	case FieldIPTTL:
		return uintKey(uint64(p.Hops())), p.Family() == IPv4
	case FieldIP6Hoplimit:
		return uintKey(uint64(p.Hops())), p.Family() == IPv6
	case FieldIPDSCP:
		return uintKey(uint64(p.DSCP)), p.Family() == IPv4
	case FieldIP6DSCP:
		return uintKey(uint64(p.DSCP)), p.Family() == IPv6
	case FieldIP6Nexthdr:
		// A Packet carries no IPv6 extension headers: the next header is
		// its transport protocol.
		return uintKey(uint64(p.Protocol)), p.Family() == IPv6
	}
	// A field the packet does not know would make every match on it miss
	// in silence: explain, test and lint would answer for another policy.
	panic("ir: a packet has no value of field " + f.String())
}

// AddrKey is an address as a key of an address field.
func AddrKey(a netip.Addr) Key {
	if a.Is4() {
		var k Key
		b := a.As4()
		copy(k[12:], b[:])
		return k
	}
	return a.As16()
}

// Set gives the packet a value of a field that a packet line states by
// its Detail word; it reports false for any other field.
func (p *Packet) Set(f Field, v uint32) bool {
	switch f {
	case FieldICMPCode, FieldICMPv6Code:
		p.ICMPCode = uint8(v)
	case FieldMark:
		p.Mark = v
	case FieldCtMark:
		p.CtMark = v
	case FieldSkuid:
		p.UID = v
	case FieldSkgid:
		p.GID = v
	case FieldPkttype:
		p.Pkttype = uint8(v)
	case FieldTCPFlags:
		p.TCPFlags = uint8(v)
	case FieldIPTTL, FieldIP6Hoplimit:
		p.HopLimit, p.HopLimitSet = uint8(v), true
	case FieldIPDSCP, FieldIP6DSCP:
		p.DSCP = uint8(v)
	case FieldFibRPF:
		p.NoRouteBack = v == 0
	case FieldFibDaddrOif:
		p.DstRouted = v == 1
	case FieldFibDaddrIifType:
		p.DstElsewhere = v == 1
	case FieldCtDirection:
		p.Reply = v == 1
	case FieldPriority:
		p.Priority = v
	case FieldCtStatus:
		p.CtStatus = v
	case FieldIifgroup:
		p.IifGroup = v
	case FieldOifgroup:
		p.OifGroup = v
	default:
		if f.Spec().Place.Header == NoHeader || f.Spec().Detail == "" {
			return false
		}
		p.Headers = append(p.Headers, HeaderValue{f, v})
	}
	return true
}

// RouteExists is what nft's "fib daddr oif" finds before the packet is
// routed: a route out for the destination. The kernel answers loopback
// packets with their own interface, a packet from 0.0.0.0 to
// 255.255.255.255 or 224.0.0.0/24 (DHCP's) with the one it came in by,
// and finds no route out for this machine's own addresses (a local
// route); a packet it forwards has one, and IPv6 multicast has its route
// on every interface. Only for other IPv4 broadcast and multicast do the
// machine's routes decide (RouteFree, DstRouted).
func (p Packet) RouteExists() bool {
	switch {
	case p.RouteFree():
		return p.DstRouted
	case p.Iif == "lo", p.Dst.IsMulticast(), p.Dst == limitedBroadcast:
		return true
	}
	return p.DaddrType != AddrLocal
}

// RouteFree reports whether the machine's routes decide RouteExists, so
// that a packet line may say "route exists" (as where a default route
// covers the destination) or "route missing".
func (p Packet) RouteFree() bool {
	if p.Iif == "lo" || !p.Dst.Is4() || p.Dst != limitedBroadcast && !p.Dst.IsMulticast() {
		return false
	}
	zeroNet := p.Src.Is4() && p.Src.As4()[0] == 0
	return !zeroNet || p.Dst.IsMulticast() && !localMulticast.Contains(p.Dst)
}

var (
	limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	localMulticast   = netip.MustParsePrefix("224.0.0.0/24")
)
