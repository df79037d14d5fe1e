package ir

import (
	"slices"
	"strconv"
	"strings"
)

// Kind is the kind of value a field holds. Each kind is one row of
// kindSpecs: how its values are written, read, printed and named, and
// what "every value" (the universe) is. The parser, the printer, the
// simulator, lint and the differential test read the row; backends switch
// on its Shape, never on the kind, so a field of a new kind is its row
// here plus one row per backend.
type Kind uint8

const (
	KindInterface Kind = iota + 1
	KindIPv4
	KindIPv6
	KindPort
	KindProtocol
	KindCtState
	KindICMPType
	KindICMPv6Type
	KindICMPCode
	KindICMPv6Code
	KindMark // a 32-bit number, matched under a mask
	KindUser // a user id; names are resolved when the policy is compiled
	KindGroup
	KindNfproto
	KindPkttype
	KindTCPFlags    // a combination of TCP flag bits
	KindAddrType    // a route type (RTN_*): unicast, local, broadcast, multicast, ...
	KindPresence    // whether a lookup found something: missing or exists
	KindCtDirection // which way of its connection a packet goes: original or reply
	KindHops        // how many more routers a packet may cross: IPv4's TTL, IPv6's hop limit
	KindDSCP        // a differentiated services code point: the six high bits of IPv4's TOS, IPv6's traffic class
	// Plain numbers, by width: lengths, ids, checksums, sequence numbers.
	KindUint4
	KindUint16
	KindUint20
	KindUint32
	KindDevGroup // an interface's group (ip link set DEV group N)
	KindClassid  // a traffic control class, MAJOR:MINOR in hex
	KindCtStatus // the bits of a connection's status
	KindCgroup   // a control group, by its path below the cgroup2 root
	kindEnd
)

// Shape is how the values of a kind are written, held and compared.
type Shape uint8

const (
	// ShapeName values are names, quoted or bare; "prefix*" is every name
	// with the prefix. Keys hold the name NUL-padded (interfaces).
	ShapeName Shape = iota + 1
	// ShapeAddr values are addresses, prefixes and ranges of Bits bits.
	ShapeAddr
	// ShapeNumber values are numbers of Bits bits, the kind's names for
	// some of them, and (where Ranges) ranges of either.
	ShapeNumber
	// ShapeStates values are named states a packet has exactly one of;
	// "a,b" lists several, as nft writes conntrack states.
	ShapeStates
	// ShapeFlags values are combinations of named bits joined by '|';
	// "a,b" means any of them is set, as nft writes TCP flags.
	ShapeFlags
	// ShapePath values are quoted cgroup paths; a key is a digest of
	// one (CgroupKey), as a path does not fit in a key.
	ShapePath
)

// Lookup says where names of a kind that are not in its row come from.
type Lookup uint8

const (
	LookupNone Lookup = iota
	// LookupUser and LookupGroup names are resolved on the machine that
	// compiles the policy, as nft resolves them when it loads one.
	LookupUser
	LookupGroup
)

// KindSpec describes a kind of value.
type KindSpec struct {
	// Plural names the kind in messages: "ports".
	Plural string
	Shape  Shape
	// Bits is the width of a value: every number below 2^Bits is one,
	// unless NamesOnly.
	Bits int
	// Names are the kind's values by name; a value's first name is how
	// it prints. Flags' names are single bits.
	Names []Named
	// Aliases are more names the language reads but never prints (port
	// names: ports print as numbers).
	Aliases []Named
	// NamesOnly kinds are written by name only.
	NamesOnly bool
	// Closed kinds have no values but the named ones: their universe is
	// the named values, not every number of Bits bits.
	Closed bool
	// Ranges: "lo-hi" is a value.
	Ranges bool
	// Hex numbers print as 0x... (marks).
	Hex bool
	// MajorMinor numbers are written as tc writes class ids: the high
	// and low 16 bits in hex, "1:10".
	MajorMinor bool
	Lookup     Lookup
	// Family is the family whose packets hold values of the kind
	// (addresses), or Inet.
	Family Family
	// TypeName is nft's name for the type, as a set declares it ("type
	// inet_service"); empty for kinds nft names only by typeof.
	TypeName string
	// Example is a match on a field of the kind, for hints.
	Example string
}

