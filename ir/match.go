package ir

import "net/netip"

// Match is one condition of a rule. The concrete types are InterfaceMatch,
// AddressMatch, ProtocolMatch, PortMatch and CtStateMatch.
type Match interface {
	Position() Pos
	// family is the only address family the match can hold for, or Inet.
	family() Family
}

// InterfaceMatch holds when the packet's input (or output) interface has one of
// Names. A name ending in '*' matches every interface with that prefix.
type InterfaceMatch struct {
	Pos    Pos
	Output bool
	Names  []string
}

// AddressMatch holds when the packet's source (or destination) address is in Set.
type AddressMatch struct {
	Pos         Pos
	Family      Family // IPv4 or IPv6
	Destination bool
	Set         []AddrElem
	// SetName, when not empty, names a large set (one read from a file) that
	// backends keep as one named set. Its elements may overlap: backends
	// merge them (see MergeRanges).
	SetName string
}

// ProtocolMatch holds when the packet's transport protocol is one of Protocols
// (nft "meta l4proto").
type ProtocolMatch struct {
	Pos       Pos
	Protocols []Protocol
}

// PortMatch holds when the source (or destination) port is in one of Ports.
// Protocol is TCP or UDP for "tcp dport"/"udp dport", which also imply that
// protocol; it is AnyTransport for "th dport", which relies on an earlier
// ProtocolMatch in the same rule.
type PortMatch struct {
	Pos         Pos
	Protocol    Protocol
	Destination bool
	Ports       []PortRange
}

// CtStateMatch holds when the connection tracking state is one of States.
type CtStateMatch struct {
	Pos    Pos
	States []CtState
}

func (m *InterfaceMatch) Position() Pos { return m.Pos }
func (m *AddressMatch) Position() Pos   { return m.Pos }
func (m *ProtocolMatch) Position() Pos  { return m.Pos }
func (m *PortMatch) Position() Pos      { return m.Pos }
func (m *CtStateMatch) Position() Pos   { return m.Pos }

func (m *InterfaceMatch) family() Family { return Inet }
func (m *AddressMatch) family() Family   { return m.Family }
func (m *PortMatch) family() Family      { return Inet }
func (m *CtStateMatch) family() Family   { return Inet }

// A protocol match of ICMP only (or ICMPv6 only) binds the rule to a family.
func (m *ProtocolMatch) family() Family {
	f := Inet
	for _, p := range m.Protocols {
		switch {
		case p.Family() == Inet:
			return Inet
		case f == Inet:
			f = p.Family()
		case f != p.Family():
			return Inet
		}
	}
	return f
}

// AddrElem is one element of an address set: a single address, a prefix or an
// inclusive range. From and To are always set; Prefix is valid only for prefixes.
type AddrElem struct {
	Pos    Pos
	From   netip.Addr
	To     netip.Addr
	Prefix netip.Prefix
}

// Family is IPv4 or IPv6.
func (e AddrElem) Family() Family {
	if e.From.Is4() {
		return IPv4
	}
	return IPv6
}

// IsSingle reports whether the element is one address.
func (e AddrElem) IsSingle() bool { return !e.Prefix.IsValid() && e.From == e.To }

// String writes the element as nft and iptables spell it.
func (e AddrElem) String() string {
	switch {
	case e.Prefix.IsValid():
		return e.Prefix.String()
	case e.From == e.To:
		return e.From.String()
	default:
		return e.From.String() + "-" + e.To.String()
	}
}

// Protocol is a transport protocol, by its IANA number.
type Protocol uint8

const (
	AnyTransport Protocol = 0
	ICMP         Protocol = 1
	TCP          Protocol = 6
	UDP          Protocol = 17
	ICMPv6       Protocol = 58
)

// Protocols maps the names the language accepts to protocols.
var Protocols = map[string]Protocol{"tcp": TCP, "udp": UDP, "icmp": ICMP, "icmpv6": ICMPv6, "ipv6-icmp": ICMPv6}

// String gives the protocol's name as nft prints it.
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMP:
		return "icmp"
	case ICMPv6:
		return "ipv6-icmp"
	default:
		return "th"
	}
}

// Family is the only family a protocol exists in, or Inet.
func (p Protocol) Family() Family {
	switch p {
	case ICMP:
		return IPv4
	case ICMPv6:
		return IPv6
	default:
		return Inet
	}
}

// HasPorts reports whether the protocol's header carries ports.
func (p Protocol) HasPorts() bool { return p == TCP || p == UDP }

// PortRange is an inclusive range of ports; a single port has First == Last.
type PortRange struct {
	Pos   Pos
	First uint16
	Last  uint16
}

func (r PortRange) String() string {
	if r.First == r.Last {
		return itoa(int(r.First))
	}
	return itoa(int(r.First)) + "-" + itoa(int(r.Last))
}

// CtState is a connection tracking state.
type CtState string

// CtStates lists the states the language accepts, in nft's order.
var CtStates = []CtState{"invalid", "established", "related", "new", "untracked"}
