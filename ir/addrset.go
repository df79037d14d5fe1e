package ir

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// MergeRanges sorts address elements and merges those that overlap or
// touch, so that the kernel, which refuses overlapping interval elements,
// accepts them as one set. A merged range that is exactly a prefix is
// written as one. Elements must share one family.
func MergeRanges(elems []AddrElem) []AddrElem {
	if len(elems) == 0 {
		return nil
	}
	byFrom := func(a, b AddrElem) int { return a.From.Compare(b.From) }
	sorted := elems // generated lists usually come sorted: no copy then
	if !slices.IsSortedFunc(elems, byFrom) {
		sorted = slices.Clone(elems)
		slices.SortFunc(sorted, byFrom)
	}
	out := make([]AddrElem, 0, len(sorted))
	cur := sorted[0]
	for _, e := range sorted[1:] {
		// Adjacent counts as touching: cur.To+1 == e.From.
		if next := cur.To.Next(); !cur.To.Less(e.From) || next.IsValid() && next == e.From {
			if cur.To.Less(e.To) {
				cur.To = e.To
			}
			cur.Prefix = netip.Prefix{}
			continue
		}
		out = append(out, asPrefix(cur))
		cur = e
	}
	return append(out, asPrefix(cur))
}

// asPrefix returns e with Prefix set when [From, To] is exactly one prefix
// (a single address stays a single address).
func asPrefix(e AddrElem) AddrElem {
	if e.Prefix.IsValid() || e.From == e.To {
		return e
	}
	from, to := e.From.As16(), e.To.As16()
	skip := 0 // IPv4 addresses sit in the last 4 of the 16 bytes
	if e.From.Is4() {
		skip = 12
	}
	// The prefix length is the number of leading bits From and To share;
	// it is exact when From has only zeros and To only ones after it.
	common := 0
	for i := skip; i < len(from); i++ {
		x := from[i] ^ to[i]
		if x != 0 {
			common += bits.LeadingZeros8(x)
			break
		}
		common += 8
	}
	p := netip.PrefixFrom(e.From, common)
	if p.Masked().Addr() == e.From && LastAddr(p) == e.To {
		e.Prefix = p
	}
	return e
}

// LastAddr returns the last address of a prefix (all host bits set).
func LastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	b := a.As16()
	first := p.Bits()
	if a.Is4() {
		first += 96
	}
	for i := first; i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	if a.Is4() {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// NotAnAddress is ParseAddrElem's message for text that is no address at
// all, which callers say in their own words.
const NotAnAddress = "not an address"

// ParseAddrElem reads an address, a prefix ("192.0.2.0/24") or a range
// ("192.0.2.4-192.0.2.6"), as policies and packet regions write them: a
// message and a hint say what is wrong, or the message is empty.
func ParseAddrElem(t string) (AddrElem, string, string) {
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return AddrElem{}, fmt.Sprintf("malformed prefix %q", t), "write a prefix as ADDRESS/LENGTH, e.g. 192.0.2.0/24 or 2001:db8::/32"
		}
		if p.Addr().Zone() != "" {
			return AddrElem{}, fmt.Sprintf("prefix %q has a zone", t), ""
		}
		if p.Masked() != p {
			return AddrElem{}, fmt.Sprintf("prefix %s has host bits set", t), "did you mean " + p.Masked().String() + "?"
		}
		return AddrElem{From: p.Addr(), To: LastAddr(p), Prefix: p}, "", ""
	}
	if a, b, ok := strings.Cut(t, "-"); ok {
		from, err1 := netip.ParseAddr(a)
		to, err2 := netip.ParseAddr(b)
		if err1 != nil || err2 != nil || from.Zone() != "" || to.Zone() != "" {
			return AddrElem{}, fmt.Sprintf("malformed address range %q", t), "write a range as FIRST-LAST, e.g. 192.0.2.4-192.0.2.6"
		}
		if from.Is4() != to.Is4() {
			return AddrElem{}, fmt.Sprintf("address range %q mixes IPv4 and IPv6", t), ""
		}
		if to.Less(from) {
			return AddrElem{}, fmt.Sprintf("address range %q is empty: its first address is above its last", t), "did you mean " + b + "-" + a + "?"
		}
		return AddrElem{From: from, To: to}, "", ""
	}
	a, err := netip.ParseAddr(t)
	if err != nil {
		return AddrElem{}, NotAnAddress, ""
	}
	if a.Zone() != "" {
		return AddrElem{}, fmt.Sprintf("address %q has a zone", t), "remove the %zone part"
	}
	a = a.Unmap()
	return AddrElem{From: a, To: a}, "", ""
}
