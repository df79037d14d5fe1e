package ir

// Field is a property of a packet that a rule can match. Each field is one
// row of Fields; the words that name it in policies are rows of Selectors.
// Parser, validation, lint, formatting and every backend read these tables,
// so adding a field is one row here plus one row in each backend.
type Field uint8

const (
	FieldIifname Field = iota + 1
	FieldOifname
	FieldNfproto // the packet's family, ipv4 or ipv6
	FieldIPSaddr
	FieldIPDaddr
	FieldIP6Saddr
	FieldIP6Daddr
	FieldL4Proto
	FieldSport // transport source port, for every protocol with ports
	FieldDport
	FieldCtState
	FieldICMPType
	FieldICMPCode
	FieldICMPv6Type
	FieldICMPv6Code
	FieldMark   // the packet's firewall mark (meta mark)
	FieldCtMark // its connection's mark (ct mark)
	FieldSkuid  // the user that owns the sending socket
	FieldSkgid
	FieldPkttype // how the packet is addressed at the link layer
	FieldTCPFlags
	FieldIPProtocol   // the IPv4 header's protocol field
	FieldIP6Nexthdr   // the IPv6 header's next header: the first extension header, if any
	FieldFibDaddrType // the route type of the destination: local for this machine's own addresses
	FieldIPTTL        // the IPv4 header's time to live
	FieldIP6Hoplimit  // the IPv6 header's hop limit: 255 on neighbour discovery that no router forwarded
	FieldIPDSCP       // the code point in IPv4's TOS byte
	FieldIP6DSCP      // the code point in IPv6's traffic class
	FieldIif          // the input interface, by the index it had when the policy was loaded
	FieldOif
	FieldFibSaddrType // the route type of the source: local for one of this machine's addresses
	FieldFibRPF       // whether a route back to the source leaves by the interface the packet came in by
	FieldCtDirection  // which way of its connection the packet goes
	// Header fields at a fixed place (see FieldSpec.Place).
	FieldIPLength // the IPv4 header's total length
	FieldIPID
	FieldIPFragOff // the IPv4 header's flags and fragment offset, 16 bits
	FieldIPChecksum
	FieldIPVersion
	FieldIPHdrlength // the IPv4 header's length in 32-bit words
	FieldIP6Flowlabel
	FieldIP6Length // the IPv6 header's payload length
	FieldTCPSequence
	FieldTCPAckseq
	FieldTCPDoff // where the TCP payload starts, in 32-bit words
	FieldTCPWindow
	FieldTCPChecksum
	FieldTCPUrgptr
	FieldUDPLength
	FieldUDPChecksum
	FieldICMPChecksum
	FieldICMPGateway // the router a redirect names
	FieldICMPMTU     // the next hop's MTU in "fragmentation needed"
	FieldICMPv6Checksum
	FieldICMPv6MTU      // the MTU in "packet too big"
	FieldICMPv6MaxDelay // the maximum response delay of a multicast listener query
	FieldICMPID         // an echo's identifier
	FieldICMPSequence
	FieldICMPv6ID
	FieldICMPv6Sequence
	FieldMetaLength // the packet's length from its IP header on
	FieldIifgroup   // the group of the input interface
	FieldOifgroup
	FieldPriority        // the packet's traffic control class (SO_PRIORITY of its socket)
	FieldCtStatus        // its connection's status: dnat, snat, seen-reply, ...
	FieldFibDaddrOif     // whether the routing tables send the destination out of an interface
	FieldFibDaddrIifType // the route type of the destination on the input interface
	// FieldCgroup is the cgroup of the sending socket at level 1 ("socket
	// cgroupv2 level 1"); the fields of the levels below follow it, up
	// to MaxCgroupLevel (see CgroupField).
	FieldCgroup
	fieldEnd = FieldCgroup + MaxCgroupLevel
)

// AllFields lists every field, in the order they are declared.
func AllFields() []Field {
	out := make([]Field, 0, fieldEnd-1)
	for f := FieldIifname; f < fieldEnd; f++ {
		out = append(out, f)
	}
	return out
}

