package ir

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Op is how a match compares a field with its values.
type Op uint8

const (
	// Eq holds when the field's value is in the set.
	Eq Op = iota
	// Neq holds when it is not.
	Neq
)

func (o Op) String() string {
	if o == Neq {
		return "!="
	}
	return "=="
}

// Match is one condition of a rule: Field Op Values. Matches of one rule
// are ANDed; the values of one match are ORed.
type Match struct {
	Pos Pos
	// End is just after the match's text, for carets under the whole match.
	End   Pos
	Field Field
	Op    Op
	// Values holds keys of the field's kind (see the Key constructors).
	Values Set
	// Protocol is the transport protocol the selector implied ("tcp dport"
	// implies TCP), or AnyTransport. Normalize turns it into an l4proto
	// match and clears it.
	Protocol Protocol
	// SetName, when not empty, names a large address set (one read from a
	// file, or one the table declares) that backends keep as one named set.
	SetName string
	// Set is the table's declared set the match looks up ("ip daddr
	// @VPN_SERVERS"), whose elements other programs may change once it is
	// loaded: Values are only those it starts with. Nil for other matches.
	Set *TableSet
	// FromNAT marks the meta nfproto match that a rewrite of one family
	// ("snat ip to", "dnat ip6 to") gives its rule. nft writes no check
	// for it: the rewrite does nothing to a packet of the other family,
	// which goes on to the next rule, as the match would send it.
	FromNAT bool
	// Mask, when not zero, is applied to the field's value before it is
	// compared ("meta mark and 0xff == 0x1"); only Maskable fields have one.
	Mask uint32
	// Spelling is how the values were written, where nft loads and lists
	// two spellings of one meaning differently. It never changes what the
	// match holds for.
	Spelling Spelling
}

// Spelling is how a match's values were written, kept so that what ksc
// loads lists in nft as the user wrote it.
type Spelling uint8

const (
	// Plain leaves the form to ksc: an address range that is a prefix is
	// written as the prefix, conntrack states as bits ("established,new").
	Plain Spelling = iota
	// AsRange is one address or port range written FIRST-LAST, which nft
	// compares as a range even when it is a prefix or a single value.
	AsRange
	// AsSet is several conntrack states written in braces, which nft looks
	// up in a set rather than testing as bits: "ct state { new, established }".
	AsSet
)

// Effective returns the values for which the match holds: Values for Eq,
// everything else of the field's kind for Neq.
func (m *Match) Effective() Set {
	if m.Op == Neq {
		return m.Field.Spec().Kind.Universe().Minus(m.Values)
	}
	return m.Values
}

// Text writes the match in the policy language (and nft): "oifname != eth0".
func (m *Match) Text() string {
	if m.Field.Spec().Kind.Spec().Shape == ShapeFlags {
		return m.flagsText()
	}
	op := " "
	if m.Op == Neq {
		op = " != "
	}
	sel := m.Field.String()
	if m.Protocol != AnyTransport {
		sel = m.Protocol.String() + strings.TrimPrefix(sel, "th")
	}
	if m.Mask != 0 {
		sel += " and " + KindMark.NameOf(m.Mask)
		op = map[Op]string{Eq: " == ", Neq: " != "}[m.Op]
	}
	if m.Set != nil {
		return sel + op + "@" + m.SetName
	}
	return sel + op + m.ValuesText()
}

// ValuesText writes the match's values as the language does (see
// FormatValues), in the spelling they were written in.
func (m *Match) ValuesText() string {
	k := m.Field.Spec().Kind
	switch {
	case m.Spelling == AsRange && len(m.Values) == 1:
		sp := m.Values[0]
		if k.Spec().Shape == ShapeAddr {
			return keyAddr(k, sp.Lo).String() + "-" + keyAddr(k, sp.Hi).String()
		}
		return k.NumberOf(uint32(sp.Lo.Uint())) + "-" + k.NumberOf(uint32(sp.Hi.Uint()))
	case k.Spec().Shape == ShapeStates && (m.Spelling == AsSet || m.Op == Neq && len(m.Values) > 1):
		// Braces look the states up. Negated, they must: nft compares
		// "!= a,b" with a|b, which no packet has.
		return "{ " + strings.Join(ValueStrings(k, m.Values), ", ") + " }"
	}
	return FormatValues(k, m.Values)
}

