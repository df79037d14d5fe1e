package lint

import (
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// decidedAlike returns the later rules that give every packet rule
// number i of c takes the decision it gives, or nil: without it, those
// packets would fare the same, so it changes no verdict. Only a rule
// whose packets all meet later rules is named: one that restates the
// chain's policy for some of them ("ct state invalid drop" early in a
// chain that drops) is written on purpose. It says nothing where it
// cannot be sure: a later rule that is no cube, keeps a rate, jumps,
// logs or changes the packet, a rule that does more than decide, and
// once the chain's budget of cube operations is spent.
func decidedAlike(c *ir.Chain, i int, cubes []cubeOf, budget *int) []*ir.Rule {
	r := c.Rules[i]
	if !ends(r) || r.Verdict == ir.Translate || !onlyCounts(r) || !cubes[i].ok {
		return nil
	}
	cube := cubes[i].cube
	left := []region.Cube{cube}
	var by []*ir.Rule
	for j, e := range c.Rules[i+1:] {
		ec := cubes[i+1+j]
		if *budget--; *budget <= 0 {
			return nil
		}
		if ec.ok && !cube.Intersects(ec.cube) {
			continue
		}
		if !ec.ok || !onlyCounts(e) || e.Verdict == ir.Jump {
			return nil // it may take some of them, or change them
		}
		if !ends(e) {
			continue // it only counts them
		}
		*budget -= len(left)
		next, took := region.Cut(left, ec.cube)
		if !took {
			continue
		}
		if !sameDecision(r, e) {
			return nil
		}
		by = append(by, e)
		left = next
		switch {
		case len(left) == 0:
			return by
		case len(left) > maxPieces:
			return nil
		}
	}
	return nil // some reach the chain's end
}

// onlyCounts reports whether a rule does nothing to a packet but count
// it before its verdict.
func onlyCounts(r *ir.Rule) bool {
	for _, s := range r.Statements {
		if _, ok := s.(*ir.Counter); !ok {
			return false
		}
	}
	return true
}

// sameDecision reports whether two rules do the same with a packet.
func sameDecision(a, b *ir.Rule) bool {
	return a.VerdictText() == b.VerdictText() && a.RejectWith == b.RejectWith
}
