package lint

import "github.com/ksc-project/ksc/ir"

// covers reports whether every packet later matches also matches earlier:
// for each field earlier constrains, later must constrain it to a subset.
// Both rules are normalized (one match per field, implied protocols
// explicit), so one set comparison per field decides it for every field.
func covers(earlier, later *ir.Rule) bool {
	for _, m := range earlier.Matches {
		n := later.Match(m.Field)
		// Values under different masks are not comparable, nor are those
		// of a declared set, which other programs may change: no warning.
		if n == nil || n.Mask != m.Mask || m.Set != nil || n.Set != nil || !m.Effective().Contains(n.Effective()) {
			return false
		}
	}
	return true
}
