package lang

import (
	"fmt"
	"slices"

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

// vmapBranch is one "KEY : VERDICT" element.
type vmapBranch struct {
	key     *Term
	verdict []*Term // the verdict's word and, for jump and goto, its chain
}

// verdictMap reads "vmap { ... }" after the selector sel, whose match
// starts at pos, and makes the rule's branches.
func (rb *ruleBuilder) verdictMap(sel *ir.Selector, pos ir.Pos) bool {
	word := rb.next() // "vmap"
	vpos, vend := word.span()
	if rb.stage == acting {
		rb.errorf(vpos, vend, "a verdict map decides the rule's fate, and counter, log and limit before it would act on packets no key matches").Hint =
			"count or log in a rule of its own before this one"
		return false
	}
	body := rb.next()
	if body == nil || body.Value == nil || body.Value.Set == nil {
		if body != nil && body.Value != nil && body.Value.Word != nil && (*body.Value.Word)[0] == '@' {
			at, to := body.span()
			rb.errorf(at, to, "ksc does not declare named verdict maps yet").Hint = "write the map in the rule: " + vmapHint
			return false
		}
		rb.errorf(vpos, vend, "vmap needs its elements in braces").Hint = vmapHint
		return false
	}
	branches, ok := rb.vmapBranches(body)
	if !ok {
		return false
	}
	base := rb.out
	terms, i := rb.terms, rb.i
	defer func() { rb.out, rb.terms, rb.i = base, terms, i }()
	var keys []*ir.Match
	for _, br := range branches {
		out := *base
		out.Matches = cloneMatches(base.Matches)
		rb.out, rb.terms, rb.i = &out, []*Term{br.key}, 0
		at, _ := br.key.span()
		errors := rb.ds.Errors()
		if !rb.match(sel, at) || rb.ds.Errors() > errors {
			return false
		}
		if len(out.Matches) == len(base.Matches) {
			continue // a define without a value, in a disabled rule
		}
		key := out.Matches[len(out.Matches)-1]
		if !rb.vmapKeyApart(key, keys) {
			return false
		}
		keys = append(keys, key)
		rb.terms, rb.i, rb.stage = br.verdict, 1, matching
		if !rb.vmapVerdict(sel, br) {
			return false
		}
		rb.branches = append(rb.branches, &out)
	}
	rb.stage = decided
	return true
}

// vmapBranches splits the braces' elements at each ":" into keys and
// verdicts; the elements are words, as the set grammar reads them.
func (rb *ruleBuilder) vmapBranches(body *Term) ([]vmapBranch, bool) {
	values := body.Value.Set.Values()
	at, to := body.span()
	if len(values) == 0 {
		rb.errorf(at, to, "an empty verdict map decides nothing").Hint = vmapHint
		return nil, false
	}
	term := func(v *Value) *Term { return &Term{Pos: v.Pos, EndPos: v.EndPos, Value: v} }
	var out []vmapBranch
	for i := 0; i < len(values); {
		key := term(values[i])
		if i+2 >= len(values) || values[i+1].Word == nil || *values[i+1].Word != ":" {
			kpos, kend := key.span()
			rb.errorf(kpos, kend, "each element of a verdict map is KEY : VERDICT, with spaces around the ':'").Hint = vmapHint
			return nil, false
		}
		verdict := []*Term{term(values[i+2])}
		i += 3
		if v, ok := ir.ParseVerdict(verdict[0].word()); ok && v.TakesChain() && i < len(values) {
			verdict = append(verdict, term(values[i]))
			i++
		}
		out = append(out, vmapBranch{key: key, verdict: verdict})
	}
	return out, true
}

// vmapVerdict reads a branch's verdict: those a verdict map may hold.
func (rb *ruleBuilder) vmapVerdict(sel *ir.Selector, br vmapBranch) bool {
	w := br.verdict[0]
	at, to := w.span()
	v, ok := ir.ParseVerdict(w.word())
	switch {
	case !ok || v == ir.Translate || v == ir.Reject:
		rb.errorf(at, to, "%q is not a verdict a verdict map can hold", w.word()).Hint = "use accept, drop, return, jump CHAIN or goto CHAIN"
		return false
	case v == ir.Jump && slices.Contains(ir.MarkSetTargets, sel.Field):
		rb.errorf(at, to, "jump in a verdict map on %s: the chain may set %s, and the map would then be read again", sel.Words, sel.Words).Hint =
			"use goto, which does not come back, or one rule a key: " + sel.Words + " KEY jump CHAIN"
		return false
	}
	return clauseReaders[w.word()](rb, w.word(), at, to)
}

// vmapKeyApart refuses a key that a packet could share with an earlier
// one: nft refuses such a map, and one rule a key would take the first.
func (rb *ruleBuilder) vmapKeyApart(key *ir.Match, earlier []*ir.Match) bool {
	for _, e := range earlier {
		if !key.Effective().Intersect(e.Effective()).IsEmpty() {
			rb.errorf(key.Pos, key.End, "this key of the verdict map overlaps the one at %s", e.Pos).Hint =
				fmt.Sprintf("a packet must match one key at most: split or merge %s's keys", key.Field)
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
