package lang

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// A verdict map, "ct state vmap { established : accept, invalid : drop }",
// is read as one rule for each of its elements: the rule's matches, the
// element's key as one more match, and its verdict. That is its meaning
// exactly when no packet can match two keys, and a chain jumped to cannot
// change the key on its way back (a mark set in it would make the next
// element hold too); both are checked here. The IR, every backend, the
// simulator and the lab then know verdict maps without a line of their own.

// vmapHint is how a verdict map is written.
const vmapHint = "write FIELD vmap { KEY : VERDICT, ... }, e.g. ct state vmap { established : accept, related : accept, invalid : drop }"

// vmapBranch is one "KEY : VERDICT" element; a key of a concatenation
// ("ip protocol . th dport vmap { tcp . 22 : accept }") has a value for
// each of its selectors.
type vmapBranch struct {
	key     []*Term
	verdict []*Term // the verdict's word and, for jump and goto, its chain
}

// verdictMap reads "vmap { ... }" after the selectors sels (one, or a
// concatenation), whose match starts at pos, and makes the rule's
// branches.
func (rb *ruleBuilder) verdictMap(sels []*ir.Selector, pos ir.Pos) bool {
	word := rb.next() // "vmap"
	vpos, vend := word.span()
	if rb.stage == acting {
		rb.errorf(vpos, vend, "a verdict map decides the rule's fate, and counter, log and limit before it would act on packets no key matches").Hint =
			"count or log in a rule of its own before this one"
		return false
	}
	body := rb.next()
	if body != nil && strings.HasPrefix(body.word(), "@") {
		v := rb.constBody(body, sels, true, "verdict")
		if v == nil {
			return false
		}
		body = term(v)
	}
	if body == nil || body.Value == nil || body.Value.Set == nil {
		rb.errorf(vpos, vend, "vmap needs its elements in braces").Hint = vmapHint
		return false
	}
	branches, ok := rb.vmapBranches(body, len(sels))
	if !ok {
		return false
	}
	base := rb.out
	terms, i := rb.terms, rb.i
	defer func() { rb.out, rb.terms, rb.i = base, terms, i }()
	var keys [][]*ir.Match
	for _, br := range branches {
		out := *base
		out.Matches = cloneMatches(base.Matches)
		rb.out = &out
		key, ok := rb.distinctTuple(sels, br.key, keys, "this key of the verdict map")
		if !ok {
			return false
		}
		if key == nil {
			continue // a define without a value, in a disabled rule
		}
		keys = append(keys, key)
		if br.verdict[0].word() == "continue" {
			continue // the packet goes on to the next rule, as on no key
		}
		rb.terms, rb.i, rb.stage = br.verdict, 1, matching
		if !rb.vmapVerdict(sels, br) {
			return false
		}
		rb.branches = append(rb.branches, &out)
	}
	if len(rb.branches) == 0 {
		rb.ds.Warnf(vpos, "every key of this verdict map continues: the rule does nothing").Hint = "delete the rule"
		rb.branches = []*ir.Rule{} // no rule, rather than the rule without its map
	}
	rb.stage = decided
	return true
}

// tuple adds to rb.out a match of each selector on its value of key, and
// returns them; nil when a define without a value left one out.
func (rb *ruleBuilder) tuple(sels []*ir.Selector, key []*Term) ([]*ir.Match, bool) {
	var out []*ir.Match
	for j, sel := range sels {
		before := len(rb.out.Matches)
		rb.terms, rb.i = key[j:j+1], 0
		at, _ := key[j].span()
		errors := rb.ds.Errors()
		if !rb.match(sel, at) || rb.ds.Errors() > errors {
			return nil, false
		}
		if len(rb.out.Matches) == before {
			return nil, true
		}
		out = append(out, rb.out.Matches[len(rb.out.Matches)-1])
	}
	return out, true
}

// vmapBranches splits the braces' elements at each ":" into keys (of n
// values joined by ".") and verdicts; the elements are words, as the set
// grammar reads them.
func (rb *ruleBuilder) vmapBranches(body *Term, n int) ([]vmapBranch, bool) {
	values := body.Value.Set.Values()
	at, to := body.span()
	if len(values) == 0 {
		rb.errorf(at, to, "an empty verdict map decides nothing").Hint = vmapHint
		return nil, false
	}
	var out []vmapBranch
	if n == 1 {
		values = splitGlued(values)
	}
	for i := 0; i < len(values); {
		key, next, ok := rb.tupleAt(values, i, n)
		if !ok {
			return nil, false
		}
		i = next
		if i+1 >= len(values) || !isWord(values[i], ":") {
			kpos, kend := key[0].span()
			rb.errorf(kpos, kend, "each element of a verdict map is KEY : VERDICT, with spaces around the ':'").Hint = vmapHint
			return nil, false
		}
		verdict := []*Term{term(values[i+1])}
		i += 2
		if v, ok := ir.ParseVerdict(verdict[0].word()); ok && v.TakesChain() && i < len(values) {
			verdict = append(verdict, term(values[i]))
			i++
		}
		out = append(out, vmapBranch{key: key, verdict: verdict})
	}
	return out, true
}