// FormatValues writes values as the language does: one bare, several in
// braces, states with commas. Names (of interfaces) are quoted.
func FormatValues(k Kind, s Set) string {
	shape := k.Spec().Shape
	if shape == ShapeAddr && len(s) > 1 {
		return formatAddrs(k, s)
	}
	parts := ValueStrings(k, s)
	switch {
	case shape == ShapeName || shape == ShapePath:
		for i, p := range parts {
			parts[i] = strconv.Quote(p)
		}
	case shape == ShapeStates:
		return strings.Join(parts, ",")
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// formatAddrs is FormatValues for several addresses, written into one
// string: an inline set of 100,000 addresses, held as AddrElems and a
// string each on the way, had made the nft text cost more memory than
// the policy's whole syntax tree.
func formatAddrs(k Kind, s Set) string {
	var b strings.Builder
	b.Grow(len(s) * 20) // "192.0.2.0/24, "; the text of an IPv6 set grows
	b.WriteString("{ ")
	var text []byte
	for i, sp := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		text = addrElem(k, sp).AppendTo(text[:0])
		b.Write(text)
	}
	b.WriteString(" }")
	return b.String()
}

// ValueStrings writes each element of a set as the language spells it.
func ValueStrings(k Kind, s Set) []string {
	var out []string
	switch spec := k.Spec(); {
	case spec.Shape == ShapeName:
		for _, sp := range s {
			name, _ := InterfacePattern(sp)
			out = append(out, name)
		}
	case spec.Shape == ShapePath:
		for _, sp := range s {
			path, ok := CgroupPath(sp)
			if !ok {
				path = "?" // not one cgroup: checkCgroups refuses such a match
			}
			out = append(out, path)
		}
		slices.Sort(out) // keys are digests: their order is none
	case spec.Shape == ShapeAddr:
		for _, e := range Addrs(k, s) {
			out = append(out, e.String())
		}
	default:
		for _, sp := range s {
			lo, hi := sp.Lo.Uint(), sp.Hi.Uint()
			if !spec.Ranges && hi-lo < 256 {
				// Each value by itself: { host, broadcast } is no range.
				for v := lo; v <= hi; v++ {
					out = append(out, k.NameOf(uint32(v)))
				}
				continue
			}
			text := k.NameOf(uint32(lo))
			if lo != hi {
				text = k.NumberOf(uint32(lo)) + "-" + k.NumberOf(uint32(hi))
			}
			out = append(out, text)
		}
	}
	return out
}

// InterfaceSet builds a set of interface names; "name*" is every name with
// that prefix. The names must have passed CheckInterfaceName.
func InterfaceSet(names ...string) Set {
	spans := make([]Span, len(names))
	for i, n := range names {
		spans[i] = interfaceSpan(n)
	}
	return OwnSet(spans)
}

func interfaceSpan(name string) Span {
	var lo Key
	prefix, wild := strings.CutSuffix(name, "*")
	copy(lo[:], prefix)
	if !wild {
		return Span{lo, lo}
	}
	hi := lo
	for i := len(prefix); i < len(hi); i++ {
		hi[i] = 0xff
	}
	return Span{lo, hi}
}

// InterfacePattern writes a span as an interface name or "prefix*", or
// reports that it is neither (a negation can cut a wildcard into such).
func InterfacePattern(sp Span) (string, bool) {
	n := 0
	for n < len(sp.Lo) && sp.Lo[n] != 0 {
		n++
	}
	name := string(sp.Lo[:n])
	for i := n; i < len(sp.Lo); i++ {
		if sp.Lo[i] != 0 {
			return "", false
		}
	}
	if sp.Lo == sp.Hi {
		return name, n > 0 && n <= MaxInterfaceName
	}
	if string(sp.Hi[:n]) != name {
		return "", false
	}
	for i := n; i < len(sp.Hi); i++ {
		if sp.Hi[i] != 0xff {
			return "", false
		}
	}
	return name + "*", n > 0
}

// AddrSet builds a set of addresses, prefixes and ranges of one family.
func AddrSet(elems []AddrElem) Set {
	spans := make([]Span, len(elems))
	for i, e := range elems {
		spans[i] = Span{AddrKey(e.From), AddrKey(e.To)}
	}
	return OwnSet(spans)
}

// Addrs lists a set of addresses as elements, each span as a prefix when
// it is exactly one, else as a single address or a range.
func Addrs(k Kind, s Set) []AddrElem {
	out := make([]AddrElem, len(s))
	for i, sp := range s {
		out[i] = addrElem(k, sp)
	}
	return out
}

// addrElem is the address, prefix or range of kind k that sp holds.
func addrElem(k Kind, sp Span) AddrElem {
	return asPrefix(AddrElem{From: keyAddr(k, sp.Lo), To: keyAddr(k, sp.Hi)})
}

// AddrsText is an address set as nft lists its elements:
// "198.51.100.7, 203.0.113.0/24".
func AddrsText(k Kind, s Set) string {
	var out []string
	for _, a := range Addrs(k, s) {
		out = append(out, a.String())
	}
	return strings.Join(out, ", ")
}

// keyAddr is the address of kind k that a key holds.
func keyAddr(k Kind, key Key) netip.Addr {
	if k.Spec().Bits == 32 {
		return netip.AddrFrom4([4]byte(key[12:]))
	}
	return netip.AddrFrom16(key)
}

// PortSet builds a set of ports.
func PortSet(ranges ...PortRange) Set {
	spans := make([]Span, len(ranges))
	for i, r := range ranges {
		spans[i] = Span{uintKey(uint64(r.First)), uintKey(uint64(r.Last))}
	}
	return OwnSet(spans)
}

// Ports lists a set of ports as ranges.
func Ports(s Set) []PortRange {
	out := make([]PortRange, len(s))
	for i, sp := range s {
		out[i] = PortRange{First: uint16(sp.Lo.Uint()), Last: uint16(sp.Hi.Uint())}
	}
	return out
}

// ProtocolSet builds a set of transport protocols.
func ProtocolSet(ps ...Protocol) Set {
	spans := make([]Span, len(ps))
	for i, p := range ps {
		spans[i] = Span{uintKey(uint64(p)), uintKey(uint64(p))}
	}
	return OwnSet(spans)
}

// Protocols lists every protocol in a set.
func Protocols(s Set) []Protocol {
	var out []Protocol
	for _, sp := range s {
		for v := sp.Lo.Uint(); v <= sp.Hi.Uint(); v++ {
			out = append(out, Protocol(v))
		}
	}
	return out
}

// CtStateSet builds a set of conntrack states.
func CtStateSet(states ...CtState) Set {
	spans := make([]Span, len(states))
	for i, st := range states {
		spans[i] = Span{uintKey(uint64(st)), uintKey(uint64(st))}
	}
	return OwnSet(spans)
}

// CtStatesOf lists the conntrack states in a set, in CtStates order.
func CtStatesOf(s Set) []CtState {
	var out []CtState
	for _, st := range CtStates {
		if s.Has(uintKey(uint64(st))) {
			out = append(out, st)
		}
	}
	return out
}

// CtStateMask is the kernel's bit mask of the states in a set.
func CtStateMask(s Set) uint32 {
	var mask uint32
	for _, st := range CtStatesOf(s) {
		mask |= uint32(st)
	}
	return mask
}

// AddrElem is one element of an address set as written: a single address,
// a prefix or an inclusive range. From and To are always set; Prefix is
// valid only for prefixes.
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
	var b [80]byte // the longest: an IPv6 range, 2×39 bytes and a dash
	return string(e.AppendTo(b[:0]))
}

