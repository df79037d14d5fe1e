package ir

// RejectKind is what a reject answers with.
type RejectKind uint8

const (
	RejectDefault  RejectKind = iota // port unreachable, in the packet's family
	RejectTCPReset                   // a TCP reset: TCP rules only
	RejectICMP                       // an ICMP error: IPv4 rules only
	RejectICMPv6                     // an ICMPv6 error: IPv6 rules only
	RejectICMPX                      // the same error in either family
)

// RejectWith is a reject's answer: its kind, and for ICMP kinds the code.
type RejectWith struct {
	Kind RejectKind
	Code uint8
}

// ICMPXCodes are the family-independent codes of "reject with icmpx", by
// nft's names and the kernel's NFT_REJECT_ICMPX_* numbers.
var ICMPXCodes = []Named{{"no-route", 0}, {"port-unreachable", 1}, {"host-unreachable", 2}, {"admin-prohibited", 3}}

// icmpxCodes are the codes an icmpx code is sent as, in IPv4 and in IPv6:
// the kernel's nft_reject_icmp_code and nft_reject_icmpv6_code.
var icmpxCodes = map[Family]map[uint8]uint8{
	IPv4: {0: 0, 1: 3, 2: 1, 3: 13},
	IPv6: {0: 0, 1: 4, 2: 3, 3: 1},
}

// InFamily is the answer as the kernel sends it to a packet of family f: a
// TCP reset, or an ICMP (IPv4) or ICMPv6 error and its code. The default
// is port unreachable, and an icmpx code is the family's own. False when
// a packet of f cannot get the answer (an icmp error to an IPv6 packet).
func (r RejectWith) InFamily(f Family) (RejectWith, bool) {
	own := RejectWith{Kind: RejectICMP}
	if f == IPv6 {
		own.Kind = RejectICMPv6
	}
	switch r.Kind {
	case RejectTCPReset:
		return r, true
	case RejectICMP, RejectICMPv6:
		return r, r.Kind == own.Kind
	case RejectDefault:
		r = RejectWith{Kind: RejectICMPX, Code: 1} // port-unreachable
	case RejectICMPX:
	default:
		return RejectWith{}, false
	}
	code, ok := icmpxCodes[f][r.Code]
	own.Code = code
	return own, ok
}

// Codes is the vocabulary of a reject kind's codes.
func (k RejectKind) Codes() []Named {
	switch k {
	case RejectICMP:
		return ICMPCodes
	case RejectICMPv6:
		return ICMPv6Codes
	case RejectICMPX:
		return ICMPXCodes
	}
	return nil
}

// CodeName names a code of the kind, or writes its number.
func (k RejectKind) CodeName(code uint8) string {
	for _, n := range k.Codes() {
		if n.Value == uint32(code) {
			return n.Name
		}
	}
	return itoa(int(code))
}

// Text writes the answer as nft lists it: "with tcp reset", "with icmp
// host-prohibited"; empty for the default.
func (r RejectWith) Text() string {
	switch r.Kind {
	case RejectTCPReset:
		return "with tcp reset"
	case RejectICMP:
		return "with icmp " + r.Kind.CodeName(r.Code)
	case RejectICMPv6:
		return "with icmpv6 " + r.Kind.CodeName(r.Code)
	case RejectICMPX:
		return "with icmpx " + r.Kind.CodeName(r.Code)
	}
	return ""
}
