package sim

import (
	"slices"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// A Change is a region of packets whose verdict two policies differ on:
// Old's verdict and deciding rule, New's, and a packet of it that shows
// the difference (Evaluate gives it Old's verdict with one policy and
// New's with the other). Maybe says why the region is not sure of all of
// its packets; Witness is empty when no packet showed the difference.
type Change struct {
	Dir      Direction
	Packets  region.Cube
	Old, New ir.Verdict
	// OldBy and NewBy are the rules that decide the region in each
	// policy (nil for a chain's policy), or where a packet shows the
	// difference, those that decide it: an accept that ends a chain is
	// not a region's fate, which goes on to the next.
	OldBy, NewBy   *ir.Rule
	Witness        string
	OldWhy, NewWhy string // what decided the witness, in each policy
	Maybe          []string
}

// Difference finds every region of packets, in each direction, whose
// verdict the two policies differ on (Fates of each, intersected): the
// changes a reviewer reads ("opens tcp/22 on eth0"), the regions joined
// where they differ on one field only.
func Difference(old, new *ir.Policy) ([]Change, error) {
	var out []Change
	for _, dir := range []Direction{In, Out, Forward} {
		fo, err := Fates(old, dir, region.Cube{})
		if err != nil {
			return nil, err
		}
		fn, err := Fates(new, dir, region.Cube{})
		if err != nil {
			return nil, err
		}
		type key struct {
			old, new     ir.Verdict
			oldBy, newBy *ir.Rule
		}
		groups := map[key][]region.Cube{}
		maybe := map[key][]string{}
		undecided := map[key][]*ir.Match{} // matches the region could not decide
		var order []key
		for _, a := range fo {
			for _, b := range fn {
				if a.Verdict == b.Verdict || contradict(a.Maybe, b.Maybe) || !a.Original().Intersects(b.Original()) {
					continue
				}
				both := Fate{Packets: a.Original().Intersect(b.Original()), Holes: append(slices.Clone(a.Holes), b.Holes...)}
				cs, ok := both.Cubes(maxPieces)
				if !ok {
					return nil, ErrTooMany
				}
				if len(cs) == 0 {
					continue
				}
				k := key{a.Verdict, b.Verdict, a.By, b.By}
				if _, seen := groups[k]; !seen {
					order = append(order, k)
				}
				groups[k] = append(groups[k], cs...)
				for _, u := range append(slices.Clone(a.Maybe), b.Maybe...) {
					if why := u.String(); !slices.Contains(maybe[k], why) {
						maybe[k] = append(maybe[k], why)
					}
					if u.Match != nil && !slices.Contains(undecided[k], u.Match) {
						undecided[k] = append(undecided[k], u.Match)
					}
				}
				if len(a.Rewritten)+len(b.Rewritten) > 0 && !slices.Contains(maybe[k], rewrittenNote) {
					maybe[k] = append(maybe[k], rewrittenNote)
				}
			}
		}
		for _, k := range order {
			for _, c := range region.Merge(groups[k]) {
				ch := Change{Dir: dir, Packets: c, Old: k.old, New: k.new, OldBy: k.oldBy, NewBy: k.newBy, Maybe: maybe[k]}
				if w, ok := witness(dir, c, new); ok && k.old != ir.NoVerdict && k.new != ir.NoVerdict {
					for _, w := range variants(w, undecided[k]) {
						ro, rn := Evaluate(old, w), Evaluate(new, w)
						if ro.Verdict != rn.Verdict && ro.Verdict != ir.NoVerdict && rn.Verdict != ir.NoVerdict {
							ch.Witness, ch.OldWhy, ch.NewWhy = FormatPacket(w), decidedBy(ro), decidedBy(rn)
							ch.Old, ch.New = ro.Verdict, rn.Verdict
							ch.OldBy, ch.NewBy = decider(ro), decider(rn)
							break
						}
					}
				}
				out = append(out, ch)
			}
		}
	}
	return out, nil
}

// contradict reports fates no packet can have both of, one in each
// policy: a condition both policies share (a rate, a set) gone one way in
// one and the other way in the other.
func contradict(a, b []Unsure) bool {
	for _, u := range a {
		for _, v := range b {
			if u.Contradicts(v) {
				return true
			}
		}
	}
	return false
}

// variants are the packet, and the same packet with each match the
// region could not decide made to hold and not to hold, where a packet
// line gives its field (the owner of what this machine sends, say: the
// region cannot know a packet has one).
func variants(w Packet, undecided []*ir.Match) []Packet {
	out := []Packet{w}
	for _, m := range undecided {
		in := m.Effective()
		for _, values := range []ir.Set{in, m.Field.Spec().Kind.Universe().Minus(in)} {
			if values.IsEmpty() || m.Mask != 0 {
				continue
			}
			v := w
			if v.Set(m.Field, uint32(values[0].Lo.Uint())) {
				out = append(out, v)
			}
		}
	}
	return out
}

const rewrittenNote = "a rule on the way rewrites an address or a mark, and which packets had which before is not followed"

// decider is the rule that decided a packet, or nil for a chain's policy.
func decider(res Result) *ir.Rule {
	if d := res.Decided(); d != nil {
		return d.Rule
	}
	return nil
}
