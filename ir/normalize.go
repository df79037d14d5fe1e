package ir

import (
	"slices"
	"strings"
)

// sourced is a match with the match that was written: itself, or the
// "tcp dport" that implied a "meta l4proto tcp".
type sourced struct {
	m, written *Match
}

// describe names the match, with its position when at is set.
func (s sourced) describe(at bool) string {
	text := s.written.Text()
	if s.m != s.written {
		text += " (which implies " + s.m.Text() + ")"
	}
	if at {
		text += " at " + s.written.Pos.String()
	}
	return text
}

// normalize puts a rule's matches in normal form, which is what every
// backend writes: at most one match per field, in the order the fields
// are first written (so that nft lists the rule as written), with implied
// protocols made explicit just ahead of the match that implies them.
// Several matches on one field are intersected, whatever their order; a
// rule whose matches no packet can satisfy together is an error that
// names them. It returns false when the rule is refused. Normalizing a
// normal rule changes nothing.
func normalize(r *Rule, table Family, ds *Diagnostics) bool {
	byField := map[Field][]sourced{}
	var order []Field
	add := func(f Field, s sourced) {
		if _, seen := byField[f]; !seen {
			order = append(order, f)
		}
		byField[f] = append(byField[f], s)
	}
	for _, m := range r.Matches {
		proto := m.Protocol
		if p := m.Field.Spec().Protocol; p != AnyTransport {
			proto = p // "icmp type" holds for ICMP only
		}
		if proto != AnyTransport {
			implied := &Match{Pos: m.Pos, End: m.End, Field: FieldL4Proto, Values: ProtocolSet(proto)}
			add(FieldL4Proto, sourced{implied, m})
		}
		if types := m.Field.Spec().ICMPTypes; types != nil {
			// "icmp mtu" is a field of "fragmentation needed" only.
			typeField := map[Protocol]Field{ICMP: FieldICMPType, ICMPv6: FieldICMPv6Type}[m.Field.Spec().Protocol]
			implied := &Match{Pos: m.Pos, End: m.End, Field: typeField, Values: NumberSet(types...)}
			add(typeField, sourced{implied, m})
		}
		add(m.Field, sourced{m, m})
	}
	if r.NAT != nil && r.NAT.Family() != Inet {
		// "snat ip to" rewrites IPv4 packets only: the rule holds for them.
		implied := &Match{Pos: r.NAT.Pos, Field: FieldNfproto, Values: NfprotoSet(r.NAT.Family()), FromNAT: true}
		add(FieldNfproto, sourced{implied, implied})
	}
	if len(byField[FieldL4Proto]) == 0 && (len(byField[FieldSport]) > 0 || len(byField[FieldDport]) > 0) {
		// "ip protocol tcp th dport 22": IPv4's protocol field is its
		// transport protocol, which the ports need (and only they: nft
		// lists no other rule with a protocol it did not write).
		for _, ip := range byField[FieldIPProtocol] {
			if ip.m.Op == Eq && ip.m.Mask == 0 {
				implied := &Match{Pos: ip.m.Pos, End: ip.m.End, Field: FieldL4Proto, Values: ip.m.Values}
				add(FieldL4Proto, sourced{implied, ip.written})
			}
		}
	}
	if len(byField[FieldIPProtocol]) > 0 {
		// IPv4 has no extension headers: its protocol field is the
		// transport protocol, so "ip protocol" holds only for what the
		// rule's protocol matches allow too (and nft reads a set there as
		// no one protocol, which "reject with tcp reset" needs).
		for _, l4 := range byField[FieldL4Proto] {
			same := *l4.m
			same.Field = FieldIPProtocol
			byField[FieldIPProtocol] = append(byField[FieldIPProtocol], sourced{&same, l4.written})
		}
	}
	out := make([]*Match, 0, len(byField))
	ok := true
	for _, f := range order {
		group := byField[f]
		m, combined := combine(group, ds)
		ok = ok && combined
		if m != nil && !(f == FieldNfproto && holdsForEveryPacket(m, r, table)) {
			out = append(out, m)
		}
	}
	if ok {
		r.Matches = out
	}
	return ok
}