// FieldSpec describes a field.
type FieldSpec struct {
	// Name is the field's canonical nft spelling (th for ports).
	Name string
	Kind Kind
	// Family is the only address family in which the field exists, or Inet.
	Family Family
	// Hooks are the hooks at which the field holds a value; at the others
	// a match on it could never hold, so it is an error.
	Hooks HookSet
	// Lacking are the hooks at which some packets have no value of the
	// field, so that a match on it holds for none of them whatever it
	// says: the input interface of what this machine sends, at
	// postrouting; the owner of what the kernel sends itself; a
	// connection's mark, direction and status on an untracked packet.
	// (Family and Protocol say which packets have the others.)
	Lacking HookSet
	// NeedsPorts: the rule must match a transport protocol that has ports.
	NeedsPorts bool
	// NeedsConntrack: the chain must run after conntrack has seen the packet.
	NeedsConntrack bool
	// Protocol is the transport protocol whose header holds the field
	// (ICMP for icmp type), or AnyTransport.
	Protocol Protocol
	// Maskable fields take "and MASK ==": the match compares the value
	// under the mask.
	Maskable bool
	// ByIndex fields name an interface that nft matches by its index,
	// looked up when the policy is loaded (iif, oif): one that is then
	// missing is an error, and one deleted and made again no longer
	// matches. Names without a wildcard only.
	ByIndex bool
	// Detail is the word a packet line gives the field's value with
	// ("mark 0x1", "ttl 1"), or empty where the line says it otherwise.
	Detail string
	// Place is where a header field's bits are. The simulator reads such
	// a field from the packet's bytes (Packet.Wire), so a field the
	// packet line cannot give (a length, a checksum) has the value the
	// packet the lab sends has.
	Place HeaderBits
	// ICMPTypes are the only ICMP (or ICMPv6) types whose messages hold
	// the field (an MTU is in "packet too big" only): a match on it
	// implies them, as nft writes it.
	ICMPTypes []uint32
}

// Header is a header of a packet.
type Header uint8

const (
	NoHeader Header = iota
	NetworkHeader
	TransportHeader
)

// HeaderBits places a field in a header: Width bits, Offset bits from
// the header's start, most significant bit first.
type HeaderBits struct {
	Header        Header
	Offset, Width uint16
}

// HookSet is a set of hooks.
type HookSet uint8

// Has reports whether h is in the set.
func (s HookSet) Has(h Hook) bool { return s&(1<<h) != 0 }

func hooks(hs ...Hook) HookSet {
	var s HookSet
	for _, h := range hs {
		s |= 1 << h
	}
	return s
}

var (
	allHooks = hooks(HookPrerouting, HookInput, HookForward, HookOutput, HookPostrouting)
	// A packet that arrived has an input interface, a forwarded one still
	// at postrouting; one routed out has an output interface.
	inputSide  = hooks(HookPrerouting, HookInput, HookForward, HookPostrouting)
	outputSide = hooks(HookForward, HookOutput, HookPostrouting)
)

