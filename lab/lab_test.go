package lab_test

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/lab"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// ruleset gives each way of judging a packet a port, a mark, an owner or
// a state of its own, so that each probe below shows the lab telling
// accept, drop and reject apart for one kind of packet.
const ruleset = `
table inet t {
	chain c_in {
		type filter hook input priority 0; policy accept;
		ct state established tcp dport 5001 drop
		ct state related icmp type destination-unreachable drop
		ct state invalid tcp dport 5002 drop
		ct state untracked udp dport 5003 drop
		meta mark 7 udp dport 5004 drop
		ct mark 9 udp dport 5005 drop
		meta pkttype broadcast udp dport 5006 drop
		udp dport 53 reject
		tcp dport 22 reject with tcp reset
		tcp dport 23 drop
		icmpv6 type echo-request drop
		ip ttl 1 udp dport 5007 drop
		iifname "lo" udp dport 5009 drop
		ct state established tcp flags rst tcp dport 5011 drop
		ip6 hoplimit 255 udp dport 5008 drop
		ip dscp ef udp dport 5013 drop
		ip6 dscp 8-16 udp dport 5013 drop
	}
	chain c_fwd {
		type filter hook forward priority 0; policy drop;
		iifname "eth0" oifname "wg0" tcp dport 443 accept
		iifname "eth0" oifname "wg0" tcp dport 444 reject with icmp host-prohibited
		iifname "eth0" oifname "wg0" ip ttl 9 tcp dport 445 accept
	}
	chain c_out {
		type filter hook output priority 0; policy accept;
		meta skuid 1000 udp dport 53 drop
		meta mark 0x6d udp dport 1194 accept
		udp dport 1194 drop
		oifname "eth0" ip6 daddr 2001:db8::53 udp dport 53 reject
		icmp type echo-request reject with icmpx admin-prohibited
		tcp dport 80 reject with tcp reset
		ct state established ct mark 5 udp dport 5005 drop
	}
	chain c_post {
		type filter hook postrouting priority 0; policy accept;
		oifname "wg0" udp dport 5353 drop
	}
}
`

