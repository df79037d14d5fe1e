package lang

import (
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// A nat map, "dnat ip to tcp dport map { 80 : 192.0.2.10, 8080 :
// 192.0.2.11:80 }", rewrites a packet to the address its key maps to. It
// is read as a verdict map is: one rule a key, with the key as one more
// match and its address as the rule's rewrite. A packet with no key is
// not rewritten and goes on to the next rule, in nft as in those rules;
// keys that a packet could share are refused, as nft refuses them.

// natMapHint is how a nat map is written.
const natMapHint = "write dnat to FIELD map { KEY : ADDRESS, ... }, e.g. dnat ip to tcp dport map { 80 : 192.0.2.10, 8443 : 192.0.2.11:443 }"

// natMap reads "map { KEY : ADDRESS, ... }" after "snat|dnat [ip|ip6] to
// SELECTORS map" and makes the rule's branches, then the nat flags that
// apply to them all.
func (rb *ruleBuilder) natMap(kind ir.NATKind, family ir.Family, sels []*ir.Selector, pos, end ir.Pos) bool {
	body := rb.next()
	if body != nil && strings.HasPrefix(body.word(), "@") {
		// A named map: its elements, as if written here.
		data := map[ir.Family]string{ir.IPv4: "ipv4_addr", ir.IPv6: "ipv6_addr"}[family]
		v := rb.constBody(body, sels, true, data)
		if v == nil {
			return false
		}
		body = &Term{Pos: body.Pos, EndPos: body.EndPos, Value: v}
	}
	switch {
	case body == nil || body.Value == nil || body.Value.Set == nil:
		rb.errorf(pos, end, "%s to a map needs its elements in braces", kind).Hint = natMapHint
		return false
	case len(body.Value.Set.Values()) == 0:
		at, to := body.span()
		rb.errorf(at, to, "an empty nat map rewrites nothing").Hint = natMapHint
		return false
	}
	values := body.Value.Set.Values()
	base := rb.out
	terms, i := rb.terms, rb.i
	var keys [][]*ir.Match
	var rewrites []*ir.NAT
	for j := 0; j < len(values); {
		key, next, ok := rb.tupleAt(values, j, len(sels))
		if !ok {
			return false
		}
		if next+1 >= len(values) || !isWord(values[next], ":") {
			at, to := key[0].span()
			rb.errorf(at, to, "each element of a nat map is KEY : ADDRESS, with spaces around the ':'").Hint = natMapHint
			return false
		}
		// The address, and what is glued to it ("$WEB:443").
		j = next + 1
		to := []*Term{term(values[j])}
		for j++; j < len(values) && values[j].Pos.Offset == values[j-1].EndPos.Offset; j++ {
			to = append(to, term(values[j]))
		}
		out := *base
		out.Matches = cloneMatches(base.Matches)
		rb.out = &out
		tuple, ok := rb.distinctTuple(sels, key, keys, "this key of the nat map")
		if !ok {
			return false
		}
		rb.terms, rb.i = to, 0
		n := rb.nat(kind, family, pos, end)
		if n == nil {
			return false
		}
		if tuple == nil {
			continue // a define without a value, in a disabled rule
		}
		keys = append(keys, tuple)
		out.Verdict, out.NAT = ir.Translate, n
		rewrites = append(rewrites, n)
		rb.branches = append(rb.branches, &out)
	}
	rb.out, rb.terms, rb.i = base, terms, i
	var flags ir.NAT
	if !rb.natFlags(&flags) {
		return false
	}
	for _, n := range rewrites {
		n.Flags = flags.Flags
	}
	if rb.branches == nil {
		rb.branches = []*ir.Rule{} // no rule, rather than the rule without its map
	}
	rb.stage = decided
	return true
}

// A mark map, "meta mark set tcp dport map { 22 : 0x1, 443 : 0x2 }", sets
// the mark its key maps to. It is read as a concatenation's set is: the
// rule once a key, with the key as one more match and the key's mark as
// the statement's value; a packet with no key is not marked and the rest
// of the rule (its verdict) does not happen to it, as in nft.

// markMap reads "map { KEY : MARK, ... }" after "meta mark set SELECTORS
// map" (or ct mark), and returns the statement, whose value each of the
// rule's alternatives sets (rb.mapped).
func (rb *ruleBuilder) markMap(target ir.Field, sels []*ir.Selector, pos, end ir.Pos) *ir.MarkSet {
	const hint = "write meta mark set FIELD map { KEY : MARK, ... }, e.g. meta mark set tcp dport map { 22 : 0x1, 443 : 0x2 }"
	if rb.alternatives != nil {
		rb.errorf(pos, end, "a rule may hold one map or concatenation").Hint = "split the rule, one in each"
		return nil
	}
	if len(rb.out.Statements) > 0 {
		// nft runs them for every packet, then stops the rule for one of
		// no key: one rule a key would run them for the keys' only.
		rb.errorf(pos, end, "a statement before a mark map would act on packets no key matches").Hint = "put it in a rule of its own before this one"
		return nil
	}
	for _, sel := range sels {
		if sel.Field == target {
			rb.errorf(pos, end, "%s set from a map on %s: the rule of the next key would read the new value", target, sel.Words).Hint = "map on another field, or one rule a key"
			return nil
		}
	}
	body := rb.next()
	if body == nil || body.Value == nil || body.Value.Set == nil || len(body.Value.Set.Values()) == 0 {
		rb.errorf(pos, end, "%s set to a map needs its elements in braces", target).Hint = hint
		return nil
	}
	values := body.Value.Set.Values()
	base, terms, i := rb.out, rb.terms, rb.i
	defer func() { rb.out, rb.terms, rb.i = base, terms, i }()
	var keys [][]*ir.Match
	var marks []uint32
	for j := 0; j < len(values); {
		key, next, ok := rb.tupleAt(values, j, len(sels))
		if !ok {
			return nil
		}
		if next+1 >= len(values) || !isWord(values[next], ":") {
			at, to := key[0].span()
			rb.errorf(at, to, "each element of a mark map is KEY : MARK, with spaces around the ':'").Hint = hint
			return nil
		}
		j = next + 2
		rb.out = &ir.Rule{Pos: base.Pos}
		tuple, ok := rb.distinctTuple(sels, key, keys, "this key of the mark map")
		if !ok {
			return nil
		}
		rb.terms, rb.i = []*Term{term(values[next+1])}, 0
		mark, ok := rb.markNumber(target, pos, end)
		if !ok {
			return nil
		}
		if tuple != nil {
			keys, marks = append(keys, tuple), append(marks, mark)
		}
	}
	if len(keys) == 0 {
		keys, marks = [][]*ir.Match{{}}, []uint32{0} // a disabled rule's
	}
	rb.alternatives, rb.mapped = keys, marks
	rb.mappedBy = &ir.MarkSet{Pos: pos, Target: target, Value: marks[0]}
	return rb.mappedBy
}
