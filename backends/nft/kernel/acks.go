package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// quietRules carries a batch to the kernel without asking an
// acknowledgement of each new rule, and answers google/nftables' wait for
// one itself. google/nftables v0.3.0 asks every message for one and reads
// them one receive a rule; for 10,000 rules that was a tenth of ksc
// apply's time (issue 14).
//
// It is exact because the kernel answers a batch before the send returns:
// nfnetlink runs the batch in the sender's system call and queues every
// reply (the acknowledgements still asked for, each error, and the
// ENOBUFS of an overflow) on the socket then. So after a send, the replies
// on the socket are all there will be: they are handed out first, errors
// included, and then one acknowledgement for each rule that was not asked
// for one. google/nftables reads one reply for each message (and one more
// after an echo) and joins the errors it meets; it does not match replies
// to messages.
type quietRules struct {
	sock    *netlink.Conn
	queued  []netlink.Message // the replies read and not yet handed out
	drained bool              // the socket held no more replies to the last batch
	owed    []netlink.Header  // the rules sent without a request for acknowledgement
	buf     []byte
}

// send drops the acknowledgement request of each new rule and sends the
// batch in one datagram.
func (q *quietRules) send(req []netlink.Message) error {
	q.queued, q.owed, q.drained = nil, q.owed[:0], false
	for i := range req {
		h := &req[i].Header
		if h.Type == nftMessage(unix.NFT_MSG_NEWRULE) && h.Flags&netlink.Acknowledge != 0 {
			h.Flags &^= netlink.Acknowledge
			q.owed = append(q.owed, *h)
		}
	}
	return q.sendDatagram(marshalBatch(req))
}

// marshalBatch lays the messages out as one datagram, in a buffer sized
// for all of them. netlink.Conn.SendMessages copies each message and
// appends the copies to a buffer grown by doubling: for 100,000 rules,
// three times the batch's size in garbage at apply's peak of memory.
func marshalBatch(msgs []netlink.Message) []byte {
	size := 0
	for i := range msgs {
		size += nlmsgAlign(unix.NLMSG_HDRLEN + len(msgs[i].Data))
	}
	b := make([]byte, 0, size)
	for i := range msgs {
		m := &msgs[i]
		// The length is the data's: a fix may have changed the data after
		// the library set it.
		m.Header.Length = uint32(nlmsgAlign(unix.NLMSG_HDRLEN + len(m.Data)))
		b = appendHeader(b, m.Header)
		b = append(b, m.Data...)
		b = append(b, make([]byte, int(m.Header.Length)-unix.NLMSG_HDRLEN-len(m.Data))...)
	}
	return b
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// appendHeader appends h as the kernel reads a netlink header.
func appendHeader(b []byte, h netlink.Header) []byte {
	ne := binary.NativeEndian
	b = ne.AppendUint32(b, h.Length)
	b = ne.AppendUint16(b, uint16(h.Type))
	b = ne.AppendUint16(b, uint16(h.Flags))
	b = ne.AppendUint32(b, h.Sequence)
	return ne.AppendUint32(b, h.PID)
}

// sendDatagram sends b to the kernel on q's socket.
func (q *quietRules) sendDatagram(b []byte) error {
	raw, err := q.sock.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	if err := raw.Write(func(fd uintptr) bool {
		sendErr = unix.Sendmsg(int(fd), b, nil, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}, 0)
		return !errors.Is(sendErr, unix.EAGAIN)
	}); err != nil {
		return err
	}
	if sendErr != nil {
		return fmt.Errorf("netlink send: %w", sendErr)
	}
	return nil
}

// receive gives the next reply: one the kernel queued, or else an
// acknowledgement owed; with neither, it waits on the socket.
func (q *quietRules) receive() ([]netlink.Message, error) {
	if !q.drained {
		if err := q.drain(); err != nil {
			return nil, err
		}
	}
	if len(q.queued) > 0 {
		m := q.queued[0]
		q.queued = q.queued[1:]
		return []netlink.Message{m}, nil
	}
	if len(q.owed) > 0 {
		h := q.owed[0]
		q.owed = q.owed[1:]
		return []netlink.Message{acknowledgement(h)}, nil
	}
	return q.sock.Receive()
}

// drain reads every reply queued on the socket without waiting.
func (q *quietRules) drain() error {
	raw, err := q.sock.SyscallConn()
	if err != nil {
		return err
	}
	if q.buf == nil {
		q.buf = make([]byte, 1<<20)
	}
	for {
		var n, flags int
		var recvErr error
		if err := raw.Read(func(fd uintptr) bool {
			n, _, flags, _, recvErr = unix.Recvmsg(int(fd), q.buf, nil, unix.MSG_DONTWAIT)
			return true
		}); err != nil {
			return err
		}
		switch {
		case errors.Is(recvErr, unix.EAGAIN):
			q.drained = true
			return nil
		case recvErr != nil:
			return recvErr // ENOBUFS: replies were lost, as google/nftables would be told
		case flags&unix.MSG_TRUNC != 0:
			return fmt.Errorf("a netlink reply larger than %d bytes", len(q.buf))
		}
		msgs, err := parseMessages(q.buf[:n])
		if err != nil {
			return err
		}
		q.queued = append(q.queued, msgs...)
	}
}

// parseMessages splits one datagram into its netlink messages.
func parseMessages(b []byte) ([]netlink.Message, error) {
	var msgs []netlink.Message
	for len(b) >= unix.NLMSG_HDRLEN {
		length := int(binary.NativeEndian.Uint32(b[:4]))
		if length < unix.NLMSG_HDRLEN || length > len(b) {
			return nil, fmt.Errorf("a netlink reply of %d bytes in a datagram of %d", length, len(b))
		}
		var m netlink.Message
		if err := m.UnmarshalBinary(b[:length]); err != nil {
			return nil, err
		}
		m.Data = append([]byte(nil), m.Data...) // the buffer is read into again
		msgs = append(msgs, m)
		b = b[min(nlmsgAlign(length), len(b)):]
	}
	return msgs, nil
}

// acknowledgement is the reply the kernel sends a message that asks for
// one and succeeds: error 0 and the message's header.
func acknowledgement(h netlink.Header) netlink.Message {
	h.Flags |= netlink.Acknowledge
	data := appendHeader(make([]byte, 4, 4+unix.NLMSG_HDRLEN), h) // error 0, then the header
	return netlink.Message{
		Header: netlink.Header{Length: uint32(unix.NLMSG_HDRLEN + len(data)), Type: netlink.Error, Flags: netlink.HeaderFlags(unix.NLM_F_CAPPED), Sequence: h.Sequence, PID: h.PID},
		Data:   data,
	}
}