func TestLabTellsVerdictsApart(t *testing.T) {
	labtest.Require(t, "nft")
	l, err := lab.New([]string{"eth0", "wg0"})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	load := exec.Command("ip", "netns", "exec", l.FW, "nft", "-f", "-")
	load.Stdin = strings.NewReader(ruleset)
	out, err := load.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// A reject's answer, as nft writes the answer the lab saw.
	answers := map[string]string{
		"in eth0 udp 203.0.113.7:40000 192.0.2.2:53":           "with icmp port-unreachable",
		"in eth0 tcp 203.0.113.7:40000 192.0.2.2:22":           "with tcp reset",
		"forward eth0 wg0 tcp 192.0.2.7:40000 203.0.113.9:444": "with icmp host-prohibited",
		"out eth0 udp [2001:db8::2]:40000 [2001:db8::53]:53":   "with icmpv6 port-unreachable",
		"out eth0 icmp 192.0.2.2 203.0.113.9 echo-request":     "with icmp admin-prohibited",
		// The reset carries the probe's own connection: it must not pass
		// for the probe.
		"out eth0 tcp 192.0.2.2:40000 203.0.113.9:80": "with tcp reset",
	}
	for _, tc := range []struct {
		line string
		want ir.Verdict
	}{
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:5001", ir.Accept},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:5001 established", ir.Drop},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:5002 established", ir.Accept},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:5002 invalid", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5003", ir.Accept},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5003 untracked", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5004 mark 7", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5004 mark 8", ir.Accept},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5005 established ctmark 9", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5005 ctmark 9", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5005 established ctmark 8", ir.Accept},
		{"in eth0 udp 203.0.113.7:40000 255.255.255.255:5006", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5006", ir.Accept},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:53", ir.Reject},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:22", ir.Reject},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:23", ir.Drop},
		{"in wg0 icmpv6 2001:db8::9 2001:db8::2 echo-request", ir.Drop},
		{"in wg0 icmpv6 2001:db8::9 2001:db8::2 echo-reply established", ir.Accept},
		{"in eth0 icmp 203.0.113.7 192.0.2.2 destination-unreachable related", ir.Drop},
		{"in eth0 icmp 203.0.113.7 192.0.2.2 destination-unreachable", ir.Accept},
		{"in eth0 udp [fe80::1]:5353 [ff02::fb]:5353", ir.Accept},
		// Written onto lo, below IP: in as a looped-back packet comes.
		{"in lo udp 192.0.2.2:40000 192.0.2.2:5009", ir.Drop},
		{"in lo udp 192.0.2.2:40000 192.0.2.2:5010", ir.Accept},
		{"in lo udp [2001:db8::2]:40000 [2001:db8::2]:5009", ir.Drop},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:5011 established flags rst", ir.Drop},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:5012 established flags rst", ir.Accept},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5007", ir.Accept},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5007 ttl 1", ir.Drop},
		{"in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:5008", ir.Accept},
		{"in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:5008 hoplimit 255", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5013 dscp ef", ir.Drop},
		{"in eth0 udp 203.0.113.7:40000 192.0.2.2:5013 dscp af41", ir.Accept},
		{"in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:5013 dscp 0x09", ir.Drop},
		{"in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:5013 dscp cs3", ir.Accept},
		{"in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:5013", ir.Accept},
		// A forwarded packet has one hop fewer from the forward hook on.
		{"forward eth0 wg0 tcp 192.0.2.7:40000 203.0.113.9:445 ttl 10", ir.Accept},
		{"forward eth0 wg0 tcp 192.0.2.7:40000 203.0.113.9:445 ttl 9", ir.Drop},
		{"forward eth0 wg0 tcp 192.0.2.7:40000 203.0.113.9:443", ir.Accept},
		{"forward eth0 wg0 tcp 192.0.2.7:40000 203.0.113.9:444", ir.Reject},
		{"forward wg0 eth0 tcp 203.0.113.9:40000 192.0.2.7:443", ir.Drop},
		{"forward eth0 wg0 udp [2001:db8:1::7]:40000 [2001:db8:2::9]:443", ir.Drop},
		{"out eth0 udp 192.0.2.2:40000 203.0.113.53:53", ir.Accept},
		{"out eth0 udp 192.0.2.2:40000 203.0.113.53:53 uid 1000", ir.Drop},
		{"out eth0 udp 192.0.2.2:40000 198.51.100.1:1194 mark 0x6d", ir.Accept},
		{"out eth0 udp 192.0.2.2:40000 198.51.100.1:1194", ir.Drop},
		{"out eth0 udp [2001:db8::2]:40000 [2001:db8::53]:53", ir.Reject},
		{"out wg0 udp [2001:db8::2]:40000 [2001:db8::53]:53", ir.Accept},
		{"out eth0 icmp 192.0.2.2 203.0.113.9 echo-request", ir.Reject},
		{"out eth0 tcp 192.0.2.2:40000 203.0.113.9:80", ir.Reject},
		{"out eth0 udp 192.0.2.2:40000 203.0.113.5:5005 established ctmark 5", ir.Drop},
		{"out eth0 udp 192.0.2.2:40000 203.0.113.5:5005 established ctmark 6", ir.Accept},
		{"out wg0 udp [fe80::2]:5353 [ff02::fb]:5353", ir.Drop},
		{"out eth0 udp [fe80::2]:5353 [ff02::fb]:5353", ir.Accept},
		{"out eth0 udp 192.0.2.2:68 255.255.255.255:67", ir.Accept},
	} {
		p, err := sim.ParsePacket(tc.line)
		require.NoError(t, err, tc.line)
		got, err := l.Run(p, p)
		if assert.NoError(t, err, tc.line) {
			assert.Equal(t, tc.want.String(), got.Verdict.String(), tc.line)
			if tc.want == ir.Reject {
				assert.Equal(t, answers[tc.line], got.Answer.Text(), tc.line)
			}
		}
	}
}

func TestLabRefusesWhatItCannotMake(t *testing.T) {
	for _, line := range []string{
		"out eth0 udp 192.0.2.2:40000 8.8.8.8:53",
		"out eth0 udp 10.0.0.2:40000 192.0.2.1:53",
		"out eth0 udp 192.0.2.2:40000 192.0.2.1:53 invalid",
		"in eth0 tcp 203.0.113.7:40000 192.0.2.2:22 related",
		"in eth0 tcp 203.0.113.7:40000 192.0.2.2:22 flags ack",
		"in eth0 icmp 203.0.113.7 192.0.2.2 echo-reply new",
		"forward eth0 wg0 udp [fe80::1]:40000 [2001:db8::9]:53",
		"in eth0 udp 203.0.113.7:40000 192.0.2.2:53 invalid ctmark 3",
	} {
		p, err := sim.ParsePacket(line)
		require.NoError(t, err, line)
		_, err = lab.PlanFor(p)
		var u *lab.Unsupported
		assert.ErrorAs(t, err, &u, line)
	}
}

// An address the lab adds for a probe is the firewall's own by the time
// the probe goes: an IPv6 address becomes local only once a kernel work
// item has run, which missed about one probe in 25 (judged dropped).
func TestLabAddressesAreLocalAtOnce(t *testing.T) {
	labtest.Require(t, "nft")
	l, err := lab.New([]string{"eth0"})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	for i := range 300 {
		dst := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i%250 + 2)})
		p := sim.Packet{Dir: sim.Out, Packet: ir.Packet{Protocol: ir.TCP, Oif: "lo",
			Src: netip.MustParseAddr("2001:db8::1"), Dst: dst, Sport: 40000, Dport: 7}}
		undo, err := l.Route(p, p.Dst)
		require.NoError(t, err)
		typ, err := l.RouteType(dst)
		require.NoError(t, err)
		require.Equal(t, unix.RTN_LOCAL, typ, "%s is not local right after the lab added it", dst)
		require.NoError(t, undo())
	}
}
