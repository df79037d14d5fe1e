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
	// Every line a packet can be in exactly one part; what no kernel
	// forwards is in none (a promise does not speak of it).
	for _, tc := range []struct {
		line string
		in   int
	}{
		{"in eth0 udp 198.51.100.7:40000 192.0.2.2:53", 1},
		{"in eth0 udp 198.51.100.7:40000 192.0.2.2:53 iifaddr unicast", 1},
		{"in lo udp 192.0.2.2:40000 192.0.2.2:53", 1},
		{"in lo udp 192.0.2.2:40000 192.0.2.2:53 iifaddr unicast", 1},
		{"in lo udp 127.0.0.1:40000 127.0.0.1:53", 1},
		{"in eth0 udp 0.0.0.0:68 255.255.255.255:67", 1},
		{"in eth0 udp 0.0.0.0:68 224.0.0.1:67", 1},
		{"in eth0 udp 0.0.0.0:68 239.1.2.3:67", 1},
		{"in eth0 udp 198.51.100.7:40000 255.255.255.255:9", 1},
		{"in eth0 udp 198.51.100.7:40000 255.255.255.255:9 route exists", 1},
		{"in eth0 udp 198.51.100.7:40000 239.1.2.3:9 route exists", 1},
		{"in eth0 udp 224.0.0.9:40000 192.0.2.2:9", 1},
		{"in eth0 udp [fe80::7]:40000 [ff02::1]:9", 1},
		{"in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:9 iifaddr unicast", 1},
		{"in lo udp [::1]:40000 [::1]:9", 1},
		{"out eth0 udp 192.0.2.2:40000 198.51.100.7:53", 1},
		{"out lo udp 192.0.2.2:40000 192.0.2.3:53", 1},
		{"out eth0 udp 192.0.2.2:5353 224.0.0.251:5353", 1},
		{"out eth0 udp 0.0.0.0:68 255.255.255.255:67", 1},
		{"out eth0 udp [2001:db8::2]:40000 [ff02::fb]:5353", 1},
		{"forward eth0 wg0 tcp 192.0.2.7:40000 203.0.113.9:25", 1},
		{"forward eth0 wg0 tcp [2001:db8:1::7]:40000 [2001:db8:2::9]:25", 1},
		{"forward eth0 wg0 udp 192.0.2.7:40000 239.1.2.3:5000", 1},
		{"forward eth0 wg0 udp 192.0.2.7:40000 239.1.2.3:5000 route exists", 1},
		{"forward eth0 wg0 udp [2001:db8:1::7]:40000 [ff0e::1]:5000", 1},
		{"forward eth0 wg0 udp 192.0.2.7:40000 255.255.255.255:5000", 0},
		{"forward eth0 wg0 udp 192.0.2.7:40000 224.0.0.251:5353", 0},
		{"forward eth0 wg0 udp 0.0.0.0:68 198.51.100.1:67", 0},
		{"forward eth0 wg0 udp 224.0.0.9:520 198.51.100.1:520", 0},
	} {
		pkt, err := ParsePacket(tc.line)
		require.NoError(t, err, tc.line)
		cubes := fibCubes(p, pkt.Dir, pkt.Family())
		require.NotEmpty(t, cubes)
		held := 0
		for _, c := range cubes {
			if c.Has(pkt.Packet) {
				held++
			}
		}
		assert.Equal(t, tc.in, held, "%s: in %d cubes", tc.line, held)
	}
}
