package lang

import (
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// A concatenation, "ip daddr . tcp dport { 198.51.100.1 . 22, 198.51.100.2
// . 443 }", holds for a packet whose values together are one of the
// tuples. It is read as one rule a tuple, each with a match of every
// selector: that is its meaning when no packet has the values of two
// tuples (checked here), so that no packet meets two of the rules. The
// IR, the backends, the simulator and the lab need nothing of their own.

// concatenation reads the tuples after the selectors sels: one tuple
// ("a . b") or a set of them.
func (rb *ruleBuilder) concatenation(sels []*ir.Selector, pos, end ir.Pos) bool {
	if rb.alternatives != nil {
		rb.errorf(pos, end, "a rule may hold one concatenation").Hint = "split the rule, one concatenation in each"
		return false
	}
	var values []*Value
	switch t := rb.peek(); {
	case t != nil && strings.HasPrefix(t.word(), "@"):
		rb.next()
		body := rb.constBody(t, sels, false, "")
		if body == nil {
			return false
		}
		values = body.Set.Values()
	case t != nil && t.Value != nil && t.Value.Set != nil:
		rb.next()
		values = t.Value.Set.Values()
	default:
		for range 2*len(sels) - 1 {
			t := rb.next()
			if t == nil || t.Value == nil {
				rb.errorf(pos, end, "the concatenation needs a value for each of its %d selectors", len(sels)).Hint =
					"e.g. ip daddr . tcp dport { 198.51.100.1 . 22, 198.51.100.2 . 443 }"
				return false
			}
			values = append(values, t.Value)
		}
	}
	base, terms, i := rb.out, rb.terms, rb.i
	defer func() { rb.out, rb.terms, rb.i = base, terms, i }()
	var tuples [][]*ir.Match
	for k := 0; k < len(values); {
		key, next, ok := rb.tupleAt(values, k, len(sels))
		if !ok {
			return false
		}
		k = next
		rb.out = &ir.Rule{Pos: base.Pos}
		tuple, ok := rb.distinctTuple(sels, key, tuples, "this element of the concatenation")
		if !ok {
			return false
		}
		if tuple != nil { // nil: a define without a value, in a disabled rule
			tuples = append(tuples, tuple)
		}
	}
	if len(tuples) == 0 {
		tuples = [][]*ir.Match{{}} // a disabled rule's: nothing to add
	}
	rb.alternatives = tuples
	return true
}

// expandable refuses what one rule a tuple would not mean: a limit (each
// rule would keep a rate of its own), and a jump when the chain jumped to
// may change a field the tuples match.
func (rb *ruleBuilder) expandable() bool {
	if len(rb.alternatives) < 2 {
		return true
	}
	if l := rb.out.Limit(); l != nil {
		rb.errorf(l.Pos, ir.Pos{}, "a limit in a rule of several tuples would keep a rate for each tuple").Hint =
			"limit in a rule of its own, or one tuple a rule"
		return false
	}
	if rb.out.Verdict == ir.Jump {
		for _, m := range rb.alternatives[0] {
			if slices.Contains(ir.MarkSetTargets, m.Field) {
				rb.errorf(m.Pos, m.End, "jump in a rule of several tuples on %s: the chain may set it, and the next tuple would then hold too", m.Field).Hint =
					"use goto, which does not come back, or one tuple a rule"
				return false
			}
		}
	}
	return true
}

// retarget gives each rule written for a tuple its own reference to the
// chain it jumps or goes to.
func (rb *ruleBuilder) retarget() {
	for k, ref := range rb.targets {
		if ref.rule != rb.out {
			continue
		}
		rb.targets[k].rule = rb.branches[0]
		for _, br := range rb.branches[1:] {
			copyRef := ref
			copyRef.rule = br
			rb.targets = append(rb.targets, copyRef)
		}
		return
	}
}
