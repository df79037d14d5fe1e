package region_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/region"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matches are what the generated rules say, over both families, ports of
// two protocols, ICMP, interfaces with wildcards, marks and states.
var matches = []string{
	`iifname "eth0"`, `iifname "eth*"`, `iifname != "wg0"`, `oifname { "eth1", "wg0" }`,
	"ip saddr 192.0.2.0/25", "ip daddr != 198.51.100.7", "ip6 saddr 2001:db8::/33", "ip6 daddr 2001:db8::7",
	"tcp dport 20-25", "tcp dport != 22", "udp dport { 53, 67 }", "th sport 1000-1999", "meta l4proto { tcp, udp }",
	"icmp type echo-request", "icmpv6 type { nd-neighbor-solicit, echo-request }", "meta l4proto icmp",
	"meta mark 0x1", "meta mark != 0x2", "ct state established,related", "ct state new",
	"meta nfproto ipv4", "meta nfproto ipv6",
}

func rules(t *testing.T, r *rand.Rand, n int) []*ir.Rule {
	t.Helper()
	var out []*ir.Rule
	for len(out) < n {
		var words []string
		for range 1 + r.IntN(3) {
			words = append(words, matches[r.IntN(len(matches))])
		}
		src := "table inet t {\nchain c hook forward {\n" + strings.Join(words, " ") + " accept\n}\n}\n"
		p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
		if ds.HasErrors() {
			continue // a contradiction, which the front end refuses
		}
		out = append(out, p.Tables[0].Chains[0].Rules[0])
	}
	return out
}

// packet draws a forwarded packet from values around the rules' edges.
func packet(r *rand.Rand) ir.Packet {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	p := ir.Packet{Iif: pick("eth0", "eth2", "wg0", "lo"), Oif: pick("eth1", "wg0", "tun0"),
		Mark: uint32(r.IntN(4)), CtState: ir.CtStates[r.IntN(len(ir.CtStates))]}
	if r.IntN(2) == 0 {
		p.Src = netip.MustParseAddr(pick("192.0.2.1", "192.0.2.200", "198.51.100.7"))
		p.Dst = netip.MustParseAddr(pick("198.51.100.7", "198.51.100.8", "192.0.2.1"))
		p.Protocol = []ir.Protocol{ir.TCP, ir.UDP, ir.ICMP}[r.IntN(3)]
	} else {
		p.Src = netip.MustParseAddr(pick("2001:db8::1", "2001:db8:8000::1"))
		p.Dst = netip.MustParseAddr(pick("2001:db8::7", "2001:db8::8"))
		p.Protocol = []ir.Protocol{ir.TCP, ir.UDP, ir.ICMPv6}[r.IntN(3)]
	}
	p.Sport, p.Dport = uint16(pick2(r, 999, 1000, 1999, 2000)), uint16(pick2(r, 19, 20, 22, 25, 26, 53, 67))
	p.ICMPType = uint8(pick2(r, 8, 128, 135, 0))
	return p
}

func pick2(r *rand.Rand, vs ...int) int { return vs[r.IntN(len(vs))] }

// A rule's cube holds exactly the packets the rule holds for.
func TestCubeIsTheRule(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	forward := ir.HookSet(1 << ir.HookForward)
	checked := 0
	for _, rule := range rules(t, r, 300) {
		c, ok := region.Of(rule, forward)
		require.True(t, ok, "%v", rule.Matches)
		for range 200 {
			p := packet(r)
			require.Equal(t, rule.Holds(p), c.Has(p), "rule %s, packet %+v", text(rule), p)
			checked++
		}
	}
	assert.Equal(t, 60_000, checked)
}

// What Minus leaves of a cube is exactly its packets that are not in the
// other, each in one piece only.
func TestMinusIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	forward := ir.HookSet(1 << ir.HookForward)
	rs := rules(t, r, 200)
	nonEmpty := 0
	for i := 0; i+1 < len(rs); i += 2 {
		a, _ := region.Of(rs[i], forward)
		b, _ := region.Of(rs[i+1], forward)
		pieces := a.Minus(b)
		for range 300 {
			p := packet(r)
			in := 0
			for _, piece := range pieces {
				if piece.Has(p) {
					in++
				}
			}
			want := a.Has(p) && !b.Has(p)
			require.LessOrEqual(t, in, 1, "pieces overlap")
			require.Equal(t, want, in == 1, "%s minus %s, packet %+v", text(rs[i]), text(rs[i+1]), p)
			if want {
				nonEmpty++
			}
		}
	}
	assert.Greater(t, nonEmpty, 1000, "the packets must fall on both sides")
}

// Rules that say nothing a cube can hold are not one.
func TestNotACube(t *testing.T) {
	for _, tc := range []struct {
		rule  string
		hooks ir.HookSet
	}{
		{"meta mark and 0xff == 0x1", 1 << ir.HookForward},
		{"ct mark 0x1", 1 << ir.HookForward},
		{`iifname "eth0"`, 1 << ir.HookPostrouting},
		{"meta skuid 1000", 1 << ir.HookOutput},
	} {
		hook := "forward"
		switch {
		case tc.hooks&(1<<ir.HookPostrouting) != 0:
			hook = "postrouting"
		case tc.hooks&(1<<ir.HookOutput) != 0:
			hook = "output"
		}
		p, ds := lang.Load("t.ks", []byte("table inet t {\nchain c hook "+hook+" {\n"+tc.rule+" accept\n}\n}\n"), lang.Config{})
		require.False(t, ds.HasErrors(), "%v", ds)
		_, ok := region.Of(p.Tables[0].Chains[0].Rules[0], tc.hooks)
		assert.False(t, ok, tc.rule)
	}
}

func text(r *ir.Rule) string {
	var s []string
	for _, m := range r.Matches {
		s = append(s, m.Text())
	}
	return fmt.Sprint(s)
}

// The fields that decide whether a packet has a value of another (its
// family, its transport protocol, its ICMP type) come before it in the
// fields table, which is the order Minus cuts in.
func TestPresenceDecidedFirst(t *testing.T) {
	for _, f := range ir.AllFields() {
		spec := f.Spec()
		var deciders []ir.Field
		if spec.Family != ir.Inet {
			deciders = append(deciders, ir.FieldNfproto)
		}
		if spec.Protocol != ir.AnyTransport || spec.NeedsPorts {
			deciders = append(deciders, ir.FieldL4Proto)
		}
		if spec.ICMPTypes != nil {
			deciders = append(deciders, map[ir.Protocol]ir.Field{ir.ICMP: ir.FieldICMPType, ir.ICMPv6: ir.FieldICMPv6Type}[spec.Protocol])
		}
		for _, d := range deciders {
			if d != f {
				assert.Less(t, d, f, "%s decides whether a packet has %s", d, f)
			}
		}
	}
}