// splitGlued splits elements nft also reads without spaces, "25:accept",
// into key, ":" and verdict: where what follows the last ':' is a verdict
// (an IPv6 address has colons too).
func splitGlued(values []*Value) []*Value {
	var out []*Value
	for _, v := range values {
		i := -1
		if v.Word != nil {
			i = strings.LastIndexByte(*v.Word, ':')
		}
		if i <= 0 {
			out = append(out, v)
			continue
		}
		key, verdict := (*v.Word)[:i], (*v.Word)[i+1:]
		if _, ok := ir.ParseVerdict(verdict); !ok && verdict != "continue" {
			out = append(out, v)
			continue
		}
		colon := ":"
		k, c, w := *v, *v, *v
		k.Word, c.Word, w.Word = &key, &colon, &verdict
		out = append(out, &k, &c, &w)
	}
	return out
}

func term(v *Value) *Term { return &Term{Pos: v.Pos, EndPos: v.EndPos, Value: v} }

func isWord(v *Value, w string) bool { return v.Word != nil && *v.Word == w }

// tupleAt reads n values joined by "." from values[i:], and where the
// next element starts.
func (rb *ruleBuilder) tupleAt(values []*Value, i, n int) ([]*Term, int, bool) {
	var key []*Term
	for j := range n {
		if j > 0 {
			if i >= len(values) || !isWord(values[i], ".") {
				at, to := key[0].span()
				rb.errorf(at, to, "this key has %d of the %d values of the concatenation", j, n).Hint = "join them with spaces around the '.': 198.51.100.1 . 22"
				return nil, 0, false
			}
			i++
		}
		if i >= len(values) || isWord(values[i], ".") || isWord(values[i], ":") {
			at, to := term(values[min(i, len(values)-1)]).span()
			rb.errorf(at, to, "a value is missing here").Hint = "write each key as VALUE . VALUE, as the concatenation's selectors are"
			return nil, 0, false
		}
		key = append(key, term(values[i]))
		i++
	}
	return key, i, true
}

// vmapVerdict reads a branch's verdict: those a verdict map may hold.
func (rb *ruleBuilder) vmapVerdict(sels []*ir.Selector, br vmapBranch) bool {
	w := br.verdict[0]
	at, to := w.span()
	v, ok := ir.ParseVerdict(w.word())
	switch {
	case !ok || v == ir.Translate || v == ir.Reject:
		rb.errorf(at, to, "%q is not a verdict a verdict map can hold", w.word()).Hint = "use accept, drop, return, jump CHAIN or goto CHAIN"
		return false
	}
	for _, sel := range sels {
		if v == ir.Jump && slices.Contains(ir.MarkSetTargets, sel.Field) {
			rb.errorf(at, to, "jump in a verdict map on %s: the chain may set %s, and the map would then be read again", sel.Words, sel.Words).Hint =
				"use goto, which does not come back, or one rule a key: " + sel.Words + " KEY jump CHAIN"
			return false
		}
	}
	return clauseReaders[w.word()](rb, w.word(), at, to)
}

// distinctTuple is tuple, refused where a packet could have the values
// of one of earlier too.
func (rb *ruleBuilder) distinctTuple(sels []*ir.Selector, key []*Term, earlier [][]*ir.Match, what string) ([]*ir.Match, bool) {
	tuple, ok := rb.tuple(sels, key)
	if !ok || tuple == nil {
		return tuple, ok
	}
	return tuple, rb.tupleApart(tuple, earlier, what)
}

// tupleApart refuses a key that a packet could share with an earlier
// one (every value of it overlapping): nft refuses such a map, and one
// rule a key would take the first, or both.
func (rb *ruleBuilder) tupleApart(key []*ir.Match, earlier [][]*ir.Match, what string) bool {
	for _, e := range earlier {
		overlap := true
		for j := range key {
			overlap = overlap && !key[j].Effective().Intersect(e[j].Effective()).IsEmpty()
		}
		if overlap {
			rb.errorf(key[0].Pos, key[len(key)-1].End, "%s overlaps the one at %s", what, e[0].Pos).Hint =
				fmt.Sprintf("a packet must match one key at most: split or merge %s's keys", key[0].Field)
			return false
		}
	}
	return true
}

// cloneMatches copies ms, each match by value, so that branches share none.
func cloneMatches(ms []*ir.Match) []*ir.Match {
	out := make([]*ir.Match, len(ms), len(ms)+1)
	for i, m := range ms {
		c := *m
		out[i] = &c
	}
	return out
}
