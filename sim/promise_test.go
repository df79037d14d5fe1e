package sim_test

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A region holds the packets its words say, and its exceptions' not.
func TestPromiseRegion(t *testing.T) {
	pr, err := sim.ParsePromise("out eth* tcp 192.0.2.0/24 198.51.100.1-198.51.100.9:1-1024 new,untracked except tcp * *:22")
	require.NoError(t, err)
	in := func(line string) bool {
		p, err := sim.ParsePacket(line)
		require.NoError(t, err, line)
		return pr.Region.Has(p.Packet) && !exceptHas(pr, p)
	}
	assert.True(t, in("out eth0 tcp 192.0.2.7:40000 198.51.100.5:443"))
	assert.True(t, in("out eth1 tcp 192.0.2.255:40000 198.51.100.9:1024"))
	assert.False(t, in("out eth0 tcp 192.0.2.7:40000 198.51.100.5:22"), "the exception")
	assert.False(t, in("out eth0 tcp 192.0.2.7:40000 198.51.100.5:1025"), "past the ports")
	assert.False(t, in("out wg0 tcp 192.0.2.7:40000 198.51.100.5:443"), "another interface")
	assert.False(t, in("out eth0 udp 192.0.2.7:40000 198.51.100.5:443"), "another protocol")
	assert.False(t, in("out eth0 tcp 192.0.2.7:40000 198.51.100.5:443 established"), "another state")
	assert.False(t, in("out eth0 tcp [2001:db8::7]:40000 [2001:db8::5]:443"), "the other family")

	pr, err = sim.ParsePromise("out eth0 icmp * * echo-request,echo-reply new,invalid mark 0x1-0x3 uid 0")
	require.NoError(t, err)
	assert.True(t, in("out eth0 icmp 192.0.2.7 198.51.100.5 echo-request mark 0x2"))
	assert.False(t, in("out eth0 icmp 192.0.2.7 198.51.100.5 echo-request mark 0x4"), "past the marks")
	assert.False(t, in("out eth0 icmp 192.0.2.7 198.51.100.5 echo-request mark 0x2 uid 1000"), "another owner")
	assert.False(t, in("out eth0 icmp 192.0.2.7 198.51.100.5 destination-unreachable mark 0x2"), "another type")

	for _, tc := range []struct{ text, want string }{
		{"up eth0", `1: unknown direction "up"`},
		{"out", `4: missing an interface`},
		{"out eth0 tcp 192.0.2.0/33", `14: malformed prefix "192.0.2.0/33"`},
		{"out eth0 tcp 192.0.2.9-192.0.2.1", `14: address range "192.0.2.9-192.0.2.1" is empty: its first address is above its last`},
		{"out eth0 tcp dns.example", `14: "dns.example" is not an address, prefix or range`},
		{"out eth0 tcp * *:70000", `16: "70000" is not a port or a range of ports`},
		{"out eth0 * * * sleepy", `16: unexpected "sleepy"`},
		{"out eth0 * * * new,sleepy", `16: unknown conntrack state "sleepy"`},
		{"out eth0 * * * new extra", `20: unexpected "extra"`},
		{"out eth0 * * * new mark", `20: mark needs a value`},
		{"out eth0 * * * new uid root", `24: "root" is not one of the user ids`},
		{"out eth0 icmp * * pingme", `19: "pingme" is not one of the ICMP types`},
		{"out eth0 tcp * * code 1", `18: code is for icmp packets (icmp code)`},
		{"out eth0 tcp 192.0.2.1 * hoplimit 1", `26: hoplimit is for IPv6 packets (ip6 hoplimit)`},
		{"in eth0 * * * new,old", `15: unknown conntrack state "old"`},
		{"out eth0 * except gre", `19: unknown protocol "gre"`},
	} {
		_, err := sim.ParsePromise(tc.text)
		assert.EqualError(t, err, tc.want, tc.text)
	}
}

