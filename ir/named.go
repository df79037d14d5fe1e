package ir

import (
	"slices"
	"strconv"
	"strings"
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
	case KindPkttype:
		return Pkttypes
	case KindAddrType:
		return AddrTypes
	}
	return nil
}

// TCPFlagNames are the TCP flags by nft's names, lowest bit first.
var TCPFlagNames = []Named{{"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08}, {"ack", 0x10}, {"urg", 0x20}, {"ecn", 0x40}, {"cwr", 0x80}}

// NameOf writes a value of kind k by its name, or as a number; TCP flags
// as their names joined by '|' ("syn|ack").
func (k Kind) NameOf(v uint32) string {
	if k == KindTCPFlags {
		var names []string
		for _, n := range TCPFlagNames {
			if v&n.Value != 0 {
				names = append(names, n.Name)
			}
		}
		if len(names) == 0 {
			return "0"
		}
		return strings.Join(names, "|")
	}
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

// ValueOf reads a value of kind k by name; TCP flags may be joined by '|'.
func (k Kind) ValueOf(name string) (uint32, bool) {
	if k == KindTCPFlags {
		var v uint32
		for _, part := range strings.Split(name, "|") {
			i := slices.IndexFunc(TCPFlagNames, func(n Named) bool { return n.Name == part })
			if i < 0 {
				return 0, false
			}
			v |= TCPFlagNames[i].Value
		}
		return v, true
	}
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
