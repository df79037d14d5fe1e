package ir

// Named is a value with the name the language (and nft) gives it.
type Named struct {
	Name  string
	Value uint32
}

// TCPFlagNames are the TCP flags by nft's names, lowest bit first.
// CtStatusNames are the bits of a connection's status nft names; the
// kernel keeps more (nat set up: 0x80 for the source, 0x100 for the
// destination), which print as numbers.
var CtStatusNames = []Named{{"expected", 0x1}, {"seen-reply", 0x2}, {"assured", 0x4}, {"confirmed", 0x8}, {"snat", 0x10}, {"dnat", 0x20}, {"dying", 0x200}}

// Status bits of a connection the simulator sets as the kernel does.
const (
	CtStatusSrcNATDone = 0x80
	CtStatusDstNATDone = 0x100
	// CtStatusLabFlow is what a connection the lab makes for an
	// established or related packet has: confirmed, seen-reply, assured.
	CtStatusLabFlow = 0x8 | 0x2 | 0x4
)

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
