package ir

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every field of the fields table has a value in a packet, or says that
// the packet has none; the simulator reads matches through it. A field
// it does not know panics rather than make every match on it miss.
func TestEveryFieldHasAPacketValue(t *testing.T) {
	packets := []Packet{
		{Oif: "eth0", Src: netip.MustParseAddr("192.0.2.2"), Dst: netip.MustParseAddr("198.51.100.1"), Protocol: TCP, Sport: 40000, Dport: 443, CtState: CtNew, TCPFlags: 2},
		{Iif: "eth0", Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Protocol: ICMPv6, ICMPType: 135},
	}
	for _, f := range AllFields() {
		for _, p := range packets {
			assert.NotPanics(t, func() { p.key(f) }, "%s", f)
		}
	}
	assert.Panics(t, func() { packets[0].key(fieldEnd) }, "a field the packet does not know")
}
