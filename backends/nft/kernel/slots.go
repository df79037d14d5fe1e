package kernel

import (
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// slots put ksc's own encodings of set elements and rules into a batch
// that google/nftables queues. Each goes through the library as a
// placeholder message, a slot, known by how its data ends, so that the
// library keeps the batch, its order and its sequence numbers; on the way
// to the kernel (dialFixing's pass) fill puts the next encoding into each
// slot, slots and encodings taken in the same order. Tests hold the
// filled batch to the library's own, byte for byte.
type slots struct {
	typ     netlink.HeaderType
	tail    []byte   // how a slot's data ends
	whole   bool     // an encoding is the slot's whole data, not its tail
	encoded [][]byte // queued in slots, not yet filled in
}

// fill puts the next encoding into m when m is a slot.
func (s *slots) fill(m *netlink.Message) {
	if m.Header.Type != s.typ || len(s.encoded) == 0 {
		return
	}
	n := len(m.Data) - len(s.tail)
	if n < 0 || string(m.Data[n:]) != string(s.tail) {
		return // the library's own encoding
	}
	next := s.encoded[0]
	s.encoded = s.encoded[1:]
	if s.whole {
		m.Data = next
	} else {
		m.Data = append(m.Data[:n:n], next...)
	}
	m.Header.Length = uint32(nlmsgAlign(unix.NLMSG_HDRLEN + len(m.Data)))
}
