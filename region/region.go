// Package region reasons about sets of packets. A Cube is the packets
// whose value of each of its fields lies in the set it gives, any value
// of the others: a normalized rule's matches are one (Of), and what is
// left of a cube once others are taken away (Minus) is a list of cubes.
// That is how ksc shows that several rules together take every packet of
// another, for each packet at once rather than for samples.
package region

import (
	"slices"

	"github.com/ksc-project/ksc/ir"
)

// A Cube is the packets whose value of each field in dims is in its set.
// Dims are in presence order (byPresence).
type Cube struct{ dims []dim }

type dim struct {
	field ir.Field
	set   ir.Set
}

// byPresence orders dims by field: the fields table declares the fields
// that decide whether a packet has a value of others (meta nfproto, meta
// l4proto, the ICMP types) before those (TestPresenceDecidedFirst). Minus
// narrows by a field only after them, so that each piece it cuts holds
// only packets that have the field: a packet without one is in no cube
// that names it.
func byPresence(d dim, f ir.Field) int { return int(d.field) - int(f) }

// Of is the cube of packets a normalized rule's matches hold for, at
// hooks; false when a match says something a cube cannot: a mask, a named
// set (whose elements may change at runtime), or a field some packets at
// hooks lack (Lacking), for which the match holds for none of them. A
// field of one family (ip daddr) holds only for packets of that family:
// the cube says so on meta nfproto. The rule's transport protocol is one
// of its matches already (normalization makes it explicit).
func Of(r *ir.Rule, hooks ir.HookSet) (Cube, bool) {
	c, rest := OfMatches(r.Matches, func(f ir.Field) bool { return f.Spec().Lacking&hooks == 0 })
	return c, len(rest) == 0
}

// OfMatches is the cube of the matches a cube can say, given which fields
// every packet in question has, and the matches it cannot (see Of): the
// packets all of ms hold for are in the cube, and of those, the ones the
// rest hold for.
func OfMatches(ms []*ir.Match, has func(ir.Field) bool) (Cube, []*ir.Match) {
	dims := make([]dim, 0, len(ms)+1)
	var rest []*ir.Match
	for _, m := range ms {
		spec := m.Field.Spec()
		if m.Mask != 0 || m.Set != nil || !has(m.Field) {
			rest = append(rest, m)
			continue
		}
		dims = append(dims, dim{Canonical(m.Field), m.Effective()})
		if spec.Family != ir.Inet {
			dims = append(dims, dim{ir.FieldNfproto, ir.NfprotoSet(spec.Family)})
		}
	}
	slices.SortStableFunc(dims, func(a, b dim) int { return byPresence(a, b.field) })
	out := dims[:0]
	for _, d := range dims {
		if n := len(out); n > 0 && out[n-1].field == d.field {
			out[n-1].set = out[n-1].set.Intersect(d.set)
			continue
		}
		out = append(out, d)
	}
	return Cube{dims: out}, rest
}

// Canonical is the field a cube holds f's values under: fields that read
// one value of the packet share one dimension (iif and iifname, the
// interface's name; ip protocol, ip6 nexthdr and meta l4proto, the
// transport protocol, as the simulator reads them), so that no cube
// holds a packet whose interface has two names.
func Canonical(f ir.Field) ir.Field {
	switch f {
	case ir.FieldIif:
		return ir.FieldIifname
	case ir.FieldOif:
		return ir.FieldOifname
	case ir.FieldIPProtocol, ir.FieldIP6Nexthdr:
		return ir.FieldL4Proto
	}
	return f
}

// Put is c with the packets' value of f made to be in set, whatever it
// was: what a statement that sets a mark, or a rewrite, makes of them.
func (c Cube) Put(f ir.Field, set ir.Set) Cube {
	out := Cube{dims: slices.Clone(c.dims)}
	i, found := slices.BinarySearchFunc(out.dims, f, byPresence)
	if found {
		out.dims[i].set = set
	} else {
		out.dims = slices.Insert(out.dims, i, dim{f, set})
	}
	return out
}

// Without is c narrowed by none of fs: every value of them.
func (c Cube) Without(fs ...ir.Field) Cube {
	return Cube{dims: slices.DeleteFunc(slices.Clone(c.dims), func(d dim) bool { return slices.Contains(fs, d.field) })}
}

// Fields are the fields the cube narrows.
func (c Cube) Fields() []ir.Field {
	out := make([]ir.Field, len(c.dims))
	for i, d := range c.dims {
		out[i] = d.field
	}
	return out
}

