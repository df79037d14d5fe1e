package sim_test

import (
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const policy = `table ip early {
	chain out hook output priority -10 {
		oifname "eth0" accept
	}
}
table inet main {
	chain out hook output policy drop {
		oifname "eth0" udp dport 53 drop
		counter
		oifname "eth0" accept
	}
	chain post hook postrouting policy accept {
		ip6 daddr 2001:db8::/32 drop
	}
	chain fwd hook forward policy drop {
		iifname "lan0" oifname "wg0" accept
	}
}
`

func load(t *testing.T) *ir.Policy { return loadSource(t, "p.ks", policy) }

// loadSource loads a policy that must have no errors.
func loadSource(t *testing.T, name, src string) *ir.Policy {
	t.Helper()
	p, ds := lang.Load(name, []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	return p
}

// evaluate sends the packet of a packet line through p.
func evaluate(t *testing.T, p *ir.Policy, line string) sim.Result {
	t.Helper()
	pkt, err := sim.ParsePacket(line)
	require.NoError(t, err, line)
	return sim.Evaluate(p, pkt)
}

// The kernel's semantics: chains of a hook by priority, an accept ending
// only its chain, hooks in order, tables only for their family.
func TestEvaluate(t *testing.T) {
	p := load(t)
	tests := []struct {
		line    string
		verdict ir.Verdict
		chains  []string // the chains crossed
		decided string   // the deciding rule's line, or "" for a policy
	}{
		// The early accept does not skip the later chain's drop.
		{"out eth0 udp 192.0.2.2:4000 198.51.100.53:53", ir.Drop, []string{"out", "out"}, "p.ks:8:3"},
		// A counter-only rule decides nothing; the accept goes on to postrouting.
		{"out eth0 tcp 192.0.2.2:4000 198.51.100.80:443", ir.Accept, []string{"out", "out", "post"}, ""},
		// The ip table does not see IPv6; postrouting drops it.
		{"out eth0 tcp [2001:db8::2]:4000 [2001:db8::80]:443", ir.Drop, []string{"out", "post"}, "p.ks:13:3"},
		{"out wg0 tcp 192.0.2.2:4000 198.51.100.80:443", ir.Drop, []string{"out", "out"}, ""},
		{"forward lan0 wg0 tcp 192.0.2.7:4000 203.0.113.9:443", ir.Accept, []string{"fwd", "post"}, ""},
		{"forward lan0 eth0 tcp 192.0.2.7:4000 203.0.113.9:443", ir.Drop, []string{"fwd"}, ""},
		{"in eth0 tcp 198.51.100.7:4000 192.0.2.2:22", ir.Accept, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			pkt, err := sim.ParsePacket(tt.line)
			require.NoError(t, err)
			res := sim.Evaluate(p, pkt)
			assert.Equal(t, tt.verdict, res.Verdict)
			var chains []string
			for _, st := range res.Steps {
				chains = append(chains, st.Chain.Name)
			}
			assert.Equal(t, tt.chains, chains)
			if d := res.Decided(); d != nil && d.Rule != nil && tt.decided != "" {
				assert.Equal(t, tt.decided, d.Rule.Pos.String())
			}
		})
	}
}

func TestParsePacketDefaultsAndErrors(t *testing.T) {
	pkt, err := sim.ParsePacket("out eth0 icmpv6 2001:db8::1 2001:db8::2 nd-neighbor-solicit mark 0x10 uid 1000")
	require.NoError(t, err)
	assert.Equal(t, ir.ICMPv6, pkt.Protocol)
	assert.Equal(t, uint8(135), pkt.ICMPType)
	assert.Equal(t, ir.CtUntracked, pkt.CtState, "conntrack does not track neighbour discovery")
	assert.Equal(t, uint32(0x10), pkt.Mark)
	assert.Equal(t, uint32(1000), pkt.UID)
	pkt, err = sim.ParsePacket("in eth0 udp 192.0.2.1:53 192.0.2.2:4000")
	require.NoError(t, err)
	assert.Equal(t, ir.CtNew, pkt.CtState)
	assert.False(t, pkt.Reply)
	// The way of its connection: an answer's, for ICMP replies and errors.
	for line, reply := range map[string]bool{
		"in eth0 tcp 192.0.2.1:443 192.0.2.2:4000 established":             false,
		"in eth0 tcp 192.0.2.1:443 192.0.2.2:4000 established dir reply":   true,
		"in eth0 icmp 192.0.2.1 192.0.2.2 echo-reply established":          true,
		"in eth0 icmp 192.0.2.1 192.0.2.2 echo-request established":        false,
		"in eth0 icmp 192.0.2.1 192.0.2.2 destination-unreachable related": true,
	} {
		pkt, err := sim.ParsePacket(line)
		require.NoError(t, err, line)
		assert.Equal(t, reply, pkt.Reply, line)
	}

	for line, col := range map[string]int{
		"out eth0 icmp 2001:db8::1 2001:db8::2 echo-request": 10,
		"out eth* udp 192.0.2.1:1 192.0.2.2:2":               5,
		"out eth0 udp 192.0.2.1:1 192.0.2.2:2 mark":          38,
		"out eth0 udp 192.0.2.1:1":                           25,
		// Details come from the fields table, each for its own packets.
		"out eth0 udp [2001:db8::1]:1 [2001:db8::2]:2 ttl 5":    46,
		"out eth0 udp 192.0.2.1:1 192.0.2.2:2 hoplimit 5":       38,
		"out eth0 udp 192.0.2.1:1 192.0.2.2:2 code 3":           38,
		"out eth0 udp 192.0.2.1:1 192.0.2.2:2 ttl 256":          42,
		"out eth0 udp 192.0.2.1:1 192.0.2.2:2 pkttype bogus":    46,
		"out eth0 udp 192.0.2.1:1 192.0.2.2:2 colour 3":         38,
		"forward eth0 wg0 udp 192.0.2.1:1 198.51.100.2:2 ttl 1": 1,
		"in eth0 udp 192.0.2.1:1 192.0.2.2:2 dir reply":         1,
		// Only the machine's routes to broadcast and multicast are free.
		"in eth0 udp 192.0.2.1:1 192.0.2.2:2 route exists":              37,
		"in lo udp 192.0.2.1:1 255.255.255.255:2 route missing":         41,
		"in eth0 udp [fe80::1]:1 [ff02::1]:2 route missing":             37,
		"in eth0 udp 0.0.0.0:68 255.255.255.255:67 route missing":       43,
		"forward eth0 wg0 udp 192.0.2.1:1 198.51.100.2:2 route missing": 49,
		"out eth0 udp 192.0.2.1:1 192.0.2.2:2 iifaddr unicast":          38,
		"in eth0 udp 192.0.2.1:1 255.255.255.255:2 iifaddr unicast":     43,
		"in eth0 udp 192.0.2.1:1 192.0.2.2:2 iifaddr multicast":         37,
		"forward eth0 wg0 udp 192.0.2.1:1 198.51.100.2:2 iifaddr local": 49,
	} {
		_, err := sim.ParsePacket(line)
		var pe *sim.PacketError
		require.ErrorAs(t, err, &pe, line)
		assert.Equal(t, col, pe.Col, "%s: %v", line, err)
	}
}

// A limit is taken as "under the rate", and said: a plain limit lets its
// verdict decide, "limit rate over" stops the rule before its verdict.
func TestLimitIsAConditionNotAGuess(t *testing.T) {
	src := "table inet t {\n\tchain c hook input policy accept {\n\t\ttcp dport 22 limit rate over 10/second drop\n\t\ttcp dport 22 limit rate 3/minute drop\n\t}\n}\n"
	p := loadSource(t, "l.ks", src)
	res := evaluate(t, p, "in eth0 tcp 192.0.2.9:40000 192.0.2.1:22")
	assert.Equal(t, ir.Drop, res.Verdict)
	assert.Equal(t, "l.ks:4:3", res.Decided().Rule.Pos.String(), "under every rate, the over-limit rule decides nothing")
	assert.Equal(t, []string{"l.ks:3:3 only above 10/second", "l.ks:4:3 while under 3/minute"}, res.Conditions())
}

// A per-key limit is a condition too, named by its key; a packet of the
// other family never meets it.
func TestMeterIsAConditionPerKey(t *testing.T) {
	src := "table inet t {\n\tset s { type ipv4_addr; flags dynamic }\n\tchain c hook input policy accept {\n\t\ttcp dport 22 update @s { ip saddr limit rate over 3/minute } drop\n\t}\n}\n"
	p := loadSource(t, "m.ks", src)
	res := evaluate(t, p, "in eth0 tcp 192.0.2.9:40000 192.0.2.1:22")
	assert.Equal(t, ir.Accept, res.Verdict)
	assert.Equal(t, []string{"m.ks:4:3 only above 3/minute per ip saddr"}, res.Conditions())
	assert.Empty(t, evaluate(t, p, "in eth0 tcp [2001:db8::9]:40000 [2001:db8::1]:22").Conditions(), "an IPv6 packet has no ip saddr")
}

// A dynamic set holds, for the simulator, what the packet's own way put
// into it, as when the policy is loaded: a rule after the add sees the
// key, in the same chain, a chain jumped to or a later base chain, of
// that set and key only; and a lookup is a condition, said.
func TestDynamicSetHoldsWhatThePacketAdded(t *testing.T) {
	src := `table inet t {
	set seen { type ipv4_addr; flags dynamic,timeout; timeout 1m }
	set other { type ipv4_addr; flags dynamic }
	chain a hook input policy accept {
		ip saddr @seen drop
		tcp dport 22 add @seen { ip saddr timeout 10s }
		tcp dport 23 add @other { ip saddr }
		tcp dport 24 add @seen { ip daddr }
	}
	chain b hook input priority 10 policy accept {
		ip saddr @seen drop
		ip saddr != @seen reject
	}
}
`
	p := loadSource(t, "d.ks", src)
	for line, want := range map[string]ir.Verdict{
		"in eth0 tcp 192.0.2.9:40000 192.0.2.1:22": ir.Drop,   // added in chain a, found in chain b
		"in eth0 tcp 192.0.2.9:40000 192.0.2.1:23": ir.Reject, // added to another set
		"in eth0 tcp 192.0.2.9:40000 192.0.2.1:24": ir.Reject, // another key added
		"in eth0 tcp 192.0.2.9:40000 192.0.2.1:80": ir.Reject, // nothing added: the set starts empty
	} {
		assert.Equal(t, want, evaluate(t, p, line).Verdict, line)
	}
	res := evaluate(t, p, "in eth0 tcp 192.0.2.9:40000 192.0.2.1:80")
	assert.Equal(t, []string{"d.ks:5:3 while @seen holds no key from earlier packets", "d.ks:11:3 while @seen holds no key from earlier packets",
		"d.ks:12:3 while @seen holds no key from earlier packets"}, res.Conditions())
	adds := evaluate(t, p, "in eth0 tcp 192.0.2.9:40000 192.0.2.1:22")
	require.Len(t, adds.Final.Added, 1)
	later, err := sim.ParsePacket("in eth0 tcp 192.0.2.9:40000 192.0.2.1:80")
	require.NoError(t, err)
	later.Added = adds.Final.Added
	assert.Equal(t, ir.Reject, sim.Evaluate(p, later).Verdict, "an evaluation starts from empty sets, whatever the packet says was added")
}

// A dnat rewrites what the chains after it see; a redirect on the way in
// goes to an address the simulator cannot know, and says what it assumed.
func TestDestinationNATRewritesForLaterChains(t *testing.T) {
	src := "table inet t {\n\tchain n type nat hook prerouting priority dstnat {\n\t\ttcp dport 8080 dnat ip to 192.0.2.10:80\n\t\ttcp dport 2222 redirect to :22\n\t}\n" +
		"\tchain f hook forward priority filter policy drop {\n\t\tip daddr 192.0.2.10 tcp dport 80 accept\n\t}\n" +
		"\tchain i hook input priority filter policy drop {\n\t\ttcp dport 22 accept\n\t}\n}\n"
	p := loadSource(t, "n.ks", src)
	for line, want := range map[string]ir.Verdict{
		"forward eth0 eth1 tcp 203.0.113.7:40000 198.51.100.1:8080": ir.Accept,
		"forward eth0 eth1 tcp 203.0.113.7:40000 198.51.100.1:80":   ir.Drop,
		"in eth0 tcp 203.0.113.7:40000 198.51.100.1:2222":           ir.Accept,
	} {
		assert.Equal(t, want, evaluate(t, p, line).Verdict, line)
	}
	res := evaluate(t, p, "forward eth0 eth1 tcp 203.0.113.7:40000 198.51.100.1:8080")
	assert.Equal(t, "192.0.2.10", res.Final.Dst.String())
	assert.Equal(t, uint16(80), res.Final.Dport)
	assert.Empty(t, res.Unknown)
	assert.Equal(t, []string{"n.ks:4:3 redirect: the destination becomes this machine's first address on eth0, taken to be 198.51.100.1"}, evaluate(t, p, "in eth0 tcp 203.0.113.7:40000 198.51.100.1:2222").Unknown)
}

// A mark set in one chain is what a later chain's match sees.
func TestMarkSetCarriesOn(t *testing.T) {
	src := "table inet t {\n\tchain a hook output policy accept {\n\t\tudp dport 9 meta mark set 0x2\n\t}\n\tchain b hook output priority 10 policy accept {\n\t\tmeta mark 0x2 drop\n\t}\n}\n"
	p := loadSource(t, "m.ks", src)
	for port, want := range map[string]ir.Verdict{"9": ir.Drop, "10": ir.Accept} {
		assert.Equal(t, want, evaluate(t, p, "out eth0 udp 192.0.2.1:4000 192.0.2.9:"+port).Verdict, port)
	}
}

// Conntrack asks nat chains about a connection's first packet only, and a
// rewrite is the nat chain's accept, not the packet's verdict.
func TestNATChainsSeeNewPacketsOnly(t *testing.T) {
	p := loadSource(t, "p.ks", `table inet t {
	chain fwd hook forward policy drop {
		oifname "wg0" accept
	}
	chain post type nat hook postrouting priority srcnat {
		oifname "wg0" masquerade
	}
}
`)
	for _, tc := range []struct {
		line  string
		steps int
	}{
		{"forward lan0 wg0 tcp 192.0.2.10:40000 203.0.113.9:443", 2},
		{"forward lan0 wg0 tcp 192.0.2.10:40000 203.0.113.9:443 established", 1},
	} {
		res := evaluate(t, p, tc.line)
		assert.Equal(t, ir.Accept, res.Verdict, tc.line)
		assert.Len(t, res.Steps, tc.steps, tc.line)
		require.NotNil(t, res.Decided())
		assert.Equal(t, "fwd", res.Decided().Chain.Name, "a nat chain does not decide: %s", tc.line)
	}
}

// What fib daddr type sees of a packet line.
func TestDaddrType(t *testing.T) {
	for line, want := range map[string]uint8{
		"in eth0 udp 198.51.100.7:1 192.0.2.2:2":         2, // local
		"in eth0 udp 198.51.100.7:1 255.255.255.255:2":   3, // broadcast
		"in eth0 udp [fe80::1]:1 [ff02::fb]:2":           5, // multicast
		"out eth0 udp 192.0.2.2:1 203.0.113.9:2":         1, // unicast
		"out lo udp 192.0.2.2:1 192.0.2.3:2":             2,
		"forward eth0 wg0 udp 192.0.2.7:1 203.0.113.9:2": 1,
	} {
		pkt, err := sim.ParsePacket(line)
		require.NoError(t, err)
		assert.Equal(t, want, pkt.DaddrType, line)
	}
}

// A rejected packet's answer is its rejecting rule's, as its family gets it.
func TestAnswerIsTheRejectingRules(t *testing.T) {
	src := "table inet t {\n\tchain c hook input policy accept {\n\t\ttcp dport 22 reject with tcp reset\n\t\tudp dport 53 reject\n\t\tip saddr 192.0.2.7 reject with icmp host-prohibited\n\t\tudp dport 54 reject with icmpx admin-prohibited\n\t\tudp dport 55 drop\n\t}\n}\n"
	p := loadSource(t, "a.ks", src)
	for line, want := range map[string]string{
		"in eth0 tcp 192.0.2.9:40000 192.0.2.1:22":         "with tcp reset",
		"in eth0 udp 192.0.2.9:40000 192.0.2.1:53":         "with icmp port-unreachable",
		"in eth0 udp [2001:db8::9]:40000 [2001:db8::1]:53": "with icmpv6 port-unreachable",
		"in eth0 udp 192.0.2.7:40000 192.0.2.1:80":         "with icmp host-prohibited",
		"in eth0 udp [2001:db8::9]:40000 [2001:db8::1]:54": "with icmpv6 admin-prohibited",
	} {
		answer, ok := evaluate(t, p, line).Answer()
		require.True(t, ok, line)
		assert.Equal(t, want, answer.Text(), line)
	}
	for _, line := range []string{"in eth0 udp 192.0.2.9:40000 192.0.2.1:55", "in eth0 udp 192.0.2.9:40000 192.0.2.1:56"} {
		_, ok := evaluate(t, p, line).Answer()
		assert.False(t, ok, "%s is not rejected", line)
	}
}

// A packet's TTL is what its line says, or what the kernel sends; routing
// a forwarded packet takes one off before the forward hook.
func TestHopLimits(t *testing.T) {
	src := "table inet t {\n\tchain pre hook prerouting policy accept {\n\t\tip ttl 10 counter\n\t}\n" +
		"\tchain fwd hook forward policy drop {\n\t\tip ttl 9 accept\n\t}\n}\n"
	p := loadSource(t, "h.ks", src)
	res := evaluate(t, p, "forward eth0 wg0 udp 192.0.2.1:40000 198.51.100.2:53 ttl 10")
	assert.Equal(t, ir.Accept, res.Verdict)
	assert.Len(t, res.Steps[0].Passed, 1, "prerouting sees ttl 10")
	res = evaluate(t, p, "forward eth0 wg0 udp 192.0.2.1:40000 198.51.100.2:53")
	assert.Equal(t, ir.Drop, res.Verdict, "64 by default")

	pkt, err := sim.ParsePacket("in eth0 icmpv6 fe80::1 ff02::1 nd-router-advert")
	require.NoError(t, err)
	assert.Equal(t, uint8(255), pkt.Hops(), "neighbour discovery is sent with 255")
	pkt, err = sim.ParsePacket("in eth0 icmpv6 fe80::1 ff02::1 nd-router-advert hoplimit 64")
	require.NoError(t, err)
	assert.Equal(t, uint8(64), pkt.Hops())
	pkt, err = sim.ParsePacket("in eth0 udp 192.0.2.1:1 192.0.2.2:2 ttl 0")
	require.NoError(t, err)
	assert.Equal(t, uint8(0), pkt.Hops(), "0 is a TTL too")
}
