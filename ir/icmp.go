package ir

import "strconv"

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
	ICMPCodes = []Named{
		{"net-unreachable", 0}, {"host-unreachable", 1}, {"prot-unreachable", 2}, {"port-unreachable", 3},
		{"frag-needed", 4}, {"net-prohibited", 9}, {"host-prohibited", 10}, {"admin-prohibited", 13},
	}
	ICMPv6Codes = []Named{
		{"no-route", 0}, {"admin-prohibited", 1}, {"addr-unreachable", 3}, {"port-unreachable", 4},
		{"policy-fail", 5}, {"reject-route", 6},
	}
	// Nfprotos are the families "meta nfproto" names, by NFPROTO number.
	Nfprotos = []Named{{"ipv4", 2}, {"ipv6", 10}}
)

// Named is a value with the name the language (and nft) gives it.
type Named struct {
	Name  string
	Value uint32
}

// Names is the vocabulary of a kind of value, or nil for plain numbers.
func (k Kind) Names() []Named {
	switch k {
	case KindICMPType:
		return ICMPTypes
	case KindICMPv6Type:
		return ICMPv6Types
	case KindICMPCode:
		return ICMPCodes
	case KindICMPv6Code:
		return ICMPv6Codes
	case KindNfproto:
		return Nfprotos
	}
	return nil
}

// NameOf writes a value of kind k by its name, or as a number.
func (k Kind) NameOf(v uint32) string {
	for _, n := range k.Names() {
		if n.Value == v {
			return n.Name
		}
	}
	if k == KindMark {
		return "0x" + strconv.FormatUint(uint64(v), 16)
	}
	return strconv.FormatUint(uint64(v), 10)
}

// ValueOf reads a value of kind k by name.
func (k Kind) ValueOf(name string) (uint32, bool) {
	for _, n := range k.Names() {
		if n.Name == name {
			return n.Value, true
		}
	}
	return 0, false
}

// NumberSet builds a set of numeric values of any kind.
func NumberSet(values ...uint32) Set {
	spans := make([]Span, len(values))
	for i, v := range values {
		spans[i] = Span{uintKey(uint64(v)), uintKey(uint64(v))}
	}
	return OwnSet(spans)
}

// Numbers lists every value in a set of numbers.
func Numbers(s Set) []uint32 {
	var out []uint32
	for _, sp := range s {
		for v := sp.Lo.Uint(); v <= sp.Hi.Uint(); v++ {
			out = append(out, uint32(v))
		}
	}
	return out
}

// NfprotoSet builds a set of families for meta nfproto.
func NfprotoSet(fs ...Family) Set {
	var vs []uint32
	for _, f := range fs {
		vs = append(vs, map[Family]uint32{IPv4: 2, IPv6: 10}[f])
	}
	return NumberSet(vs...)
}

// NumberSpan is the span of numbers from lo to hi.
func NumberSpan(lo, hi uint32) Span { return Span{uintKey(uint64(lo)), uintKey(uint64(hi))} }
