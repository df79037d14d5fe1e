package sim_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A machine's ruleset with rules ksc cannot read, as iptables-nft leaves
// them: a recent match that drops, one that only counts, a target.
const machine = `table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy accept;
		tcp dport 23 xt match recent counter packets 0 bytes 0 drop
		tcp dport 22 xt match recent counter packets 0 bytes 0
		tcp dport 24 xt target TTL
	}
}
`

func loadMachine(t *testing.T, src string) *ir.Policy {
	t.Helper()
	p, unseen, ds := lang.LoadMachine("live", []byte(src), "")
	require.False(t, ds.HasErrors(), "%v", ds)
	require.Empty(t, unseen)
	return p
}

// A rule ksc cannot read is tried both ways: the verdict is known when
// both give it, and is otherwise none, with the rule and its table named;
// one whose unread part may act leaves it unknown.
func TestEvaluateTriesUnreadRulesBothWays(t *testing.T) {
	p := loadMachine(t, machine)
	tests := []struct {
		line    string
		verdict ir.Verdict
		unread  []int // the lines of the unread rules met
		unsure  string
	}{
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:23", ir.NoVerdict, []int{4},
			"ksc cannot read rule live:4:3 in table ip filter: tcp dport 23 xt match recent counter packets 0 bytes 0 drop (iptables match recent, which nft lists only by name)"},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:22", ir.Accept, []int{5}, ""},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:25", ir.Accept, nil, ""},
		{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:24", ir.NoVerdict, []int{6},
			"ksc cannot read rule live:6:3 in table ip filter: tcp dport 24 xt target TTL (iptables target TTL, which nft lists only by name)"},
	}
	for _, tc := range tests {
		res := evaluate(t, p, tc.line)
		assert.Equal(t, tc.verdict, res.Verdict, tc.line)
		var lines []int
		for _, r := range res.Unread {
			lines = append(lines, r.Pos.Line)
		}
		assert.Equal(t, tc.unread, lines, tc.line)
		assert.Equal(t, tc.unsure, res.Unsure(), tc.line)
	}
}

// Past maxBranches ways the verdict is not known, even where every way
// tried agreed: never a guess.
func TestEvaluateBoundsTheWays(t *testing.T) {
	var b strings.Builder
	b.WriteString("table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority filter; policy accept;\n")
	for i := 0; i < 7; i++ {
		fmt.Fprintf(&b, "\t\ttcp dport 22 xt match recent counter\n")
	}
	b.WriteString("\t}\n}\n")
	p := loadMachine(t, b.String())
	res := evaluate(t, p, "in eth0 tcp 203.0.113.7:40000 192.0.2.2:22")
	assert.Equal(t, ir.NoVerdict, res.Verdict, "2^7 ways, more than are tried")
	assert.Len(t, res.Unread, 7)
	res = evaluate(t, loadMachine(t, strings.Replace(b.String(), strings.Repeat("\t\ttcp dport 22 xt match recent counter\n", 2), "", 1)), "in eth0 tcp 203.0.113.7:40000 192.0.2.2:22")
	assert.Equal(t, ir.Accept, res.Verdict, "2^5 ways are tried, and agree")
}

// Promises over a region meet unread rules as Evaluate does: a part one
// may drop or not is unknown, one every way accepts breaks "never".
func TestPromisesOverUnreadRules(t *testing.T) {
	p := loadMachine(t, machine)
	for _, tc := range []struct {
		promise string
		kept    bool
		witness string
		unknown string
	}{
		{promise: "in eth0 tcp 0.0.0.0/0 0.0.0.0/0:23", unknown: "live:4:3 may hold or not: ksc cannot read tcp dport 23 xt match recent counter packets 0 bytes 0 drop (iptables match recent, which nft lists only by name)"},
		{promise: "in eth0 tcp 0.0.0.0/0 0.0.0.0/0:24", unknown: "live:6:3 does what ksc cannot read: tcp dport 24 xt target TTL (iptables target TTL, which nft lists only by name)"},
		{promise: "in eth0 tcp 0.0.0.0/0 0.0.0.0/0:22", witness: "in eth0 tcp"},
	} {
		pr, err := sim.ParsePromise(tc.promise)
		require.NoError(t, err)
		proof := pr.Prove(p)
		assert.Equal(t, tc.kept, proof.Kept, tc.promise)
		if tc.witness != "" {
			assert.True(t, strings.HasPrefix(proof.Witness, tc.witness), "%s: %q", tc.promise, proof.Witness)
		} else {
			assert.Empty(t, proof.Witness, tc.promise)
		}
		if tc.unknown != "" {
			assert.Contains(t, proof.Unknown, tc.unknown, tc.promise)
		}
	}
}