var fieldSpecs = [fieldEnd]FieldSpec{
	FieldIifname:  {Name: "iifname", Kind: KindInterface, Family: Inet, Hooks: inputSide, Lacking: hooks(HookPostrouting)},
	FieldOifname:  {Name: "oifname", Kind: KindInterface, Family: Inet, Hooks: outputSide},
	FieldIPSaddr:  {Name: "ip saddr", Kind: KindIPv4, Family: IPv4, Hooks: allHooks},
	FieldIPDaddr:  {Name: "ip daddr", Kind: KindIPv4, Family: IPv4, Hooks: allHooks},
	FieldIP6Saddr: {Name: "ip6 saddr", Kind: KindIPv6, Family: IPv6, Hooks: allHooks},
	FieldIP6Daddr: {Name: "ip6 daddr", Kind: KindIPv6, Family: IPv6, Hooks: allHooks},
	FieldL4Proto:  {Name: "meta l4proto", Kind: KindProtocol, Family: Inet, Hooks: allHooks},
	FieldSport:    {Name: "th sport", Kind: KindPort, Family: Inet, Hooks: allHooks, NeedsPorts: true},
	FieldDport:    {Name: "th dport", Kind: KindPort, Family: Inet, Hooks: allHooks, NeedsPorts: true},
	FieldCtState:  {Name: "ct state", Kind: KindCtState, Family: Inet, Hooks: allHooks, NeedsConntrack: true},

	FieldICMPType:   {Name: "icmp type", Kind: KindICMPType, Family: IPv4, Hooks: allHooks, Protocol: ICMP},
	FieldICMPCode:   {Name: "icmp code", Kind: KindICMPCode, Family: IPv4, Hooks: allHooks, Protocol: ICMP, Detail: "code"},
	FieldICMPv6Type: {Name: "icmpv6 type", Kind: KindICMPv6Type, Family: IPv6, Hooks: allHooks, Protocol: ICMPv6},
	FieldICMPv6Code: {Name: "icmpv6 code", Kind: KindICMPv6Code, Family: IPv6, Hooks: allHooks, Protocol: ICMPv6, Detail: "code"},
	FieldMark:       {Name: "meta mark", Kind: KindMark, Family: Inet, Hooks: allHooks, Maskable: true, Detail: "mark"},
	FieldCtMark:     {Name: "ct mark", Kind: KindMark, Family: Inet, Hooks: allHooks, Lacking: allHooks, Maskable: true, NeedsConntrack: true, Detail: "ctmark"},
	// Only a packet a local socket sends has an owner: it is known from
	// the output hook on, and forwarded packets have none.
	FieldSkuid:   {Name: "meta skuid", Kind: KindUser, Family: Inet, Hooks: hooks(HookOutput, HookPostrouting), Lacking: hooks(HookOutput, HookPostrouting), Detail: "uid"},
	FieldSkgid:   {Name: "meta skgid", Kind: KindGroup, Family: Inet, Hooks: hooks(HookOutput, HookPostrouting), Lacking: hooks(HookOutput, HookPostrouting), Detail: "gid"},
	FieldNfproto: {Name: "meta nfproto", Kind: KindNfproto, Family: Inet, Hooks: allHooks},
	FieldPkttype: {Name: "meta pkttype", Kind: KindPkttype, Family: Inet, Hooks: allHooks, Detail: "pkttype"},
	// "tcp flags syn" holds when any of the named flags is set: it is the
	// masked match "tcp flags & syn != 0".
	FieldTCPFlags: {Name: "tcp flags", Kind: KindTCPFlags, Family: Inet, Hooks: allHooks, Protocol: TCP, Maskable: true, Detail: "flags"},
	// IPv4 has no extension headers: its protocol field is the transport
	// protocol. IPv6's next header is the first extension header when
	// there is one (hop-by-hop for MLD), which "meta l4proto" skips.
	FieldIPProtocol: {Name: "ip protocol", Kind: KindProtocol, Family: IPv4, Hooks: allHooks},
	FieldIP6Nexthdr: {Name: "ip6 nexthdr", Kind: KindProtocol, Family: IPv6, Hooks: allHooks},
	// The kernel looks the destination up in the routing tables.
	FieldFibDaddrType: {Name: "fib daddr type", Kind: KindAddrType, Family: Inet, Hooks: allHooks},
	FieldIPTTL:        {Name: "ip ttl", Kind: KindHops, Family: IPv4, Hooks: allHooks, Detail: "ttl"},
	FieldIP6Hoplimit:  {Name: "ip6 hoplimit", Kind: KindHops, Family: IPv6, Hooks: allHooks, Detail: "hoplimit"},
	FieldIPDSCP:       {Name: "ip dscp", Kind: KindDSCP, Family: IPv4, Hooks: allHooks, Detail: "dscp"},
	FieldIP6DSCP:      {Name: "ip6 dscp", Kind: KindDSCP, Family: IPv6, Hooks: allHooks, Detail: "dscp"},
	FieldIif:          {Name: "iif", Kind: KindInterface, Family: Inet, Hooks: inputSide, Lacking: hooks(HookPostrouting), ByIndex: true},
	FieldOif:          {Name: "oif", Kind: KindInterface, Family: Inet, Hooks: outputSide, ByIndex: true},
	// wg-quick drops packets for the tunnel's address that come from
	// elsewhere with "fib saddr type != local".
	FieldFibSaddrType: {Name: "fib saddr type", Kind: KindAddrType, Family: Inet, Hooks: allHooks},
	FieldCtDirection:  {Name: "ct direction", Kind: KindCtDirection, Family: Inet, Hooks: allHooks, Lacking: allHooks, NeedsConntrack: true, Detail: "dir"},
	// Reverse-path filtering: the route the kernel would take back to the
	// source, looked up for the input interface only.
	FieldFibRPF: {Name: "fib saddr . iif oif", Kind: KindPresence, Family: Inet, Hooks: hooks(HookPrerouting, HookInput, HookForward), Detail: "rpf"},

	FieldIPLength: {Name: "ip length", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 16, 16}},
	FieldIPID:     {Name: "ip id", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 32, 16}, Detail: "ipid"},
	// "ip frag-off & 0x1fff != 0" holds for every fragment but the first.
	FieldIPFragOff:   {Name: "ip frag-off", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 48, 16}, Maskable: true},
	FieldIPChecksum:  {Name: "ip checksum", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 80, 16}},
	FieldIPVersion:   {Name: "ip version", Kind: KindUint4, Family: IPv4, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 0, 4}},
	FieldIPHdrlength: {Name: "ip hdrlength", Kind: KindUint4, Family: IPv4, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 4, 4}},
	FieldIP6Flowlabel: {Name: "ip6 flowlabel", Kind: KindUint20, Family: IPv6, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 12, 20},
		Detail: "flowlabel"},
	FieldIP6Length:   {Name: "ip6 length", Kind: KindUint16, Family: IPv6, Hooks: allHooks, Place: HeaderBits{NetworkHeader, 32, 16}},
	FieldTCPSequence: {Name: "tcp sequence", Kind: KindUint32, Family: Inet, Hooks: allHooks, Protocol: TCP, Place: HeaderBits{TransportHeader, 32, 32}, Detail: "seq"},
	FieldTCPAckseq:   {Name: "tcp ackseq", Kind: KindUint32, Family: Inet, Hooks: allHooks, Protocol: TCP, Place: HeaderBits{TransportHeader, 64, 32}, Detail: "ackseq"},
	FieldTCPDoff:     {Name: "tcp doff", Kind: KindUint4, Family: Inet, Hooks: allHooks, Protocol: TCP, Place: HeaderBits{TransportHeader, 96, 4}},
	FieldTCPWindow:   {Name: "tcp window", Kind: KindUint16, Family: Inet, Hooks: allHooks, Protocol: TCP, Place: HeaderBits{TransportHeader, 112, 16}, Detail: "window"},
	FieldTCPChecksum: {Name: "tcp checksum", Kind: KindUint16, Family: Inet, Hooks: allHooks, Protocol: TCP, Place: HeaderBits{TransportHeader, 128, 16}},
	FieldTCPUrgptr:   {Name: "tcp urgptr", Kind: KindUint16, Family: Inet, Hooks: allHooks, Protocol: TCP, Place: HeaderBits{TransportHeader, 144, 16}, Detail: "urgptr"},
	FieldUDPLength:   {Name: "udp length", Kind: KindUint16, Family: Inet, Hooks: allHooks, Protocol: UDP, Place: HeaderBits{TransportHeader, 32, 16}},
	FieldUDPChecksum: {Name: "udp checksum", Kind: KindUint16, Family: Inet, Hooks: allHooks, Protocol: UDP, Place: HeaderBits{TransportHeader, 48, 16}},
	FieldICMPChecksum: {Name: "icmp checksum", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Protocol: ICMP,
		Place: HeaderBits{TransportHeader, 16, 16}},
	FieldICMPGateway: {Name: "icmp gateway", Kind: KindUint32, Family: IPv4, Hooks: allHooks, Protocol: ICMP,
		Place: HeaderBits{TransportHeader, 32, 32}, Detail: "gateway", ICMPTypes: []uint32{5}},
	FieldICMPMTU: {Name: "icmp mtu", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Protocol: ICMP,
		Place: HeaderBits{TransportHeader, 48, 16}, Detail: "mtu", ICMPTypes: []uint32{3}},
	FieldICMPv6Checksum: {Name: "icmpv6 checksum", Kind: KindUint16, Family: IPv6, Hooks: allHooks, Protocol: ICMPv6,
		Place: HeaderBits{TransportHeader, 16, 16}},
	FieldICMPv6MTU: {Name: "icmpv6 mtu", Kind: KindUint32, Family: IPv6, Hooks: allHooks, Protocol: ICMPv6,
		Place: HeaderBits{TransportHeader, 32, 32}, Detail: "mtu", ICMPTypes: []uint32{2}},
	FieldICMPv6MaxDelay: {Name: "icmpv6 max-delay", Kind: KindUint16, Family: IPv6, Hooks: allHooks, Protocol: ICMPv6,
		Place: HeaderBits{TransportHeader, 32, 16}, Detail: "max-delay", ICMPTypes: []uint32{130}},
	// The simulator's length is that of the packet the lab sends.
	FieldMetaLength: {Name: "meta length", Kind: KindUint32, Family: Inet, Hooks: allHooks},
	FieldIifgroup:   {Name: "meta iifgroup", Kind: KindDevGroup, Family: Inet, Hooks: inputSide, Lacking: hooks(HookPostrouting), Detail: "iifgroup"},
	// "ct status dnat" holds for a connection whose destination a nat
	// rule rewrote: a home router's forward rule for its port forwards.
	FieldCtStatus: {Name: "ct status", Kind: KindCtStatus, Family: Inet, Hooks: allHooks, Lacking: allHooks, NeedsConntrack: true, Maskable: true, Detail: "ctstatus"},
	// Whether a route leaves for the destination (nft's "fib daddr oif
	// missing": none does). The kernel finds none for this machine's own
	// addresses but says "exists" for loopback and, at input, for a
	// packet early demux gave a socket: one meaning only before the
	// packet is routed to this machine, and for what it forwards.
	// The type of the destination as an address of the input interface
	// (the man page's "fib daddr . iif type != { local, broadcast,
	// multicast } drop"): one of this machine's addresses on another
	// interface is unicast, so that a loopback packet to eth0's address
	// is.
	FieldFibDaddrIifType: {Name: "fib daddr . iif type", Kind: KindAddrType, Family: Inet, Hooks: hooks(HookPrerouting, HookInput, HookForward), Detail: "iifaddr"},
	FieldFibDaddrOif:     {Name: "fib daddr oif", Kind: KindPresence, Family: Inet, Hooks: hooks(HookPrerouting, HookForward), Detail: "route"},
	FieldPriority:        {Name: "meta priority", Kind: KindClassid, Family: Inet, Hooks: allHooks, Detail: "priority"},
	FieldOifgroup:        {Name: "meta oifgroup", Kind: KindDevGroup, Family: Inet, Hooks: outputSide, Detail: "oifgroup"},
	FieldICMPID: {Name: "icmp id", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Protocol: ICMP,
		Place: HeaderBits{TransportHeader, 32, 16}, Detail: "id", ICMPTypes: []uint32{0, 8}},
	FieldICMPSequence: {Name: "icmp sequence", Kind: KindUint16, Family: IPv4, Hooks: allHooks, Protocol: ICMP,
		Place: HeaderBits{TransportHeader, 48, 16}, Detail: "seq", ICMPTypes: []uint32{0, 8}},
	FieldICMPv6ID: {Name: "icmpv6 id", Kind: KindUint16, Family: IPv6, Hooks: allHooks, Protocol: ICMPv6,
		Place: HeaderBits{TransportHeader, 32, 16}, Detail: "id", ICMPTypes: []uint32{128, 129}},
	FieldICMPv6Sequence: {Name: "icmpv6 sequence", Kind: KindUint16, Family: IPv6, Hooks: allHooks, Protocol: ICMPv6,
		Place: HeaderBits{TransportHeader, 48, 16}, Detail: "seq", ICMPTypes: []uint32{128, 129}},
}