// Every promise of the examples' tests is kept, and holds for packets
// drawn from its region: the simulator accepts none but its exceptions'.
// Packets drawn around the region (another interface, state, address)
// are accepted now and then, so the draw reaches the policy's accepts.
func TestKeptPromisesHoldForDrawnPackets(t *testing.T) {
	root := golden.Root(t)
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.kst"))
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(7, 8))
	promises, inside, accepted := 0, 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		blocks, err := sim.ParseTests(data)
		require.NoError(t, err)
		src, err := os.ReadFile(strings.TrimSuffix(file, ".kst") + ".ks")
		require.NoError(t, err)
		for _, b := range blocks {
			cfg := golden.BlockConfig(t, b, filepath.Dir(file))
			p, ds := lang.Load(file, src, cfg)
			require.False(t, ds.HasErrors(), "%v", ds)
			for _, pr := range b.Promises {
				promises++
				proof := pr.Prove(p)
				require.True(t, proof.Kept, "%s:%d: %s %v", file, pr.Line, proof.Witness, proof.Unknown)
				for range 3000 {
					pkt := draw(r, pr.Dir)
					res := sim.Evaluate(p, pkt)
					if res.Verdict == ir.Accept {
						accepted++
					}
					if !pr.Region.Has(pkt.Packet) || exceptHas(pr, pkt) {
						continue
					}
					inside++
					if pr.Always {
						assert.Equal(t, ir.Accept, res.Verdict, "%s:%d: %s is not accepted", file, pr.Line, sim.FormatPacket(pkt))
					} else {
						assert.NotEqual(t, ir.Accept, res.Verdict, "%s:%d: %s is accepted", file, pr.Line, sim.FormatPacket(pkt))
					}
				}
			}
		}
	}
	t.Logf("%d promises, %d drawn packets inside them, %d accepted of all drawn", promises, inside, accepted)
	require.Greater(t, promises, 3)
	assert.Greater(t, inside, 1000)
	assert.Greater(t, accepted, 100)
}

func exceptHas(pr sim.Promise, p sim.Packet) bool {
	for _, x := range pr.Except {
		if x.Has(p.Packet) {
			return true
		}
	}
	return false
}

// draw makes a packet line from values around the examples' edges.
func draw(r *rand.Rand, dir sim.Direction) sim.Packet {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	ifaces := func() string { return pick("eth0", "wg0", "tun0", "lo", "lan0", "eth1") }
	var line []string
	line = append(line, dir.String())
	switch dir {
	case sim.Forward:
		line = append(line, ifaces(), ifaces())
	default:
		line = append(line, ifaces())
	}
	v6 := r.IntN(4) == 0
	proto := pick("tcp", "udp", "udp", "icmp")
	if v6 && proto == "icmp" {
		proto = "icmpv6"
	}
	line = append(line, proto)
	addr := func() string {
		if v6 {
			return pick("2001:db8::2", "2001:db8::53", "fe80::1", "ff02::1")
		}
		return pick("192.0.2.2", "192.0.2.9", "198.51.100.1", "198.51.100.2", "198.51.100.123", "203.0.113.53", "255.255.255.255", "62.108.36.235", "185.212.170.138")
	}
	for range 2 {
		a := netip.MustParseAddr(addr())
		if proto == "tcp" || proto == "udp" {
			port := []uint16{40000, 68, 67, 53, 123, 1194, 443, 22, 51820}[r.IntN(9)]
			line = append(line, netip.AddrPortFrom(a, port).String())
		} else {
			line = append(line, a.String())
		}
	}
	if strings.HasPrefix(proto, "icmp") {
		line = append(line, pick("echo-request", "echo-reply"))
	}
	if r.IntN(3) == 0 {
		line = append(line, pick("established", "related", "invalid", "untracked"))
	}
	p, err := sim.ParsePacket(strings.Join(line, " "))
	if err != nil {
		return draw(r, dir) // a line the drawn words make no packet of
	}
	return p
}