// What this machine sends has no input interface: nft's iifname of it is
// the empty name, so Docker's "iifname != docker0" holds at output (its
// published port, from the host itself), and "iifname docker0" does not.
func TestAbsentInterfaceNameIsEmpty(t *testing.T) {
	p := loadMachine(t, `table ip nat {
	chain DOCKER {
		iifname "docker0" return
		iifname != "docker0" tcp dport 8080 dnat to 198.51.100.2:80
	}

	chain OUTPUT {
		type nat hook output priority -100; policy accept;
		jump DOCKER
	}
}
`)
	res := evaluate(t, p, "out eth0 tcp 192.0.2.2:40000 192.0.2.2:8080")
	assert.Equal(t, ir.Accept, res.Verdict)
	assert.Equal(t, "198.51.100.2", res.Final.Dst.String())
	assert.Equal(t, uint16(80), res.Final.Dport)

	pr, err := sim.ParsePromise("out eth0 tcp 0.0.0.0/0 0.0.0.0/0:8080 new")
	require.NoError(t, err)
	fates, err := sim.Fates(p, sim.Out, pr.Region)
	require.NoError(t, err)
	rewritten := false
	for _, f := range fates {
		rewritten = rewritten || f.By != nil && f.By.Verdict == ir.Translate || len(f.Rewritten) > 0
	}
	assert.True(t, rewritten, "the region follows the dnat too: %v", fates)
}

// A target ksc cannot read in a nat chain leaves the verdict unknown, and
// names it, though a nat chain decides no verdict of its own.
func TestUnreadTargetInANatChain(t *testing.T) {
	p := loadMachine(t, `table ip raw {
	chain PREROUTING {
		type filter hook prerouting priority raw; policy accept;
	}
}
table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8080 xt target NETMAP
	}
}
table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy drop;
		tcp dport 22 accept
	}
}
`)
	res := evaluate(t, p, "in eth0 tcp 203.0.113.7:40000 192.0.2.2:8080")
	assert.Equal(t, ir.NoVerdict, res.Verdict)
	assert.Equal(t, "ksc cannot read rule live:9:3 in table ip nat: tcp dport 8080 xt target NETMAP (iptables target NETMAP, which nft lists only by name)", res.Unsure())
}

// routes is a Router for tests: the machine's own addresses, and one
// interface it forwards to everything else by ("" for no route).
type routes struct {
	local map[string]bool
	out   string
}

func (r routes) Local(a netip.Addr) bool                       { return r.local[a.String()] }
func (r routes) Forward(string, netip.Addr, netip.Addr) string { return r.out }

// A packet a prerouting dnat sends elsewhere is delivered or forwarded as
// the machine's routes say; with no routes to ask, Evaluate takes it to
// stay and says so.
func TestEvaluateRoutedFollowsADnat(t *testing.T) {
	p := loadMachine(t, `table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8080 dnat to 198.51.100.2:80
	}
}
table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy drop;
	}
	chain FORWARD {
		type filter hook forward priority filter; policy drop;
		oifname "docker0" tcp dport 80 accept
	}
}
`)
	pkt, err := sim.ParsePacket("in eth0 tcp 203.0.113.7:40000 192.0.2.2:8080")
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		router  sim.Router
		verdict ir.Verdict
		dir     sim.Direction
		note    string
	}{
		{"forwarded", routes{out: "docker0"}, ir.Accept, sim.Forward, ""},
		{"forwarded elsewhere", routes{out: "wg0"}, ir.Drop, sim.Forward, ""},
		{"delivered", routes{local: map[string]bool{"198.51.100.2": true}}, ir.Drop, sim.In, ""},
		{"no route", routes{}, ir.Drop, sim.In, "the machine has no route to 198.51.100.2, where a dnat sent it: the kernel drops it"},
		{"no routes to ask", nil, ir.Drop, sim.In, "dnat: the packet is taken to stay this machine's at 198.51.100.2"},
	} {
		res := sim.EvaluateRouted(p, pkt, tc.router)
		assert.Equal(t, tc.verdict, res.Verdict, tc.name)
		assert.Equal(t, tc.dir, res.Final.Dir, tc.name)
		if tc.dir == sim.Forward {
			assert.Equal(t, tc.router.(routes).out, res.Final.Oif, tc.name)
		}
		if tc.note != "" {
			assert.True(t, slices.ContainsFunc(res.Unknown, func(n string) bool { return strings.Contains(n, tc.note) }), "%s: %v", tc.name, res.Unknown)
		}
	}
}
