package kernel

import (
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The acknowledgement quietRules gives in the kernel's stead reads as one
// to netlink (error 0), and a datagram of several replies splits into
// them, errors kept as the kernel wrote them.
func TestQuietRulesAcknowledgeAsTheKernelDoes(t *testing.T) {
	rule := netlink.Header{Length: 120, Type: nftMessage(unix.NFT_MSG_NEWRULE), Flags: netlink.Request | netlink.Create, Sequence: 7, PID: 42}
	ack := acknowledgement(rule)
	b, err := ack.MarshalBinary()
	require.NoError(t, err)

	refusal := ack
	errno := -int32(unix.ENOENT)
	refusal.Data = binary.NativeEndian.AppendUint32(nil, uint32(errno))
	refusal.Data = append(refusal.Data, ack.Data[4:]...)
	refusal.Header.Sequence = 8
	r, err := refusal.MarshalBinary()
	require.NoError(t, err)

	msgs, err := parseMessages(append(b, r...))
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, ack, msgs[0])
	assert.Equal(t, uint32(8), msgs[1].Header.Sequence)

	// Through a netlink connection, as google/nftables reads them: the
	// first is an acknowledgement, the second the kernel's error.
	replies := [][]netlink.Message{{msgs[0]}, {msgs[1]}}
	c := nltest.Dial(func([]netlink.Message) ([]netlink.Message, error) {
		next := replies[0]
		replies = replies[1:]
		return next, nil
	})
	got, err := c.Receive()
	require.NoError(t, err, "an owed acknowledgement must read as success")
	assert.Equal(t, netlink.Error, got[0].Header.Type)
	_, err = c.Receive()
	assert.ErrorIs(t, err, unix.ENOENT, "a refusal must read as the kernel's error")

	_, err = parseMessages([]byte{200, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	assert.Error(t, err, "a length past the datagram")
}

// The batch goes out as netlink.Conn.SendMessages would lay it out: each
// message's header and data, padded to four bytes, one after another.
func TestMarshalBatchIsNetlinksLayout(t *testing.T) {
	msgs := []netlink.Message{
		{Header: netlink.Header{Type: nftMessage(unix.NFT_MSG_NEWTABLE), Flags: netlink.Request | netlink.Create, Sequence: 7, PID: 42}, Data: []byte{2, 0, 0, 0, 't', 0}},
		{Header: netlink.Header{Type: nftMessage(unix.NFT_MSG_NEWRULE), Flags: netlink.Request, Sequence: 8, PID: 42}, Data: []byte{2, 0, 0, 0, 1, 2, 3, 4}},
		{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: netlink.Request, Sequence: 9, PID: 42}, Data: []byte{0, 0, 10, 0, 9}},
	}
	var want []byte
	for _, m := range msgs {
		m.Header.Length = uint32(nlmsgAlign(unix.NLMSG_HDRLEN + len(m.Data)))
		b, err := m.MarshalBinary()
		require.NoError(t, err)
		want = append(want, b...)
	}
	got := marshalBatch(msgs)
	assert.Equal(t, want, got)
	assert.Equal(t, cap(got), len(got), "one buffer, sized for the whole batch")
	assert.Equal(t, uint32(24), msgs[0].Header.Length, "the header's length is the padded one, as netlink sets it")
}