// Spec returns the field's row of the table.
func (f Field) Spec() FieldSpec {
	if f == 0 || f >= fieldEnd {
		return FieldSpec{Name: "invalid field"}
	}
	return fieldSpecs[f]
}

func (f Field) String() string { return f.Spec().Name }

// Selector is a way to name a field in a policy: its words, and the
// transport protocol the words imply ("tcp dport" is "th dport" of TCP).
type Selector struct {
	Words    string
	Field    Field
	Protocol Protocol
}

// Selectors lists every selector the language accepts, in the order the
// language reference documents them.
var Selectors = []Selector{
	{"iifname", FieldIifname, AnyTransport},
	{"oifname", FieldOifname, AnyTransport},
	{"ip saddr", FieldIPSaddr, AnyTransport},
	{"ip daddr", FieldIPDaddr, AnyTransport},
	{"ip6 saddr", FieldIP6Saddr, AnyTransport},
	{"ip6 daddr", FieldIP6Daddr, AnyTransport},
	{"meta l4proto", FieldL4Proto, AnyTransport},
	{"tcp sport", FieldSport, TCP},
	{"tcp dport", FieldDport, TCP},
	{"udp sport", FieldSport, UDP},
	{"udp dport", FieldDport, UDP},
	{"th sport", FieldSport, AnyTransport},
	{"th dport", FieldDport, AnyTransport},
	{"ct state", FieldCtState, AnyTransport},
	{"icmp type", FieldICMPType, AnyTransport},
	{"icmp code", FieldICMPCode, AnyTransport},
	{"icmpv6 type", FieldICMPv6Type, AnyTransport},
	{"icmpv6 code", FieldICMPv6Code, AnyTransport},
	{"meta mark", FieldMark, AnyTransport},
	{"ct mark", FieldCtMark, AnyTransport},
	{"meta skuid", FieldSkuid, AnyTransport},
	{"meta skgid", FieldSkgid, AnyTransport},
	{"meta nfproto", FieldNfproto, AnyTransport},
	{"meta pkttype", FieldPkttype, AnyTransport},
	{"tcp flags", FieldTCPFlags, AnyTransport},
	{"ip protocol", FieldIPProtocol, AnyTransport},
	{"ip6 nexthdr", FieldIP6Nexthdr, AnyTransport},
	{"fib daddr type", FieldFibDaddrType, AnyTransport},
	{"fib saddr type", FieldFibSaddrType, AnyTransport},
	{"fib saddr . iif oif", FieldFibRPF, AnyTransport},
	{"fib daddr oif", FieldFibDaddrOif, AnyTransport},
	{"fib daddr . iif type", FieldFibDaddrIifType, AnyTransport},
	{"ct direction", FieldCtDirection, AnyTransport},
	{"ip ttl", FieldIPTTL, AnyTransport},
	{"ip6 hoplimit", FieldIP6Hoplimit, AnyTransport},
	{"ip dscp", FieldIPDSCP, AnyTransport},
	{"ip6 dscp", FieldIP6DSCP, AnyTransport},
	{"iif", FieldIif, AnyTransport},
	{"oif", FieldOif, AnyTransport},
	// nft's other spellings of the same fields: "meta" is optional before
	// some meta keys, and iifname and oifname are meta keys.
	{"meta iifname", FieldIifname, AnyTransport},
	{"meta oifname", FieldOifname, AnyTransport},
	{"mark", FieldMark, AnyTransport},
	{"skuid", FieldSkuid, AnyTransport},
	{"skgid", FieldSkgid, AnyTransport},
	{"pkttype", FieldPkttype, AnyTransport},
	{"meta protocol", FieldNfproto, AnyTransport}, // see EtherTypes
	{"meta iif", FieldIif, AnyTransport},
	{"meta oif", FieldOif, AnyTransport},
	{"ip length", FieldIPLength, AnyTransport},
	{"ip id", FieldIPID, AnyTransport},
	{"ip frag-off", FieldIPFragOff, AnyTransport},
	{"ip checksum", FieldIPChecksum, AnyTransport},
	{"ip version", FieldIPVersion, AnyTransport},
	{"ip hdrlength", FieldIPHdrlength, AnyTransport},
	{"ip6 flowlabel", FieldIP6Flowlabel, AnyTransport},
	{"ip6 length", FieldIP6Length, AnyTransport},
	{"tcp sequence", FieldTCPSequence, AnyTransport},
	{"tcp ackseq", FieldTCPAckseq, AnyTransport},
	{"tcp doff", FieldTCPDoff, AnyTransport},
	{"tcp window", FieldTCPWindow, AnyTransport},
	{"tcp checksum", FieldTCPChecksum, AnyTransport},
	{"tcp urgptr", FieldTCPUrgptr, AnyTransport},
	{"udp length", FieldUDPLength, AnyTransport},
	{"udp checksum", FieldUDPChecksum, AnyTransport},
	{"icmp checksum", FieldICMPChecksum, AnyTransport},
	{"icmp gateway", FieldICMPGateway, AnyTransport},
	{"icmp mtu", FieldICMPMTU, AnyTransport},
	{"icmpv6 checksum", FieldICMPv6Checksum, AnyTransport},
	{"icmpv6 mtu", FieldICMPv6MTU, AnyTransport},
	{"icmpv6 max-delay", FieldICMPv6MaxDelay, AnyTransport},
	{"meta length", FieldMetaLength, AnyTransport},
	{"meta iifgroup", FieldIifgroup, AnyTransport},
	{"meta oifgroup", FieldOifgroup, AnyTransport},
	{"meta priority", FieldPriority, AnyTransport},
	{"ct status", FieldCtStatus, AnyTransport},
	{"iifgroup", FieldIifgroup, AnyTransport},
	{"oifgroup", FieldOifgroup, AnyTransport},
	{"icmp id", FieldICMPID, AnyTransport},
	{"icmp sequence", FieldICMPSequence, AnyTransport},
	{"icmpv6 id", FieldICMPv6ID, AnyTransport},
	{"icmpv6 sequence", FieldICMPv6Sequence, AnyTransport},
}
