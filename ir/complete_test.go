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
			assert.NotPanics(t, func() { p.Value(f) }, "%s", f)
		}
	}
	assert.Panics(t, func() { packets[0].Value(fieldEnd) }, "a field the packet does not know")
}

// Every kind has a complete row: the parser, the printer, lint and every
// backend read it instead of switching on the kind.
func TestEveryKindHasARow(t *testing.T) {
	for _, k := range AllKinds() {
		spec := k.Spec()
		assert.NotEmpty(t, spec.Plural, "kind %d", k)
		assert.NotZero(t, spec.Shape, "%s: no shape", k)
		assert.Positive(t, spec.Bits, "%s: no width", k)
		assert.NotEmpty(t, spec.Example, "%s: no example", k)
		if spec.NamesOnly || spec.Closed || spec.Shape == ShapeStates || spec.Shape == ShapeFlags {
			assert.NotEmpty(t, spec.Names, "%s is written by name, and has none", k)
		}
		for _, n := range spec.Names {
			v, ok := k.ValueOf(n.Name)
			assert.True(t, ok, "%s: %s", k, n.Name)
			assert.Equal(t, n.Value, v, "%s: %s", k, n.Name)
			assert.True(t, k.Universe().Has(uintKey(uint64(v))), "%s: %s is outside the universe", k, n.Name)
		}
	}
	assert.Panics(t, func() { kindEnd.Spec() }, "a kind without a row")
}

// A closed kind has the named values and no others; any other kind every
// number of its width.
func TestUniverseFollowsTheRow(t *testing.T) {
	assert.Equal(t, NfprotoSet(IPv4, IPv6), KindNfproto.Universe())
	assert.Equal(t, Set{{Hi: uintKey(65535)}}, KindPort.Universe())
	assert.Equal(t, Set{{Hi: uintKey(1<<32 - 1)}}, KindIPv4.Universe())
	assert.Equal(t, CtStateSet(CtStates...), KindCtState.Universe())
	var all Key
	for i := range all {
		all[i] = 0xff
	}
	assert.Equal(t, Set{{Hi: all}}, KindIPv6.Universe())
	assert.Equal(t, Set{{Hi: all}}, KindInterface.Universe())
}