// holdsForEveryPacket reports a meta nfproto match that every packet the
// rule can see passes, which is left out: in an ip or ip6 table, one that
// takes the table's family (nft refuses meta nfproto there); in an inet
// table, "meta nfproto { ipv4, ipv6 }" next to a match that binds the rule
// to one family (nft refuses that pair) or in a rule that rejects. Alone,
// nft keeps and lists it, and so does ksc.
func holdsForEveryPacket(m *Match, r *Rule, table Family) bool {
	if table != Inet {
		return m.Effective().Has(NfprotoSet(table)[0].Lo)
	}
	if !m.Effective().Equal(FieldNfproto.Spec().Kind.Universe()) {
		return false
	}
	if r.Verdict == Reject {
		return true // nft 1.0.6 then rejects IPv4 with ICMPv6's code
	}
	return m.FromNAT || slices.ContainsFunc(r.Matches, func(o *Match) bool { return o.Field != FieldNfproto && o.family() != Inet })
}

// combine intersects the matches on one field into one match.
func combine(group []sourced, ds *Diagnostics) (*Match, bool) {
	first := group[0]
	if first.m.Effective().IsEmpty() && first.m.Set == nil { // a declared set may start empty
		d := ds.Errorf(first.written.Pos, "this rule can never match: %s holds for no packet", first.describe(false))
		d.End = first.written.End
		d.Hint = "a negation of every value matches nothing; leave the match out to match everything"
		return nil, false
	}
	if len(group) == 1 {
		m := *first.m
		m.Protocol = AnyTransport
		return &m, true
	}
	kind := first.m.Field.Spec().Kind
	values := kind.Universe()
	allNeq := true
	var union Set
	for i, s := range group {
		if s.m.Mask != first.m.Mask {
			d := ds.Errorf(s.written.Pos, "%s is matched under two masks in this rule (%s and %s): ksc cannot write that as one match",
				s.m.Field, KindMark.NameOf(first.m.Mask), KindMark.NameOf(s.m.Mask))
			d.Hint = "use one mask for the field in a rule"
			return nil, false
		}
		if s.m.Set != nil {
			ds.Errorf(s.m.Pos, "%s on the set @%s cannot be combined with another match on %s in one rule", s.m.Field, s.m.SetName, s.m.Field).Hint =
				"keep one " + s.m.Field.String() + " match in this rule"
			return nil, false
		}
		if s.m.SetName != "" {
			ds.Errorf(s.m.Pos, "%s on the file set $%s cannot be combined with another match on %s in one rule", s.m.Field, s.m.SetName, s.m.Field).Hint =
				"keep one " + s.m.Field.String() + " match in this rule"
			return nil, false
		}
		next := values.Intersect(s.m.Effective())
		if next.IsEmpty() {
			var earlier []string
			for _, e := range group[:i] {
				earlier = append(earlier, e.describe(true))
			}
			d := ds.Errorf(s.written.Pos, "this rule can never match: %s contradicts %s", s.describe(false), strings.Join(earlier, " and "))
			d.End = s.written.End
			d.Hint = "a rule holds only where all its matches hold; for any of several values write one set: " +
				s.m.Field.String() + " { A, B }"
			return nil, false
		}
		values = next
		allNeq = allNeq && s.m.Op == Neq
		if s.m.Op == Neq {
			union = union.Union(s.m.Values)
		}
	}
	m := &Match{Pos: first.m.Pos, End: first.m.End, Field: first.m.Field, Values: values, Mask: first.m.Mask}
	// Normalizing twice meets the rewrite's own match again: still its.
	m.FromNAT = !slices.ContainsFunc(group, func(s sourced) bool { return !s.m.FromNAT })
	if allNeq {
		m.Op, m.Values = Neq, union
	}
	if kind.Spec().Shape == ShapeName && !printableInterfaces(m.Values) {
		d := ds.Errorf(group[1].written.Pos, "the %s matches at %s and %s cannot be written as one match", m.Field, first.written.Pos, group[1].written.Pos)
		d.Hint = "a negation that cuts a wildcard in two (\"eth*\" but not \"eth0\") has no single-match form on every target; list the names instead"
		return nil, false
	}
	var direct []*Match
	for _, s := range group {
		if s.m == s.written {
			direct = append(direct, s.m)
		}
	}
	if len(direct) > 1 {
		ds.Warnf(direct[1].Pos, "%s is matched more than once in this rule: it holds only where all hold, %s", m.Field, m.Text()).Hint =
			"write one match"
	}
	return m, true
}

func printableInterfaces(s Set) bool {
	for _, sp := range s {
		if _, ok := InterfacePattern(sp); !ok {
			return false
		}
	}
	return true
}
