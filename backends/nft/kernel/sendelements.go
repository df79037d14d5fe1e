package kernel

import (
	"encoding/binary"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// elementRuns encodes the elements of plain sets (keys and interval
// flags) for a batch itself: google/nftables v0.3.0 makes five
// allocations an element, a tenth of "ksc apply" for 100,000 inline
// addresses. Each run goes through the library as a NEWSETELEM message
// with an empty element list, so that the library keeps the batch, its
// order and its sequence numbers, and fill puts the run in on the way to
// the kernel, the slots and the runs taken in the same order.
type elementRuns struct {
	encoded [][]byte // element lists queued, not yet filled in
}

// add queues elems for s on c.
func (r *elementRuns) add(c *nftables.Conn, s *nftables.Set, elems []nftables.SetElement) error {
	list, ok := encodePlainElements(elems)
	if !ok || len(elems) == 0 {
		return c.SetAddElements(s, elems)
	}
	if err := c.SetAddElements(s, nil); err != nil {
		return err
	}
	r.encoded = append(r.encoded, list)
	return nil
}

// emptyElementList is the last attribute of a NEWSETELEM message for no
// elements: NFTA_SET_ELEM_LIST_ELEMENTS, nested, with nothing in it.
var emptyElementList = binary.NativeEndian.AppendUint16(binary.NativeEndian.AppendUint16(nil, 4),
	unix.NFTA_SET_ELEM_LIST_ELEMENTS|unix.NLA_F_NESTED)

// fill puts the next run into m when m is one of add's slots.
func (r *elementRuns) fill(m *netlink.Message) {
	if m.Header.Type != nftMessage(unix.NFT_MSG_NEWSETELEM) || len(r.encoded) == 0 {
		return
	}
	n := len(m.Data) - len(emptyElementList)
	if n < 0 || string(m.Data[n:]) != string(emptyElementList) {
		return // the library's own encoding
	}
	list := r.encoded[0]
	r.encoded = r.encoded[1:]
	data := make([]byte, 0, n+len(list))
	data = append(data, m.Data[:n]...)
	m.Data = append(data, list...)
	m.Header.Length = uint32(nlmsgAlign(unix.NLMSG_HDRLEN + len(m.Data)))
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
