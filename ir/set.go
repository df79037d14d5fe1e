package ir

import (
	"bytes"
	"slices"
)

// Key is one value of a field as the kernel compares it: big-endian bytes,
// right-aligned for numbers (addresses, ports, protocols, conntrack bits)
// and left-aligned, NUL-padded for interface names. One representation for
// every field lets intersection, negation, containment and (later) packet
// evaluation be written once.
type Key [16]byte

// Compare orders keys as the kernel's interval sets do.
func (k Key) Compare(o Key) int { return bytes.Compare(k[:], o[:]) }

func (k Key) next() (Key, bool) {
	for i := len(k) - 1; i >= 0; i-- {
		k[i]++
		if k[i] != 0 {
			return k, true
		}
	}
	return k, false
}

func (k Key) prev() (Key, bool) {
	for i := len(k) - 1; i >= 0; i-- {
		k[i]--
		if k[i] != 0xff {
			return k, true
		}
	}
	return k, false
}

// Span is an inclusive range of keys.
type Span struct{ Lo, Hi Key }

// Set is a set of keys: spans sorted by Lo that do not overlap. Spans that
// merely touch stay apart, so that each keeps the shape it was written in
// (an interface name next to a wildcard is still two printable elements).
type Set []Span

// NewSet builds a set from spans in any order, merging those that overlap.
func NewSet(spans ...Span) Set { return OwnSet(slices.Clone(spans)) }

// OwnSet is NewSet for spans the caller gives up: they are sorted and
// merged in place, with no copy (a blocklist has a million).
func OwnSet(s []Span) Set {
	if !slices.IsSortedFunc(s, func(a, b Span) int { return a.Lo.Compare(b.Lo) }) {
		slices.SortFunc(s, func(a, b Span) int { return a.Lo.Compare(b.Lo) })
	}
	out := s[:0]
	for _, sp := range s {
		if n := len(out); n > 0 && sp.Lo.Compare(out[n-1].Hi) <= 0 {
			if sp.Hi.Compare(out[n-1].Hi) > 0 {
				out[n-1].Hi = sp.Hi
			}
			continue
		}
		out = append(out, sp)
	}
	return out
}

// IsEmpty reports whether no key is in the set.
func (s Set) IsEmpty() bool { return len(s) == 0 }

// Has reports whether k is in the set.
func (s Set) Has(k Key) bool {
	i, _ := slices.BinarySearchFunc(s, k, func(sp Span, k Key) int { return sp.Hi.Compare(k) })
	return i < len(s) && s[i].Lo.Compare(k) <= 0
}

// Intersect returns the keys in both sets.
func (s Set) Intersect(t Set) Set {
	var out Set
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := maxKey(s[i].Lo, t[j].Lo), minKey(s[i].Hi, t[j].Hi)
		if lo.Compare(hi) <= 0 {
			out = append(out, Span{lo, hi})
		}
		if s[i].Hi.Compare(t[j].Hi) < 0 {
			i++
		} else {
			j++
		}
	}
	return out
}

// Minus returns the keys of s that are not in t.
func (s Set) Minus(t Set) Set {
	var out Set
	j := 0
	for _, sp := range s {
		lo := sp.Lo
		open := true
		for ; j < len(t) && t[j].Hi.Compare(lo) < 0; j++ {
		}
		for k := j; k < len(t) && t[k].Lo.Compare(sp.Hi) <= 0; k++ {
			if t[k].Lo.Compare(lo) > 0 {
				hi, _ := t[k].Lo.prev()
				out = append(out, Span{lo, hi})
			}
			next, ok := t[k].Hi.next()
			if !ok || t[k].Hi.Compare(sp.Hi) >= 0 {
				open = false
				break
			}
			lo = next
		}
		if open {
			out = append(out, Span{lo, sp.Hi})
		}
	}
	return out
}

// Joined returns the set with spans that touch (one ends just before the
// next begins) joined into one, as a named interval set wants them.
func (s Set) Joined() Set {
	out := make(Set, 0, len(s))
	for _, sp := range s {
		if n := len(out); n > 0 {
			if next, ok := out[n-1].Hi.next(); ok && next == sp.Lo {
				out[n-1].Hi = sp.Hi
				continue
			}
		}
		out = append(out, sp)
	}
	return out
}

// Union returns the keys in either set.
func (s Set) Union(t Set) Set { return NewSet(append(slices.Clone(s), t...)...) }

// Contains reports whether every key of t is in s. It allocates nothing:
// lint asks it of every pair of rules.
func (s Set) Contains(t Set) bool {
	i := 0
	for _, sp := range t {
		// Spans of s that only touch stay apart, so a span of t may need
		// several of them in a row.
		lo := sp.Lo
		for {
			for i < len(s) && s[i].Hi.Compare(lo) < 0 {
				i++
			}
			if i == len(s) || s[i].Lo.Compare(lo) > 0 {
				return false
			}
			if s[i].Hi.Compare(sp.Hi) >= 0 {
				break
			}
			next, ok := s[i].Hi.next()
			if !ok {
				break
			}
			lo = next
			i++
		}
	}
	return true
}

// Equal reports whether both sets hold the same keys.
func (s Set) Equal(t Set) bool { return s.Contains(t) && t.Contains(s) }

func maxKey(a, b Key) Key {
	if a.Compare(b) >= 0 {
		return a
	}
	return b
}

func minKey(a, b Key) Key {
	if a.Compare(b) <= 0 {
		return a
	}
	return b
}

// uintKey is a small unsigned number as a key.
func uintKey(v uint64) Key {
	var k Key
	for i := len(k) - 1; v > 0; i-- {
		k[i] = byte(v)
		v >>= 8
	}
	return k
}

// Uint reads the low 8 bytes of a numeric key.
func (k Key) Uint() uint64 {
	var v uint64
	for _, b := range k[8:] {
		v = v<<8 | uint64(b)
	}
	return v
}

// Bytes returns the last n bytes of a numeric key, big-endian.
func (k Key) Bytes(n int) []byte { return slices.Clone(k[len(k)-n:]) }
