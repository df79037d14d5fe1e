package ir

// ICMP and ICMPv6 types and codes by the names nft gives them.
var (
	ICMPTypes = []Named{
		{"echo-reply", 0}, {"destination-unreachable", 3}, {"source-quench", 4}, {"redirect", 5},
		{"echo-request", 8}, {"router-advertisement", 9}, {"router-solicitation", 10}, {"time-exceeded", 11},
		{"parameter-problem", 12}, {"timestamp-request", 13}, {"timestamp-reply", 14}, {"info-request", 15},
		{"info-reply", 16}, {"address-mask-request", 17}, {"address-mask-reply", 18},
	}
	ICMPv6Types = []Named{
		{"destination-unreachable", 1}, {"packet-too-big", 2}, {"time-exceeded", 3}, {"parameter-problem", 4},
		{"echo-request", 128}, {"echo-reply", 129}, {"mld-listener-query", 130}, {"mld-listener-report", 131},
		{"mld-listener-done", 132}, {"nd-router-solicit", 133}, {"nd-router-advert", 134},
		{"nd-neighbor-solicit", 135}, {"nd-neighbor-advert", 136}, {"nd-redirect", 137},
		{"router-renumbering", 138}, {"ind-neighbor-solicit", 141}, {"ind-neighbor-advert", 142},
		{"mld2-listener-report", 143},
	}
	// ICMPv6TypeAliases are nft's other names of ICMPv6 types, read but
	// never printed (nft lists them by the first name).
	ICMPv6TypeAliases = []Named{{"mld-listener-reduction", 132}}
	ICMPCodes         = []Named{
		{"net-unreachable", 0}, {"host-unreachable", 1}, {"prot-unreachable", 2}, {"port-unreachable", 3},
		{"frag-needed", 4}, {"net-prohibited", 9}, {"host-prohibited", 10}, {"admin-prohibited", 13},
	}
	ICMPv6Codes = []Named{
		{"no-route", 0}, {"admin-prohibited", 1}, {"addr-unreachable", 3}, {"port-unreachable", 4},
		{"policy-fail", 5}, {"reject-route", 6},
	}
	// Nfprotos are the families "meta nfproto" names, by NFPROTO number.
	Nfprotos = []Named{{"ipv4", 2}, {"ipv6", 10}}
	// EtherTypes are "meta protocol"'s names of the two families: at the
	// hooks of ip, ip6 and inet tables the link-layer protocol of a packet
	// is its family's, so "meta protocol ip" means "meta nfproto ipv4".
	EtherTypes = []Named{{"ip", 2}, {"ip6", 10}}
	// DSCPNames are nft's names of code points (RFC 2474, 2597, 3246,
	// 5865, 8622); where several name one value, the first is the one
	// nft lists.
	DSCPNames = []Named{{"cs0", 0x00}, {"cs1", 0x08}, {"cs2", 0x10}, {"cs3", 0x18}, {"cs4", 0x20}, {"cs5", 0x28},
		{"cs6", 0x30}, {"cs7", 0x38}, {"df", 0x00}, {"be", 0x00}, {"lephb", 0x01}, {"af11", 0x0a}, {"af12", 0x0c},
		{"af13", 0x0e}, {"af21", 0x12}, {"af22", 0x14}, {"af23", 0x16}, {"af31", 0x1a}, {"af32", 0x1c}, {"af33", 0x1e},
		{"af41", 0x22}, {"af42", 0x24}, {"af43", 0x26}, {"va", 0x2c}, {"ef", 0x2e}}
	// Pkttypes are the link-layer packet types (PACKET_*); "unicast" is
	// another name for host.
	// DevGroups are interface groups by name: nft knows "default" without
	// the machine's /etc/iproute2/group.
	DevGroups = []Named{{"default", 0}}
	// Classids are tc's names of two class ids.
	Classids = []Named{{"none", 0}, {"root", 0xffffffff}}
	Pkttypes = []Named{{"host", 0}, {"broadcast", 1}, {"multicast", 2}, {"other", 3}, {"unicast", 0}}
	// AddrTypes are the kernel's route types (RTN_*), by nft's names, in
	// number order.
	// Presences are what nft's fib says of the route it looked up
	// ("fib saddr . iif oif missing": no route back by the interface the
	// packet came in by).
	Presences = []Named{{"missing", 0}, {"exists", 1}}
	// CtDirections are the ways of a connection: its first packet's, and
	// the answers'.
	CtDirections = []Named{{"original", 0}, {"reply", 1}}
	AddrTypes    = []Named{{"unspec", 0}, {"unicast", 1}, {"local", 2}, {"broadcast", 3}, {"anycast", 4}, {"multicast", 5},
		{"blackhole", 6}, {"unreachable", 7}, {"prohibit", 8}, {"throw", 9}, {"nat", 10}, {"xresolve", 11}}
)

// The route types of AddrTypes a packet's own addresses have (the
// kernel's RTN_*), by name.
const (
	AddrUnicast   uint8 = 1
	AddrLocal     uint8 = 2
	AddrBroadcast uint8 = 3
	AddrAnycast   uint8 = 4
	AddrMulticast uint8 = 5
)
