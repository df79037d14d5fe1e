package lint

import (
	"slices"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// shadowIndex holds a chain's earlier verdict rules so that finding the
// first one that covers a later rule is not a walk over all of them: a
// rule whose match on some field is one value (oifname "eth0", ip daddr
// 198.51.100.7) can only cover rules with that same value there, so it is
// filed under that value; the rest are always candidates.
type shadowIndex struct {
	general []indexed
	byValue map[valueKey][]indexed
	// hooks are the chain's, for the rules' cubes (region.Of); budget is
	// what is left of the work the union check may do in the chain.
	hooks  ir.HookSet
	budget int
	cubes  map[*ir.Rule]cubeOf // made when first needed
}

// cube is r's cube, made once.
func (x *shadowIndex) cube(r *ir.Rule) (region.Cube, bool) {
	c, seen := x.cubes[r]
	if !seen {
		if x.cubes == nil {
			x.cubes = map[*ir.Rule]cubeOf{}
		}
		c.cube, c.ok = region.Of(r, x.hooks)
		x.cubes[r] = c
	}
	return c.cube, c.ok
}

type indexed struct {
	order int
	rule  *ir.Rule
}

// cubeOf is the packets a rule holds for, when they are one cube.
type cubeOf struct {
	cube region.Cube
	ok   bool
}

// Bounds on the union check: the pieces left of a rule once earlier rules
// are taken away, and the cube operations in one chain. Past either, the
// check says nothing rather than something unproven.
const (
	maxPieces   = 256
	unionBudget = 200_000
)

type valueKey struct {
	field ir.Field
	key   ir.Key
}

// single returns the one value a match holds for, if it is one.
func single(m *ir.Match) (ir.Key, bool) {
	if m.Op != ir.Eq || m.Mask != 0 || len(m.Values) != 1 || m.Values[0].Lo != m.Values[0].Hi {
		return ir.Key{}, false
	}
	return m.Values[0].Lo, true
}

// selectivity ranks kinds by how many values policies spread over them
// (addresses, then wide numbers, then narrow ones, then names): a rule is
// filed under its most selective one-value match.
func selectivity(k ir.Kind) int {
	spec := k.Spec()
	switch {
	case spec.Shape == ir.ShapeAddr:
		return 0
	case spec.Shape == ir.ShapeNumber && spec.Bits >= 16 && !spec.NamesOnly:
		return 1
	case spec.Shape == ir.ShapeNumber:
		return 2
	case spec.Shape == ir.ShapeName:
		return 3
	}
	return 9
}

// add files r, the chain's rule number order; rules are added in order.
func (x *shadowIndex) add(r *ir.Rule, order int) {
	entry := indexed{order: order, rule: r}
	best, rank := valueKey{}, -1
	for _, m := range r.Matches {
		k, ok := single(m)
		if !ok {
			continue
		}
		kr := selectivity(m.Field.Spec().Kind)
		if rank < 0 || kr < rank {
			best, rank = valueKey{m.Field, k}, kr
		}
	}
	if rank < 0 {
		x.general = append(x.general, entry)
		return
	}
	if x.byValue == nil {
		x.byValue = map[valueKey][]indexed{}
	}
	x.byValue[best] = append(x.byValue[best], entry)
}

// coverer returns the first earlier rule that holds for every packet r
// holds for, or nil; changed says which fields a rule after the earlier
// one may have changed, whose matches then say nothing of r's packets.
func (x *shadowIndex) coverer(r *ir.Rule, changed changes) *ir.Rule {
	for _, e := range x.candidates(r) {
		if changed.keep(e.rule, e.order) && covers(e.rule, r) {
			return e.rule
		}
	}
	return nil
}

// takenTogether returns the earlier rules that between them take every
// packet r holds for, in order, or nil: r's cube less the cube of each
// earlier rule that meets what is left of it, until nothing is. It says
// nothing where a rule is no cube (region.Of), or past the bounds.
func (x *shadowIndex) takenTogether(r *ir.Rule, changed changes) []*ir.Rule {
	candidates := x.candidates(r)
	if len(candidates) < 2 || x.budget <= 0 {
		return nil // one rule alone is coverer's
	}
	c, ok := x.cube(r)
	if !ok {
		return nil
	}
	left := []region.Cube{c}
	var by []*ir.Rule
	for _, e := range candidates {
		ec, ok := x.cube(e.rule)
		if !ok || !changed.keep(e.rule, e.order) || !c.Intersects(ec) {
			continue
		}
		x.budget -= len(left)
		next, _ := region.Cut(left, ec)
		by = append(by, e.rule)
		left = next
		switch {
		case len(left) == 0:
			return by
		case len(left) > maxPieces || x.budget <= 0:
			return nil
		}
	}
	return nil
}

// candidates are the earlier rules that may hold for some packet r holds
// for, in order: those filed under a value r has (or under none).
func (x *shadowIndex) candidates(r *ir.Rule) []indexed {
	candidates := x.general
	merged := false
	for _, m := range r.Matches {
		k, ok := single(m)
		if !ok {
			continue
		}
		if more := x.byValue[valueKey{m.Field, k}]; len(more) > 0 {
			candidates = append(slices.Clip(candidates), more...)
			merged = true
		}
	}
	if merged {
		slices.SortFunc(candidates, func(a, b indexed) int { return a.order - b.order })
	}
	return candidates
}

// changes holds, for each field a statement can change (a mark), the
// number of the rule after the last one that may change it, in its own
// statements or in a chain it jumps to: an earlier rule's match on it
// says nothing of what a later rule sees.
type changes map[ir.Field]int

// note records what rule number order may change.
func (c changes) note(r *ir.Rule, order int) {
	rules := []*ir.Rule{r}
	if r.Verdict == ir.Jump && r.Target != nil {
		rules = append(rules, reachable(r.Target)...)
	}
	for _, r := range rules {
		for _, st := range r.Statements {
			switch st := st.(type) {
			case *ir.MarkSet:
				c[st.Target] = order + 1
			case *ir.DSCPSet:
				c[st.Field] = order + 1
			case *ir.Notrack:
				c[ir.FieldCtState] = order + 1
			}
		}
	}
}

// keep reports whether rule number order's matches still hold of the
// packets later rules see: no field they read changed since.
func (c changes) keep(r *ir.Rule, order int) bool {
	for _, m := range r.Matches {
		if c[m.Field] > order {
			return false
		}
	}
	return true
}