var kindSpecs = [kindEnd]KindSpec{
	KindInterface: {Plural: "interface names", Shape: ShapeName, Bits: 8 * (MaxInterfaceName + 1), TypeName: "ifname", Example: `oifname "tun0"`},
	KindIPv4:      {Plural: "IPv4 addresses", Shape: ShapeAddr, Bits: 32, Ranges: true, Family: IPv4, TypeName: "ipv4_addr", Example: "ip daddr { 192.0.2.1, 198.51.100.0/24 }"},
	KindIPv6:      {Plural: "IPv6 addresses", Shape: ShapeAddr, Bits: 128, Ranges: true, Family: IPv6, TypeName: "ipv6_addr", Example: "ip6 daddr 2001:db8::/32"},
	KindPort:      {Plural: "ports", Shape: ShapeNumber, Bits: 16, Ranges: true, Aliases: Services, TypeName: "inet_service", Example: "tcp dport { 22, 8000-8080 }"},
	KindProtocol:  {Plural: "protocols", Shape: ShapeNumber, Bits: 8, Names: ProtocolNames, Ranges: true, TypeName: "inet_proto", Example: "meta l4proto { tcp, udp }"},
	KindCtState:   {Plural: "conntrack states", Shape: ShapeStates, Bits: 32, Names: CtStateNames, NamesOnly: true, Closed: true, TypeName: "ct_state", Example: "ct state established,related"},
	KindICMPType: {Plural: "ICMP types", Shape: ShapeNumber, Bits: 8, Names: ICMPTypes, Ranges: true, TypeName: "icmp_type",
		Example: "icmp type { destination-unreachable, echo-request }"},
	KindICMPv6Type: {Plural: "ICMPv6 types", Shape: ShapeNumber, Bits: 8, Names: ICMPv6Types, Aliases: ICMPv6TypeAliases, Ranges: true, TypeName: "icmpv6_type", Example: "icmpv6 type nd-neighbor-solicit"},
	KindICMPCode:   {Plural: "ICMP codes", Shape: ShapeNumber, Bits: 8, Names: ICMPCodes, Ranges: true, TypeName: "icmp_code", Example: "icmp code port-unreachable"},
	KindICMPv6Code: {Plural: "ICMPv6 codes", Shape: ShapeNumber, Bits: 8, Names: ICMPv6Codes, Ranges: true, TypeName: "icmpv6_code", Example: "icmpv6 code no-route"},
	KindMark:       {Plural: "marks", Shape: ShapeNumber, Bits: 32, Hex: true, Ranges: true, TypeName: "mark", Example: "meta mark 0x1"},
	KindUser:       {Plural: "user ids", Shape: ShapeNumber, Bits: 32, Ranges: true, Lookup: LookupUser, TypeName: "uid", Example: "meta skuid 0"},
	KindGroup:      {Plural: "group ids", Shape: ShapeNumber, Bits: 32, Ranges: true, Lookup: LookupGroup, TypeName: "gid", Example: "meta skgid 0"},
	KindNfproto:    {Plural: "families", Shape: ShapeNumber, Bits: 8, Names: Nfprotos, Aliases: EtherTypes, NamesOnly: true, Closed: true, TypeName: "nf_proto", Example: "meta nfproto ipv4"},
	KindPkttype:    {Plural: "packet types", Shape: ShapeNumber, Bits: 8, Names: Pkttypes, NamesOnly: true, Closed: true, TypeName: "pkt_type", Example: "meta pkttype { broadcast, multicast }"},
	KindTCPFlags:   {Plural: "TCP flags", Shape: ShapeFlags, Bits: 8, Names: TCPFlagNames, TypeName: "tcp_flag", Example: "tcp flags syn"},
	KindHops:       {Plural: "hop limits", Shape: ShapeNumber, Bits: 8, Ranges: true, Example: "ip6 hoplimit 255"},
	KindDSCP:       {Plural: "DSCP values", Shape: ShapeNumber, Bits: 6, Names: DSCPNames, Ranges: true, Hex: true, TypeName: "dscp", Example: "ip dscp { cs1, af41, ef }"},
	KindUint4:      {Plural: "numbers from 0 to 15", Shape: ShapeNumber, Bits: 4, Ranges: true, Example: "ip hdrlength 5"},
	KindUint16:     {Plural: "numbers from 0 to 65535", Shape: ShapeNumber, Bits: 16, Ranges: true, Example: "ip length 20-576"},
	KindUint20:     {Plural: "numbers from 0 to 1048575", Shape: ShapeNumber, Bits: 20, Ranges: true, Example: "ip6 flowlabel 0"},
	KindUint32:     {Plural: "numbers from 0 to 4294967295", Shape: ShapeNumber, Bits: 32, Ranges: true, Example: "tcp sequence 0"},
	KindCtStatus:   {Plural: "conntrack status bits", Shape: ShapeFlags, Bits: 32, Names: CtStatusNames, TypeName: "ct_status", Example: "ct status dnat"},
	KindClassid: {Plural: "traffic classes", Shape: ShapeNumber, Bits: 32, Names: Classids, Ranges: true, MajorMinor: true, TypeName: "classid",
		Example: "meta priority 1:10"},
	KindDevGroup:    {Plural: "interface groups", Shape: ShapeNumber, Bits: 32, Names: DevGroups, Ranges: true, TypeName: "devgroup", Example: "meta iifgroup { default, 11 }"},
	KindCtDirection: {Plural: "directions", Shape: ShapeNumber, Bits: 8, Names: CtDirections, NamesOnly: true, Closed: true, TypeName: "ct_dir", Example: "ct direction reply"},
	KindPresence:    {Plural: "lookup results", Shape: ShapeNumber, Bits: 32, Names: Presences, NamesOnly: true, Closed: true, Example: "fib saddr . iif oif missing"},
	KindCgroup:      {Plural: "cgroups", Shape: ShapePath, Bits: 128, Example: `socket cgroupv2 level 2 "ksc/tunnelled"`},
	KindAddrType:    {Plural: "address types", Shape: ShapeNumber, Bits: 32, Names: AddrTypes, NamesOnly: true, Closed: true, TypeName: "fib_addrtype", Example: "fib daddr type local"},
}