// With is c narrowed to packets whose value of f is in set.
func (c Cube) With(f ir.Field, set ir.Set) Cube {
	out := Cube{dims: slices.Clone(c.dims)}
	i, found := slices.BinarySearchFunc(out.dims, f, byPresence)
	if found {
		out.dims[i].set = out.dims[i].set.Intersect(set)
	} else {
		out.dims = slices.Insert(out.dims, i, dim{f, set})
	}
	return out
}

// Intersect is the packets in both cubes.
func (c Cube) Intersect(d Cube) Cube {
	for _, x := range d.dims {
		c = c.With(x.field, x.set)
	}
	return c
}

// Set is the values of f the cube's packets may have.
func (c Cube) Set(f ir.Field) ir.Set {
	if i, found := slices.BinarySearchFunc(c.dims, f, byPresence); found {
		return c.dims[i].set
	}
	return f.Spec().Kind.Universe()
}

// Has reports whether packet p is in the cube: it has a value of each of
// the cube's fields, in the field's set.
func (c Cube) Has(p ir.Packet) bool {
	for _, d := range c.dims {
		if k, ok := p.Value(d.field); !ok || !d.set.Has(k) {
			return false
		}
	}
	return true
}

// Empty reports whether no packet is in the cube.
func (c Cube) Empty() bool {
	return slices.ContainsFunc(c.dims, func(d dim) bool { return d.set.IsEmpty() })
}

// Intersects reports whether some packet is in both cubes.
func (c Cube) Intersects(d Cube) bool {
	for _, x := range d.dims {
		if c.Set(x.field).Intersect(x.set).IsEmpty() {
			return false
		}
	}
	return !c.Empty() && !d.Empty()
}

// Minus is the packets of c that are not in d, as cubes that do not
// overlap: for each field d narrows, in presence order, the part of c
// outside d's set there, c then narrowed to the inside for the next
// field. Whatever of c lacks a field d names was cut off at the field
// that decides its presence, which d names too (Of makes sure).
func (c Cube) Minus(d Cube) []Cube {
	out, _ := c.minus(d)
	return out
}

// minus is Minus, and whether d held any packet of c.
func (c Cube) minus(d Cube) ([]Cube, bool) {
	if !c.Intersects(d) {
		return []Cube{c}, false
	}
	var out []Cube
	rest := c
	for _, x := range d.dims {
		have := rest.Set(x.field)
		if outside := have.Minus(x.set); !outside.IsEmpty() {
			out = append(out, rest.With(x.field, outside))
		}
		rest = rest.With(x.field, x.set)
	}
	return out, true
}

// Equal reports whether two cubes narrow the same fields to the same sets.
func (c Cube) Equal(d Cube) bool {
	return slices.EqualFunc(c.dims, d.dims, func(a, b dim) bool { return a.field == b.field && a.set.Equal(b.set) })
}

// Merge joins cubes that differ on one field only into one, their sets
// there together, until no two do: the same packets in fewer cubes, as a
// reader would want them. Past a thousand cubes it leaves them as they
// are (the joining is quadratic).
func Merge(cs []Cube) []Cube {
	if len(cs) > 1000 {
		return cs
	}
	out := slices.Clone(cs)
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(out) && !merged; i++ {
			for j := i + 1; j < len(out); j++ {
				if u, ok := joined(out[i], out[j]); ok {
					out[i] = u
					out = slices.Delete(out, j, j+1)
					merged = true
					break
				}
			}
		}
	}
	return out
}

// joined is the one cube of a and b's packets, when they differ on one
// field only.
func joined(a, b Cube) (Cube, bool) {
	fields := slices.Clone(a.Fields())
	for _, f := range b.Fields() {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	var differ []ir.Field
	for _, f := range fields {
		if !a.Set(f).Equal(b.Set(f)) {
			differ = append(differ, f)
		}
	}
	switch len(differ) {
	case 0:
		return a, true
	case 1:
		return a.Put(differ[0], a.Set(differ[0]).Union(b.Set(differ[0]))), true
	}
	return Cube{}, false
}

// Cut is the packets of cs outside d, as cubes that do not overlap, and
// whether d held any packet of them.
func Cut(cs []Cube, d Cube) (rest []Cube, met bool) {
	for _, c := range cs {
		out, in := c.minus(d)
		rest, met = append(rest, out...), met || in
	}
	return rest, met
}

// Carve is cs less every one of holes (Cut by each); false past max
// cubes.
func Carve(cs, holes []Cube, max int) ([]Cube, bool) {
	for _, h := range holes {
		if cs, _ = Cut(cs, h); len(cs) > max {
			return nil, false
		}
	}
	return cs, true
}