// AppendTo appends the element as String writes it.
func (e AddrElem) AppendTo(b []byte) []byte {
	switch {
	case e.Prefix.IsValid():
		return e.Prefix.AppendTo(b)
	case e.From == e.To:
		return e.From.AppendTo(b)
	default:
		return e.To.AppendTo(append(e.From.AppendTo(b), '-'))
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

// ProtocolNames are the protocols the language names; a protocol's first
// name is nft's.
var ProtocolNames = []Named{{"tcp", uint32(TCP)}, {"udp", uint32(UDP)}, {"icmp", uint32(ICMP)}, {"ipv6-icmp", uint32(ICMPv6)}, {"icmpv6", uint32(ICMPv6)},
	// The others nft 1.0.6 lists by name, with a machine's /etc/protocols
	// or without one.
	{"igmp", 2}, {"ipencap", 4}, {"dccp", 33}, {"ipv6", 41}, {"gre", 47}, {"esp", 50}, {"ah", 51}, {"ospf", 89}, {"pim", 103},
	{"ipcomp", 108}, {"comp", 108}, {"vrrp", 112}, {"l2tp", 115}, {"sctp", 132}, {"udplite", 136}}

// String gives the protocol's name as nft prints it, or its number.
func (p Protocol) String() string {
	if p == AnyTransport {
		return "th"
	}
	return KindProtocol.NameOf(uint32(p))
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

// HasPorts reports whether the protocol's header carries ports that the
// language can match.
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

// CtState is a connection tracking state, by its kernel bit
// (NF_CT_STATE_*_BIT): a packet has exactly one.
type CtState uint32

const (
	CtInvalid     CtState = 1
	CtEstablished CtState = 2
	CtRelated     CtState = 4
	CtNew         CtState = 8
	CtUntracked   CtState = 64
)

// CtStates lists the states in nft's order.
var CtStates = []CtState{CtInvalid, CtEstablished, CtRelated, CtNew, CtUntracked}

// CtStateNames are the states by nft's names.
var CtStateNames = []Named{{"invalid", uint32(CtInvalid)}, {"established", uint32(CtEstablished)},
	{"related", uint32(CtRelated)}, {"new", uint32(CtNew)}, {"untracked", uint32(CtUntracked)}}

func (s CtState) String() string { return KindCtState.NameOf(uint32(s)) }

// ParseCtState reads a state's name.
func ParseCtState(name string) (CtState, bool) {
	v, ok := KindCtState.ValueOf(name)
	return CtState(v), ok
}

// flagsText writes a tcp flags match in nft's forms: "tcp flags
// syn,ack" (any of them set), "tcp flags & (syn|ack) == syn" (under a
// mask), "tcp flags == syn" (exactly).
func (m *Match) flagsText() string {
	kind, name := m.Field.Spec().Kind, m.Field.String()
	op := map[Op]string{Eq: " == ", Neq: " != "}[m.Op]
	values := Numbers(m.Values)
	value := ""
	switch len(values) {
	case 0:
	case 1:
		value = kind.NameOf(values[0])
	default:
		// Whole values, one of which the flags are: "{ syn, syn|ack }".
		names := make([]string, len(values))
		for i, v := range values {
			names[i] = kind.NameOf(v)
		}
		value = "{ " + strings.Join(names, ", ") + " }"
		if m.Op == Eq && m.Mask == 0 {
			op = " "
		}
	}
	switch {
	case m.Mask != 0 && m.Op == Neq && len(values) == 1 && values[0] == 0:
		return name + " " + strings.ReplaceAll(kind.NameOf(m.Mask), "|", ",")
	case m.Mask != 0:
		return name + " & (" + kind.NameOf(m.Mask) + ")" + op + value
	}
	return name + op + value
}
