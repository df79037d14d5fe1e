package nft

import (
	"bytes"
	"slices"

	"github.com/google/nftables"
)

// Elements are a set's elements as they are read back from the kernel. A
// plain set's (keys and interval flags, which is every set ksc writes) are
// held as their keys in one buffer, 9 bytes an IPv4 element: as
// google/nftables' SetElement, 144 bytes each, the live and the desired
// copies of two 100,000-element sets were most of ksc status's memory. Any
// other set (a map's, one with timeouts or comments) keeps the library's
// elements, which carry all of it.
type Elements struct {
	keys        []byte
	ends        []uint32 // where each element's key ends in keys
	intervalEnd []bool
	whole       []nftables.SetElement // the elements of a set that is not plain
}

// ElementsOf holds elements as the library gives them.
func ElementsOf(es []nftables.SetElement) Elements { return Elements{whole: es} }

// Grow makes room for n more plain elements with keys of size bytes.
func (e *Elements) Grow(n, size int) {
	e.keys = slices.Grow(e.keys, n*size)
	e.ends = slices.Grow(e.ends, n)
	e.intervalEnd = slices.Grow(e.intervalEnd, n)
}

// Add appends a plain element: its key, copied, and whether it ends an
// interval.
func (e *Elements) Add(key []byte, intervalEnd bool) {
	e.keys = append(e.keys, key...)
	e.ends = append(e.ends, uint32(len(e.keys)))
	e.intervalEnd = append(e.intervalEnd, intervalEnd)
}

// Len is the number of elements.
func (e *Elements) Len() int {
	if e.whole != nil {
		return len(e.whole)
	}
	return len(e.ends)
}

// Key is element i's key.
func (e *Elements) Key(i int) []byte {
	if e.whole != nil {
		return e.whole[i].Key
	}
	start := uint32(0)
	if i > 0 {
		start = e.ends[i-1]
	}
	return e.keys[start:e.ends[i]:e.ends[i]]
}

// IntervalEnd reports whether element i ends an interval.
func (e *Elements) IntervalEnd(i int) bool {
	if e.whole != nil {
		return e.whole[i].IntervalEnd
	}
	return e.intervalEnd[i]
}

// Library is elements lo to hi as google/nftables' SetElements, to send.
func (e *Elements) Library(lo, hi int) []nftables.SetElement {
	if e.whole != nil {
		return e.whole[lo:hi]
	}
	if lo == hi {
		return nil
	}
	out := make([]nftables.SetElement, hi-lo)
	for i := range out {
		out[i] = nftables.SetElement{Key: e.Key(lo + i), IntervalEnd: e.intervalEnd[lo+i]}
	}
	return out
}

// Ranges reads an interval set's elements (a start, then an end element
// one past the range's last key) as ranges of keys, first and last, in
// order; a start with no end after it reaches the top of the key space.
// At one key an end comes before a start: two ranges that touch share it.
func (e *Elements) Ranges() [][2][]byte {
	type element struct {
		key []byte
		end bool
	}
	sorted := make([]element, e.Len())
	for i := range sorted {
		sorted[i] = element{e.Key(i), e.IntervalEnd(i)}
	}
	slices.SortStableFunc(sorted, func(a, b element) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		switch {
		case a.end == b.end:
			return 0
		case a.end:
			return -1
		}
		return 1
	})
	var out [][2][]byte
	for i, el := range sorted {
		if el.end {
			continue
		}
		last := bytes.Repeat([]byte{0xff}, len(el.key))
		if i+1 < len(sorted) && sorted[i+1].end {
			last = decrement(sorted[i+1].key)
		}
		out = append(out, [2][]byte{el.key, last})
	}
	return out
}
