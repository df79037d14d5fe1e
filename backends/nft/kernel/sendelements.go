package kernel

import (
	"encoding/binary"
	"errors"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// emptyElementList is the last attribute of a NEWSETELEM message for no
// elements: NFTA_SET_ELEM_LIST_ELEMENTS, nested, with nothing in it. An
// element slot ends with it; its run of elements replaces it.
var emptyElementList = binary.NativeEndian.AppendUint16(binary.NativeEndian.AppendUint16(nil, 4),
	unix.NFTA_SET_ELEM_LIST_ELEMENTS|unix.NLA_F_NESTED)

// elementSlots are the element runs ksc encodes for a batch:
// google/nftables v0.3.0 makes five allocations an element, a tenth of
// "ksc apply" for 100,000 inline addresses. A run's slot is a NEWSETELEM
// message of the library's with an empty element list.
func elementSlots() *slots {
	return &slots{typ: nftMessage(unix.NFT_MSG_NEWSETELEM), tail: emptyElementList}
}

// addElementRun queues elems for s on c in a slot, or through the library
// when they are not plain.
func (sl *slots) addElementRun(c *nftables.Conn, s *nftables.Set, elems []nftables.SetElement) error {
	list, ok := encodePlainElements(elems)
	if !ok || len(elems) == 0 {
		return c.SetAddElements(s, elems)
	}
	if err := c.SetAddElements(s, nil); err != nil {
		return err
	}
	sl.encoded = append(sl.encoded, list)
	return nil
}

// encodePlainElements encodes elems as the nested attribute
// NFTA_SET_ELEM_LIST_ELEMENTS, byte for byte as google/nftables does,
// when they carry only keys, key ends and interval flags; ok is false
// otherwise, and for a list longer than an attribute can hold.
func encodePlainElements(elems []nftables.SetElement) (list []byte, ok bool) {
	size := 4
	for i := range elems {
		e := &elems[i]
		if len(e.Val) > 0 || e.VerdictData != nil || e.Timeout != 0 || e.Expires != 0 || e.Counter != nil || e.Comment != "" {
			return nil, false
		}
		size += 4 + 8 + nlaAlign(len(e.Key))
		if e.IntervalEnd {
			size += 8
		}
		if len(e.KeyEnd) > 0 {
			size += 8 + nlaAlign(len(e.KeyEnd))
		}
	}
	if size > 0xffff {
		return nil, false
	}
	a := attrs{b: make([]byte, 0, size)}
	all := a.open(unix.NFTA_SET_ELEM_LIST_ELEMENTS)
	for i := range elems {
		e := &elems[i]
		elem := a.open(uint16(i + 1))
		if e.IntervalEnd {
			// The library marks the flags nested; the kernel does not mind.
			a.u32(unix.NFTA_SET_ELEM_FLAGS|unix.NLA_F_NESTED, unix.NFT_SET_ELEM_INTERVAL_END)
		}
		a.data(unix.NFTA_SET_ELEM_KEY, e.Key)
		if len(e.KeyEnd) > 0 {
			a.data(nftables.NFTA_SET_ELEM_KEY_END, e.KeyEnd)
		}
		a.close(elem)
	}
	a.close(all)
	return a.b, true
}

// addRawElements queues elems, elements as the kernel lists them (see
// dumpRawElements), for s on c, each run in a slot as a list of at most
// an attribute's length.
func (c batchConn) addRawElements(s *nftables.Set, elems [][]byte) error {
	if c.elems == nil {
		return errors.New("raw elements need a connection from dialFixing")
	}
	for len(elems) > 0 {
		var a attrs
		list := a.open(unix.NFTA_SET_ELEM_LIST_ELEMENTS)
		n := 0
		for n < len(elems) && len(a.b)+4+len(elems[n]) < 0xffff-4 {
			a.bytes(unix.NFTA_LIST_ELEM|unix.NLA_F_NESTED, elems[n])
			n++
		}
		if n == 0 {
			return errMalformedAttrs
		}
		a.close(list)
		if err := c.SetAddElements(s, nil); err != nil {
			return err
		}
		c.elems.encoded = append(c.elems.encoded, a.b)
		elems = elems[n:]
	}
	return nil
}
