package ir

// Named is a value with the name the language (and nft) gives it.
type Named struct {
	Name  string
	Value uint32
}

// TCPFlagNames are the TCP flags by nft's names, lowest bit first.
var TCPFlagNames = []Named{{"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08}, {"ack", 0x10}, {"urg", 0x20}, {"ecn", 0x40}, {"cwr", 0x80}}

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
