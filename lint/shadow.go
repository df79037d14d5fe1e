package lint

import (
	"slices"

	"github.com/ksc-project/ksc/ir"
)

// shadowIndex holds a chain's earlier verdict rules so that finding the
// first one that covers a later rule is not a walk over all of them: a
// rule whose match on some field is one value (oifname "eth0", ip daddr
// 198.51.100.7) can only cover rules with that same value there, so it is
// filed under that value; the rest are always candidates.
type shadowIndex struct {
	n       int
	general []indexed
	byValue map[valueKey][]indexed
}

type indexed struct {
	order int
	rule  *ir.Rule
}

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

// selectivity ranks kinds by how many values policies spread over them:
// a rule is filed under its most selective one-value match.
var selectivity = map[ir.Kind]int{
	ir.KindIPv4: 0, ir.KindIPv6: 0, ir.KindPort: 1, ir.KindMark: 2, ir.KindID: 2,
	ir.KindICMPType: 2, ir.KindICMPv6Type: 2, ir.KindInterface: 3,
}

func (x *shadowIndex) add(r *ir.Rule) {
	entry := indexed{x.n, r}
	x.n++
	best, rank := valueKey{}, -1
	for _, m := range r.Matches {
		k, ok := single(m)
		if !ok {
			continue
		}
		kr, known := selectivity[m.Field.Spec().Kind]
		if !known {
			kr = 9
		}
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
// holds for, or nil.
func (x *shadowIndex) coverer(r *ir.Rule) *ir.Rule {
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
	for _, e := range candidates {
		if covers(e.rule, r) {
			return e.rule
		}
	}
	return nil
}