// SetKinds are the kinds a declared set may hold.
func SetKinds() []Kind {
	var out []Kind
	for _, k := range AllKinds() {
		if k.Spec().Shape == ShapeAddr {
			out = append(out, k)
		}
	}
	return out
}

// AllKinds lists every kind, in the order they are declared.
func AllKinds() []Kind {
	out := make([]Kind, 0, kindEnd-1)
	for k := KindInterface; k < kindEnd; k++ {
		out = append(out, k)
	}
	return out
}

// Spec returns the kind's row of the table.
func (k Kind) Spec() KindSpec {
	if k == 0 || k >= kindEnd {
		panic("ir: no row for kind " + strconv.Itoa(int(k)))
	}
	return kindSpecs[k]
}

// String names the kind for messages: "interface names", "ports".
func (k Kind) String() string { return k.Spec().Plural }

// Names is the vocabulary of a kind of value, or nil for plain numbers.
func (k Kind) Names() []Named { return k.Spec().Names }

// NamesOnly reports kinds whose values are written by name only.
func (k Kind) NamesOnly() bool { return k.Spec().NamesOnly }

// Universe is every value a field of kind k can hold.
func (k Kind) Universe() Set {
	spec := k.Spec()
	if spec.Closed {
		values := make([]uint32, len(spec.Names))
		for i, n := range spec.Names {
			values[i] = n.Value
		}
		return NumberSet(values...)
	}
	var hi Key
	for b := range spec.Bits {
		hi[len(hi)-1-b/8] |= 1 << (b % 8)
	}
	return Set{{Hi: hi}}
}

// NameOf writes a value of kind k by its name, or as a number; flags as
// their names joined by '|' ("syn|ack").
func (k Kind) NameOf(v uint32) string {
	spec := k.Spec()
	if spec.Shape == ShapeFlags {
		if v == 0 {
			return "0"
		}
		var names []string
		rest := v
		for _, n := range spec.Names {
			if v&n.Value != 0 {
				names = append(names, n.Name)
				rest &^= n.Value
			}
		}
		if rest != 0 {
			// Bits without a name (the kernel's "nat done" in ct status)
			// are a number: left out, the flags would mean others.
			names = append(names, "0x"+strconv.FormatUint(uint64(rest), 16))
		}
		return strings.Join(names, "|")
	}
	for _, n := range spec.Names {
		if n.Value == v {
			return n.Name
		}
	}
	return k.NumberOf(v)
}

// NumberOf writes a value of kind k as a number, as nft writes the ends
// of a range, which it does not read as names ("cs1-cs2" is no range).
func (k Kind) NumberOf(v uint32) string {
	if k.Spec().MajorMinor {
		return strconv.FormatUint(uint64(v>>16), 16) + ":" + strconv.FormatUint(uint64(v&0xffff), 16)
	}
	if k.Spec().Hex {
		return "0x" + strconv.FormatUint(uint64(v), 16)
	}
	return strconv.FormatUint(uint64(v), 10)
}

// ValueOf reads a value of kind k by name; flags may be joined by '|'.
func (k Kind) ValueOf(name string) (uint32, bool) {
	spec := k.Spec()
	if spec.Shape == ShapeFlags {
		var v uint32
		for _, part := range strings.Split(name, "|") {
			i := slices.IndexFunc(spec.Names, func(n Named) bool { return n.Name == part })
			if i < 0 {
				return 0, false
			}
			v |= spec.Names[i].Value
		}
		return v, true
	}
	for _, n := range slices.Concat(spec.Names, spec.Aliases) {
		if n.Name == name {
			return n.Value, true
		}
	}
	if major, minor, ok := strings.Cut(name, ":"); ok && spec.MajorMinor {
		hi, err1 := strconv.ParseUint(major, 16, 16)
		lo, err2 := strconv.ParseUint(minor, 16, 16)
		return uint32(hi<<16 | lo), err1 == nil && err2 == nil
	}
	return 0, false
}

// Max is the largest number of the kind.
func (k Kind) Max() uint64 {
	return 1<<k.Spec().Bits - 1
}
