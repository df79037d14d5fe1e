package sim

import (
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every packet a line can say is in a cube of fibCubes, with the values
// the fib fields have for it: the cut leaves out no packet that can go
// its way, and claims no value one does not have.
func TestFibCubesHoldEveryPacket(t *testing.T) {
	var matches []*ir.Match
	for _, f := range fibFields {
		matches = append(matches, &ir.Match{Field: f, Values: f.Spec().Kind.Universe()})
	}
	p := &ir.Policy{Tables: []*ir.Table{{Family: ir.Inet, Name: "t", Chains: []*ir.Chain{{
		Name: "c", Hook: ir.HookPrerouting, Rules: []*ir.Rule{{Matches: matches}},
	}}}}}
	for _, line := range []string{
		"in eth0 udp 198.51.100.7:40000 192.0.2.2:53",
		"in eth0 udp 198.51.100.7:40000 192.0.2.2:53 iifaddr unicast",
		"in lo udp 192.0.2.2:40000 192.0.2.2:53",
		"in lo udp 192.0.2.2:40000 192.0.2.2:53 iifaddr unicast",
		"in lo udp 127.0.0.1:40000 127.0.0.1:53",
		"in eth0 udp 0.0.0.0:68 255.255.255.255:67",
		"in eth0 udp 0.0.0.0:68 224.0.0.1:67",
		"in eth0 udp 0.0.0.0:68 239.1.2.3:67",
		"in eth0 udp 198.51.100.7:40000 255.255.255.255:9",
		"in eth0 udp 198.51.100.7:40000 255.255.255.255:9 route exists",
		"in eth0 udp 198.51.100.7:40000 239.1.2.3:9 route exists",
		"in eth0 udp 224.0.0.9:40000 192.0.2.2:9",
		"in eth0 udp [fe80::7]:40000 [ff02::1]:9",
		"in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:9 iifaddr unicast",
		"in lo udp [::1]:40000 [::1]:9",
		"out eth0 udp 192.0.2.2:40000 198.51.100.7:53",
		"out lo udp 192.0.2.2:40000 192.0.2.3:53",
		"out eth0 udp 192.0.2.2:5353 224.0.0.251:5353",
		"out eth0 udp 0.0.0.0:68 255.255.255.255:67",
		"out eth0 udp [2001:db8::2]:40000 [ff02::fb]:5353",
		"forward eth0 wg0 tcp 192.0.2.7:40000 203.0.113.9:25",
		"forward eth0 wg0 tcp [2001:db8:1::7]:40000 [2001:db8:2::9]:25",
		"forward eth0 wg0 udp 192.0.2.7:40000 239.1.2.3:5000",
		"forward eth0 wg0 udp 192.0.2.7:40000 239.1.2.3:5000 route exists",
		"forward eth0 wg0 udp [2001:db8:1::7]:40000 [ff0e::1]:5000",
	} {
		pkt, err := ParsePacket(line)
		require.NoError(t, err, line)
		cubes := fibCubes(p, pkt.Dir, pkt.Family())
		require.NotEmpty(t, cubes)
		held := 0
		for _, c := range cubes {
			if c.Has(pkt.Packet) {
				held++
			}
		}
		assert.Equal(t, 1, held, "%s: in %d cubes", line, held)
	}
	// What no kernel forwards is in none: a promise does not speak of it.
	for _, line := range []string{
		"forward eth0 wg0 udp 192.0.2.7:40000 255.255.255.255:5000",
		"forward eth0 wg0 udp 192.0.2.7:40000 224.0.0.251:5353",
		"forward eth0 wg0 udp 0.0.0.0:68 198.51.100.1:67",
		"forward eth0 wg0 udp 224.0.0.9:520 198.51.100.1:520",
	} {
		pkt, err := ParsePacket(line)
		require.NoError(t, err, line)
		for _, c := range fibCubes(p, pkt.Dir, pkt.Family()) {
			assert.False(t, c.Has(pkt.Packet), line)
		}
	}
}
