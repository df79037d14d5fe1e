package iptables_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compiles reports whether a golden case has an iptables form; the others
// are covered by TestRefusedConstructs.
// refused lists the golden cases the iptables targets refuse, with the
// error: every other case must compile, so that a case that stops
// compiling fails the tests instead of dropping out of them.
var refused = map[string]string{
	"cgroupnot": `testdata/policies/cgroupnot.ks:10:3: the iptables target cannot express socket cgroupv2 level 2 != "ksc-test/bypass": iptables' ! --path also holds for a socket in a cgroup above that level (the root cgroup's), which socket cgroupv2 never matches`,
	"own-tables": "testdata/policies/own-tables.ks:13:2: the iptables target cannot express filter chain in at hook input priority -300: iptables' tables run their chains there at mangle (-150, table mangle), filter (0, table filter) only\n" +
		"testdata/policies/own-tables.ks:19:2: the iptables target cannot express filter chain out at hook output priority -5: iptables' tables run their chains there at raw (-300, table raw), filter (0, table filter) only",
	"nexthdr":     "testdata/policies/nexthdr.ks:9:3: the iptables target cannot express ip6 nexthdr: ip6tables -p skips IPv6 extension headers\ntestdata/policies/nexthdr.ks:10:3: the iptables target cannot express ip6 nexthdr: ip6tables -p skips IPv6 extension headers",
	"postrouting": `testdata/policies/postrouting.ks:5:2: the iptables target cannot express filter chain POSTROUTING at hook postrouting priority 0: iptables' tables run their chains there at mangle (-150, table mangle) only`,
	"home-router": "examples/home-router.ks:57:3: the iptables target cannot express ip saddr @blackhole: ksc writes no ipset that rules fill\n" +
		"examples/home-router.ks:58:131: the iptables target cannot express add @blackhole { ip saddr timeout 1m }: ksc writes no ipset that rules fill",
	"daddr-iif": "testdata/policies/daddr-iif.ks:9:15: the ip6tables target cannot express fib daddr . iif type: ksc has not shown ip6tables' addrtype --limit-iface-in to agree with it\n" +
		"testdata/policies/daddr-iif.ks:13:16: the ip6tables target cannot express fib daddr . iif type: ksc has not shown ip6tables' addrtype --limit-iface-in to agree with it",
	"daddr-route": "testdata/policies/daddr-route.ks:10:3: the iptables target cannot express fib daddr oif: iptables has no match on a route to the destination (rpfilter looks up the source's)\n" +
		"testdata/policies/daddr-route.ks:11:3: the iptables target cannot express fib daddr oif: iptables has no match on a route to the destination (rpfilter looks up the source's)\n" +
		"testdata/policies/daddr-route.ks:15:3: the iptables target cannot express fib daddr oif: iptables has no match on a route to the destination (rpfilter looks up the source's)",
	"rpf":      "testdata/policies/rpf.ks:13:32: the iptables target cannot express fib saddr . iif oif here: iptables' rpfilter works at prerouting in the raw and mangle tables only",
	"dynset":   `testdata/policies/dynset.ks:22:2: the iptables target cannot express filter chain later at hook input priority 10: iptables' tables run their chains there at mangle (-150, table mangle), filter (0, table filter) only`,
	"headers":  headerRefusals(),
	"ctstatus": "testdata/policies/ctstatus.ks:14:3: the iptables target cannot express ct status != seen-reply|assured|confirmed in one rule",
	"priority": "testdata/policies/priority.ks:5:3: the iptables target cannot express meta priority: iptables sets a packet's class (CLASSIFY) but has no match on it\n" +
		"testdata/policies/priority.ks:8:3: the iptables target cannot express meta priority: iptables sets a packet's class (CLASSIFY) but has no match on it\n" +
		"testdata/policies/priority.ks:9:3: the iptables target cannot express meta priority: iptables sets a packet's class (CLASSIFY) but has no match on it",
	"groups": "testdata/policies/groups.ks:5:3: the iptables target cannot express meta iifgroup: iptables-save names groups from the machine's /etc/iproute2/group\n" +
		"testdata/policies/groups.ks:6:3: the iptables target cannot express meta iifgroup: iptables-save names groups from the machine's /etc/iproute2/group\n" +
		"testdata/policies/groups.ks:9:3: the iptables target cannot express meta oifgroup: iptables-save names groups from the machine's /etc/iproute2/group",
	"byterate": "testdata/policies/byterate.ks:6:16: the iptables target cannot express limit rate 45 bytes/second in a rule for IPv4 and IPv6: nft keeps one rate for both families, iptables and ip6tables one each\n" +
		"testdata/policies/byterate.ks:7:16: the iptables target cannot express limit rate 1 kbytes/second in a rule for IPv4 and IPv6: nft keeps one rate for both families, iptables and ip6tables one each\n" +
		"testdata/policies/byterate.ks:8:16: the iptables target cannot express limit rate over 30 bytes/second burst 20 bytes in a rule for IPv4 and IPv6: nft keeps one rate for both families, iptables and ip6tables one each\n" +
		"testdata/policies/byterate.ks:10:16: the iptables target cannot express limit rate 41 bytes/second in a rule for IPv4 and IPv6: nft keeps one rate for both families, iptables and ip6tables one each",
}

// headerRefusals are the IPv4 target's refusals of testdata/policies/
// headers.ks: each of its header fields an IPv4 rule matches, in order.
func headerRefusals() string {
	var lines []string
	for _, at := range []struct{ pos, field string }{{"7:3", "ip frag-off"}, {"8:3", "ip hdrlength"}, {"9:3", "ip length"},
		{"10:3", "udp length"}, {"11:3", "udp checksum"}, {"12:3", "tcp window"}, {"13:3", "tcp sequence"}, {"14:17", "tcp ackseq"},
		{"15:3", "ip id"}, {"18:3", "icmp id"}, {"19:26", "icmp sequence"}, {"27:3", "tcp window"}, {"28:3", "icmp mtu"}} {
		lines = append(lines, "testdata/policies/headers.ks:"+at.pos+": the iptables target cannot express "+at.field+": iptables has no match for this header field")
	}
	return strings.Join(lines, "\n")
}

// compiles reports whether the iptables targets take the case, and fails
// the test when that is not what refused says.
func compiles(t *testing.T, c golden.Case, p *ir.Policy) bool {
	t.Helper()
	_, err := iptables.Render(p, ir.IPv4)
	if err == nil {
		_, err = iptables.Render(p, ir.IPv6)
	}
	if want, ok := refused[c.Name]; ok {
		require.Error(t, err, "%s compiles for iptables now: take it out of refused", c.Name)
		assert.Equal(t, want, err.Error(), c.Name)
		return false
	}
	require.NoError(t, err, c.Name)
	return true
}

func TestGolden(t *testing.T) {
	n := 0
	for _, c := range golden.Cases(t) {
		p := c.Load(t)
		if !compiles(t, c, p) {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			for _, f := range []struct {
				target string
				family ir.Family
			}{{"iptables", ir.IPv4}, {"ip6tables", ir.IPv6}} {
				o, err := iptables.Render(p, f.family)
				require.NoError(t, err)
				assert.Equal(t, strings.Count(string(o.Text), "\n"), len(o.Lines), "one position for each line")
				golden.Check(t, golden.Path(t, f.target, c.Name, ".rules"), o.Text)
			}
			script, err := iptables.RenderScript(p)
			if iptables.Owned(p) {
				require.ErrorContains(t, err, `the iptables-script target needs "flush ruleset"`)
				return
			}
			if len(iptables.Tables(p)) > 1 {
				require.ErrorContains(t, err, "the iptables-script target cannot express")
				return
			}
			require.NoError(t, err)
			golden.Check(t, golden.Path(t, "iptables-script", c.Name, ".sh"), script)
		})
	}
	assert.GreaterOrEqual(t, n, 3)
}

func load(t *testing.T, src string) *ir.Policy {
	t.Helper()
	p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	return p
}

// Every construct iptables cannot express is refused with the line and the
// reason, never turned into a different rule.
func TestRefusedConstructs(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"prerouting hook at filter", "flush ruleset\ntable t {\nchain c hook prerouting {\naccept\n}\n}\n",
			`t.ks:3:1: the iptables target cannot express filter chain c at hook prerouting priority 0: iptables' tables run their chains there at raw (-300, table raw), mangle (-150, table mangle) only`},
		{"a rate per week", "flush ruleset\ntable ip t {\nchain c hook input {\nlimit rate 400/week accept\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express limit rate 400/week: iptables' limit match counts per second, minute, hour or day`},
		{"two chains on one hook", "flush ruleset\ntable t {\nchain a hook input {\n}\nchain b hook input priority 0 {\n}\n}\n",
			`t.ks:5:1: chain b and chain a at t.ks:3:1 both hook input at priority 0: iptables has one INPUT chain in its filter table`},
		{"raw priority at input", "flush ruleset\ntable t {\nchain c hook input priority raw {\naccept\n}\n}\n",
			`t.ks:3:1: the iptables target cannot express filter chain c at hook input priority -300: iptables' tables run their chains there at mangle (-150, table mangle), filter (0, table filter) only`},
		{"a filter chain at mangle output", "flush ruleset\ntable t {\nchain c hook output priority mangle {\naccept\n}\n}\n",
			`t.ks:3:1: the iptables target cannot express filter chain c at hook output priority -150: iptables' tables run their chains there at raw (-300, table raw), filter (0, table filter) only`},
		{"a reject in the raw table", "flush ruleset\ntable t {\nchain c hook prerouting priority raw {\nudp dport 9 reject\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express reject in chain c: it is iptables' raw PREROUTING chain, and REJECT works in the filter table only`},
		{"negated interface set", "flush ruleset\ntable t {\nchain c hook output {\noifname != { tun0, wg0 } drop\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express oifname != { "tun0", "wg0" } in one rule`},
		{"negated address set", "flush ruleset\ntable t {\nchain c hook output {\nip daddr != { 192.0.2.1, 192.0.2.3 } drop\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express ip daddr != { 192.0.2.1, 192.0.2.3 } in one rule`},
		{"negated protocol set", "flush ruleset\ntable t {\nchain c hook output {\nmeta l4proto != { tcp, udp } drop\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express meta l4proto != { tcp, udp } in one rule`},
		{"tcp flags over all eight bits", "flush ruleset\ntable t {\nchain c hook input {\ntcp flags == syn drop\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express tcp flags == syn in one rule`},
		{"negated set of tcp flags values", "flush ruleset\ntable t {\nchain c hook input {\ntcp flags & (syn|ack) != { syn, ack } drop\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express tcp flags & (syn|ack) != { syn, ack } in one rule`},
		{"log prefix over 29 characters", "flush ruleset\ntable t {\nchain c hook input {\nlog prefix \"123456789012345678901234567890\" drop\n}\n}\n",
			`t.ks:4:1: log prefix "123456789012345678901234567890" is 30 characters long; iptables allows at most 29`},
		{"a chain named as a target", "flush ruleset\ntable t {\nchain c hook input {\njump LOG\n}\nchain LOG {\n}\n}\n",
			`t.ks:6:1: iptables reserves the name LOG for a builtin chain or a target`},
		{"one chain name in two tables", "flush ruleset\ntable a {\nchain c hook input {\njump x\n}\nchain x {\n}\n}\ntable b {\nchain c hook output {\njump x\n}\nchain x {\n}\n}\n",
			`t.ks:13:1: chain x is also declared at t.ks:6:1: iptables has one filter table for every table of the policy`},
		{"a nat chain off srcnat", "flush ruleset\ntable t {\nchain c type nat hook postrouting priority 50 {\nmasquerade\n}\n}\n",
			`t.ks:3:1: the iptables target cannot express nat chain c at hook postrouting priority 50: iptables' tables run their chains there at srcnat (100, table nat) only`},
		{"iifname at postrouting", "flush ruleset\ntable t {\nchain c type nat hook postrouting priority srcnat {\niifname lan0 masquerade\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express iifname in a postrouting chain: iptables refuses -i in POSTROUTING`},
		{"a jump on a mark from several rules", "flush ruleset\ntable t {\nchain c hook output {\nmeta mark 1 oifname { eth0, eth1 } jump x\n}\nchain x {\nmeta mark set 2\n}\n}\n",
			`t.ks:4:1: the iptables target cannot express a jump in a rule that matches a mark and becomes several iptables rules: each would check the mark again after the chain it jumps to`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iptables.Render(load(t, tt.src), ir.IPv4)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			_, err = iptables.RenderScript(load(t, tt.src))
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestFamiliesSplitAndSetsExpand(t *testing.T) {
	p := load(t, `flush ruleset
table inet t {
	chain c hook input policy drop {
		iifname { "eth0", "wl*" } ip saddr { 192.0.2.1, 192.0.2.8/29, 192.0.2.20-192.0.2.30 } accept
		ip6 saddr 2001:db8::/32 meta l4proto { tcp, udp } th dport { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } accept
		meta l4proto { icmp, icmpv6 } accept
		ct state established,related counter log prefix "in: " level info reject comment "last one"
	}
}
`)
	v4, err := iptables.Render(p, ir.IPv4)
	require.NoError(t, err)
	assert.Equal(t, `*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 192.0.2.1/32 -i eth0 -j ACCEPT
-A INPUT -s 192.0.2.8/29 -i eth0 -j ACCEPT
-A INPUT -i eth0 -m iprange --src-range 192.0.2.20-192.0.2.30 -j ACCEPT
-A INPUT -s 192.0.2.1/32 -i wl+ -j ACCEPT
-A INPUT -s 192.0.2.8/29 -i wl+ -j ACCEPT
-A INPUT -i wl+ -m iprange --src-range 192.0.2.20-192.0.2.30 -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -p ipv6-icmp -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "last one" -j LOG --log-prefix "in: " --log-level 6
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "last one" -j REJECT --reject-with icmp-port-unreachable
COMMIT
`, afterHeader(v4.Text))
	v6, err := iptables.Render(p, ir.IPv6)
	require.NoError(t, err)
	assert.Equal(t, `*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 2001:db8::/32 -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j ACCEPT
-A INPUT -s 2001:db8::/32 -p tcp -m multiport --dports 16 -j ACCEPT
-A INPUT -s 2001:db8::/32 -p udp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j ACCEPT
-A INPUT -s 2001:db8::/32 -p udp -m multiport --dports 16 -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -p ipv6-icmp -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "last one" -j LOG --log-prefix "in: " --log-level 6
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "last one" -j REJECT --reject-with icmp6-port-unreachable
COMMIT
`, afterHeader(v6.Text))
}

// afterHeader drops the two comment lines every output starts with.
func afterHeader(b []byte) string {
	s := string(b)
	for i := 0; i < 2; i++ {
		s = s[strings.IndexByte(s, '\n')+1:]
	}
	return s
}

// A file set becomes one ipset per family, matched by one rule however
// large it is; its ranges become the fewest prefixes that cover them.
func TestFileSetIsAnIPSet(t *testing.T) {
	dir := t.TempDir()
	var list strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&list, "10.%d.%d.%d\n", i>>15, (i>>7)&255, 2*(i&127)) // never adjacent: nothing merges
	}
	list.WriteString("192.0.2.1-192.0.2.9\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.txt"), []byte(list.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big6.txt"), []byte("2001:db8::1-2001:db8::4\n"), 0o644))
	src := "flush ruleset\ndefine BIG = file(\"big.txt\")\ndefine BIG6 = file(\"big6.txt\")\ntable t {\nchain c hook input {\nip saddr $BIG drop\nip6 daddr != $BIG6 accept\n}\n}\n"
	p, ds := lang.Load(filepath.Join(dir, "p.ks"), []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	v4, err := iptables.Render(p, ir.IPv4)
	require.NoError(t, err)
	assert.Contains(t, string(v4.Text), "\n-A INPUT -m set --match-set ksc-BIG-4 src -j DROP\n")
	v6, err := iptables.Render(p, ir.IPv6)
	require.NoError(t, err)
	assert.Contains(t, string(v6.Text), "\n-A INPUT -m set ! --match-set ksc-BIG6-6 dst -j ACCEPT\n")
	sets, err := iptables.RenderIPSets(p)
	require.NoError(t, err)
	text := string(sets)
	assert.Contains(t, text, "create ksc-BIG-4 hash:net family inet maxelem 131072 -exist\nflush ksc-BIG-4\n")
	assert.Contains(t, text, "add ksc-BIG-4 192.0.2.1/32\nadd ksc-BIG-4 192.0.2.2/31\nadd ksc-BIG-4 192.0.2.4/30\nadd ksc-BIG-4 192.0.2.8/31\n")
	assert.Contains(t, text, "create ksc-BIG6-6 hash:net family inet6 maxelem 65536 -exist\nflush ksc-BIG6-6\nadd ksc-BIG6-6 2001:db8::1/128\nadd ksc-BIG6-6 2001:db8::2/127\nadd ksc-BIG6-6 2001:db8::4/128\n")
	assert.Equal(t, 100_004, strings.Count(text, "\nadd ksc-BIG-4 "))
}

// A rule means the AND of its matches on every target: repeats are
// intersected before iptables sees them, negations become "!", and
// source and destination ports share one module as iptables-save lists them.
func TestOneMeaning(t *testing.T) {
	tests := []struct{ name, rule, want string }{
		{"repeated prefixes intersect", `ip daddr 198.51.100.128/25 ip daddr 198.51.100.0/24 accept`,
			`-A OUTPUT -d 198.51.100.128/25 -j ACCEPT`},
		{"repeated protocol sets intersect", `meta l4proto { tcp, udp } meta l4proto { udp, icmp } accept`,
			`-A OUTPUT -p udp -j ACCEPT`},
		{"protocol after its port", `tcp dport 53 meta l4proto { tcp, udp } accept`,
			`-A OUTPUT -p tcp -m tcp --dport 53 -j ACCEPT`},
		{"both ports in one module", `udp sport 68 udp dport 67 accept`,
			`-A OUTPUT -p udp -m udp --sport 68 --dport 67 -j ACCEPT`},
		{"negations", `oifname != "tun*" ip daddr != 192.0.2.0/24 tcp dport != 22 ct state != established drop`,
			`-A OUTPUT ! -d 192.0.2.0/24 ! -o tun+ -p tcp -m tcp ! --dport 22 -m conntrack ! --ctstate ESTABLISHED -j DROP`},
		{"negated range and port set", `ip daddr != 192.0.2.4-192.0.2.6 udp dport != { 53, 123 } drop`,
			`-A OUTPUT -p udp -m iprange ! --dst-range 192.0.2.4-192.0.2.6 -m multiport ! --dports 53,123 -j DROP`},
		{"a negation and a value intersect", `oifname { eth0, wlan0 } oifname != wlan0 accept`,
			`-A OUTPUT -o eth0 -j ACCEPT`},
		{"negations of one field unite", `ip daddr != 192.0.2.1 ip daddr != 192.0.2.2 accept`,
			`-A OUTPUT -m iprange ! --dst-range 192.0.2.1-192.0.2.2 -j ACCEPT`},
		{"ct state sets", `ct state != { established, related } drop`,
			`-A OUTPUT -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := load(t, "flush ruleset\ntable ip t {\nchain c hook output {\n"+tt.rule+"\n}\n}\n")
			o, err := iptables.Render(p, ir.IPv4)
			require.NoError(t, err)
			assert.Equal(t, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"+tt.want+"\nCOMMIT\n", afterHeader(o.Text))
		})
	}
}

// The shell script starts from an empty filter table, so it is only for a
// policy that owns the table; one that lives beside other rules is refused
// there, and goes in ksc's own chains with the iptables target.
func TestScriptNeedsFlushRuleset(t *testing.T) {
	p := load(t, "table t {\nchain c hook input {\naccept\n}\n}\n")
	_, err := iptables.RenderScript(p)
	assert.EqualError(t, err, `t.ks:1:1: the iptables-script target needs "flush ruleset": the script starts from an empty filter table`)
	o, err := iptables.Render(p, ir.IPv4)
	require.NoError(t, err)
	assert.Contains(t, string(o.Text), ":KSC-INPUT - [0:0]\n:KSC-FORWARD - [0:0]\n:KSC-OUTPUT - [0:0]\n-A KSC-INPUT -j RETURN\n-I INPUT 1 -j KSC-INPUT\nCOMMIT\n")
}

// A limit is iptables' limit match on the one iptables rule it gates;
// what would give iptables a different rate, or none it can hold, is
// refused.
func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name, rule, want string
		inet             bool
	}{
		{"a rate-limited log", `limit rate 5/minute log prefix "rate: "`,
			`-A INPUT -m limit --limit 5/min -j LOG --log-prefix "rate: "`, false},
		// nft keeps one rate for both families, iptables and ip6tables one
		// each: a verdict under one rate is refused for both, a log line is
		// written (the log may hold twice the lines).
		{"a rate-limited log for both families", `limit rate 5/minute log prefix "rate: "`,
			`-A INPUT -m limit --limit 5/min -j LOG --log-prefix "rate: "`, true},
		{"a verdict under one rate for both families", `tcp dport 22 limit rate 2/second accept`,
			"t.ks:4:14: the iptables target cannot express limit rate 2/second in a rule for IPv4 and IPv6: nft keeps one rate for both families, iptables and ip6tables one each", true},
		{"a verdict under one rate for one family", `meta nfproto ipv4 tcp dport 22 limit rate 2/second accept`,
			`-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 2/sec -j ACCEPT`, true},
		{"a burst", `tcp dport 22 limit rate 2/second burst 10 packets accept`,
			`-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 2/sec --limit-burst 10 -j ACCEPT`, false},
		{"a log before the limit is not limited", `log limit rate 1/hour drop`,
			"-A INPUT -j LOG\n-A INPUT -m limit --limit 1/hour -j DROP", false},
		{"over", `limit rate over 5/second drop`,
			"t.ks:4:1: the iptables target cannot express limit rate over 5/second: iptables' limit match passes the packets under a rate, never those over it", false},
		{"two rules, two rates", `limit rate 5/minute log drop`,
			"t.ks:4:1: the iptables target cannot express limit rate 5/minute: it would become 2 iptables rules, each with a rate of its own", false},
		{"a set, a rate each", `tcp dport { 22, 2222 } iifname { eth0, eth1 } limit rate 5/minute accept`,
			"t.ks:4:47: the iptables target cannot express limit rate 5/minute: it would become 2 iptables rules, each with a rate of its own", false},
		{"too slow for iptables-legacy", `limit rate 1/day accept`,
			"t.ks:4:1: the iptables target cannot express limit rate 1/day: iptables-legacy's limit overflows at so low a rate with this burst", false},
		{"bytes", `limit rate 1 mbytes/second accept`,
			"t.ks:4:1: the iptables target cannot express limit rate 1 mbytes/second: iptables' limit counts packets (hashlimit's byte mode rounds rates to its own steps)", false},
		{"too fast", `limit rate 20000/second accept`,
			"t.ks:4:1: the iptables target cannot express limit rate 20000/second: iptables' limit goes up to 10000/second", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := "table ip t"
			if tc.inet {
				table = "table inet t"
			}
			p := load(t, "flush ruleset\n"+table+" {\nchain c hook input {\n"+tc.rule+"\n}\n}\n")
			o, err := iptables.Render(p, ir.IPv4)
			if strings.HasPrefix(tc.want, "t.ks:") {
				require.Error(t, err)
				assert.Equal(t, tc.want, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Contains(t, string(o.Text), "\n"+tc.want+"\n")
		})
	}
}

// Marks are set with MARK and CONNMARK; a rule that matches a mark and
// sets it is refused where iptables would check the new mark for the rest.
func TestMarkSet(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{`meta mark set 0x6d6f6c65`, `-A OUTPUT -j MARK --set-xmark 0x6d6f6c65/0xffffffff`},
		{`ct mark set meta mark`, `-A OUTPUT -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff`},
		{`meta mark set ct mark`, `-A OUTPUT -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff`},
		{`oifname wg0 ct mark set 0x1 accept`, "-A OUTPUT -o wg0 -j CONNMARK --set-xmark 0x1/0xffffffff\n-A OUTPUT -o wg0 -j ACCEPT"},
		{`meta mark set meta mark and 0xff00 or 0x1`, `-A OUTPUT -j MARK --set-xmark 0x1/0xffff00ff`},
		{`ct mark set ct mark xor 0x3`, `-A OUTPUT -j CONNMARK --set-xmark 0x3/0x0`},
		{`ct mark set meta mark and 0xffff`, `-A OUTPUT -j CONNMARK --save-mark --nfmask 0xffff --ctmask 0xffffffff`},
		{`meta mark set ct mark and 0xf0`, `-A OUTPUT -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xf0`},
		{`meta mark set ct mark and 0xf0 xor 0x1`,
			"t.ks:4:1: the iptables target cannot express meta mark set ct mark and 0x000000f0 xor 0x00000001: CONNMARK copies a mark's bits under a mask and flips none"},
		{`tcp flags syn tcp option maxseg size set rt mtu`, `-A OUTPUT -p tcp -m tcp --tcp-flags SYN SYN -j TCPMSS --clamp-mss-to-pmtu`},
		{`tcp flags & (syn|rst) == syn tcp option maxseg size set 1400`, `-A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400`},
		{`tcp dport 22 tcp option maxseg size set 1400`,
			"t.ks:4:14: the iptables target cannot express tcp option maxseg size set 1400 in a rule that does not match SYN: iptables' TCPMSS refuses such a rule"},
		{`meta mark 0x1 meta mark set 0x2 accept`,
			"t.ks:4:15: the iptables target cannot express meta mark set 0x00000002 in a rule that matches meta mark and does more: iptables would check the new mark for the rest"},
	} {
		p := load(t, "flush ruleset\ntable t {\nchain c hook output {\n"+tc.rule+"\n}\n}\n")
		o, err := iptables.Render(p, ir.IPv4)
		if strings.HasPrefix(tc.want, "t.ks:") {
			require.Error(t, err, tc.rule)
			assert.Equal(t, tc.want, err.Error())
			continue
		}
		require.NoError(t, err, tc.rule)
		assert.Contains(t, string(o.Text), "\n"+tc.want+"\n", tc.rule)
	}
}

// Beside other firewalls, ksc's accept is a RETURN to the builtin chain;
// from a regular chain it would return to the chain that jumped.
func TestRegularChainsNeedTheWholeTable(t *testing.T) {
	p := load(t, "table t {\nchain c hook input {\njump x\n}\nchain x {\naccept\n}\n}\n")
	_, err := iptables.Render(p, ir.IPv4)
	assert.EqualError(t, err, `t.ks:5:1: the iptables target cannot express regular chain x in a policy without "flush ruleset": such a policy lives in ksc's own chains beside other rules, where an accept is a RETURN to the builtin chain, and from a regular chain it would return to the chain that jumped`)
}

// A regular chain a nat chain jumps to runs in the nat table; ksc writes
// regular chains in the filter table, so it refuses rather than write a
// MASQUERADE there.
func TestRegularChainsOfNATChainsAreRefused(t *testing.T) {
	p := load(t, "flush ruleset\ntable t {\nchain n type nat hook postrouting priority srcnat {\njump ts\n}\nchain ts {\nmeta mark 0x1 masquerade\n}\n}\n")
	_, err := iptables.Render(p, ir.IPv4)
	assert.EqualError(t, err, `t.ks:6:1: the iptables target cannot express regular chain ts, reached from nat chain n: ksc writes regular chains in iptables' filter table, and n is not there`)
}

// A set the rules fill is nft's: iptables' dynamic sets are hashlimit's
// tables, which no rule can look up.
func TestSetsRulesFillAreRefused(t *testing.T) {
	p := load(t, "flush ruleset\ntable t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\ntcp dport 23 add @s { ip saddr }\nip saddr @s drop\n}\n}\n")
	_, err := iptables.Render(p, ir.IPv4)
	assert.EqualError(t, err, "t.ks:5:14: the iptables target cannot express add @s { ip saddr }: ksc writes no ipset that rules fill\n"+
		"t.ks:6:1: the iptables target cannot express ip saddr @s: ksc writes no ipset that rules fill")
}

// A protocol iptables-save would name from /etc/protocols is refused: the
// name depends on the machine, and status could not compare it.
func TestProtocolNumbersIptablesNamesByHost(t *testing.T) {
	p := load(t, "table inet t {\nchain c hook input {\nmeta l4proto 33 accept\n}\n}\n")
	_, err := iptables.Render(p, ir.IPv4)
	assert.EqualError(t, err, "t.ks:3:1: the iptables target cannot express protocol dccp: iptables-save names it from the machine's /etc/protocols")
}

// A nat flag an iptables target does not take is refused by name.
func TestNATFlagsIptablesLacks(t *testing.T) {
	p := load(t, "flush ruleset\ntable ip t {\nchain n type nat hook postrouting priority srcnat {\nmasquerade random,persistent\n}\n}\n")
	_, err := iptables.Render(p, ir.IPv4)
	assert.EqualError(t, err, "t.ks:4:1: the iptables target cannot express masquerade random,persistent: its MASQUERADE target has no persistent")
}

// In ksc's own chains a return ends the chain with its policy, as in nft.
func TestReturnInOwnChains(t *testing.T) {
	p := load(t, "table t {\nchain i hook input policy drop {\ntcp dport 22 return\n}\nchain o hook output {\ntcp dport 22 return\n}\n}\n")
	o, err := iptables.Render(p, ir.IPv4)
	require.NoError(t, err)
	assert.Contains(t, string(o.Text), "-A KSC-INPUT -p tcp -m tcp --dport 22 -j DROP\n")
	assert.Contains(t, string(o.Text), "-A KSC-OUTPUT -p tcp -m tcp --dport 22 -j RETURN\n")
}

// Beside other firewalls ksc keeps its own chains in each table the
// policy writes: every builtin chain of the table gets one, declared so
// that a reload empties it, and those the policy feeds a jump.
func TestOwnChainsInEachTable(t *testing.T) {
	p := load(t, "table ip t {\nchain r hook prerouting priority raw {\nudp dport 9 drop\n}\n"+
		"chain n type nat hook postrouting priority srcnat {\noifname eth0 masquerade\n}\n"+
		"chain m type route hook output priority mangle {\nmeta mark set 0x1\n}\n}\n")
	o, err := iptables.Render(p, ir.IPv4)
	require.NoError(t, err)
	assert.Equal(t, `# Generated by ksc from "t.ks": edit the policy, not this file.
# Load with: iptables-restore --noflush < FILE (replaces ksc's own chains, leaves every other rule;
# ksc apply adds each -I jump only when it is not there yet)
*filter
:KSC-INPUT - [0:0]
:KSC-FORWARD - [0:0]
:KSC-OUTPUT - [0:0]
COMMIT
*nat
:KSC-PREROUTING - [0:0]
:KSC-INPUT - [0:0]
:KSC-OUTPUT - [0:0]
:KSC-POSTROUTING - [0:0]
-A KSC-POSTROUTING -o eth0 -j MASQUERADE
-I POSTROUTING 1 -j KSC-POSTROUTING
COMMIT
*mangle
:KSC-PREROUTING - [0:0]
:KSC-INPUT - [0:0]
:KSC-FORWARD - [0:0]
:KSC-OUTPUT - [0:0]
:KSC-POSTROUTING - [0:0]
-A KSC-OUTPUT -j MARK --set-xmark 0x1/0xffffffff
-I OUTPUT 1 -j KSC-OUTPUT
COMMIT
*raw
:KSC-PREROUTING - [0:0]
:KSC-OUTPUT - [0:0]
-A KSC-PREROUTING -p udp -m udp --dport 9 -j DROP
-I PREROUTING 1 -j KSC-PREROUTING
COMMIT
`, string(o.Text))
}

// A per-key limit is hashlimit, with an expiry no shorter than the bucket
// takes to refill (so that forgetting an idle key changes nothing) and the
// rate as iptables-save writes it back; what hashlimit would keep
// differently is refused.
func TestMeterIsHashlimit(t *testing.T) {
	for _, tc := range []struct{ name, set, rule, want string }{
		{"over, refilled within a unit", "type ipv4_addr; flags dynamic", `tcp dport 22 update @s { ip saddr limit rate over 3/minute burst 2 packets } drop`,
			`-A INPUT -p tcp -m tcp --dport 22 -m hashlimit --hashlimit-above 3/min --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name ksc-s --hashlimit-htable-max 65535 -j DROP`},
		{"under, by destination, a longer refill", "type ipv4_addr; size 100; flags dynamic", `add @s { ip daddr limit rate 1/second burst 30 packets } accept`,
			`-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 30 --hashlimit-mode dstip --hashlimit-name ksc-s --hashlimit-htable-max 100 --hashlimit-htable-expire 30000 -j ACCEPT`},
		{"the rate as iptables-save writes it", "type ipv4_addr; flags dynamic", `add @s { ip saddr limit rate 24/day } accept`,
			`-A INPUT -m hashlimit --hashlimit-upto 1/hour --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name ksc-s --hashlimit-htable-max 65535 --hashlimit-htable-expire 18000000 -j ACCEPT`},
		{"update with a timeout past the refill", "type ipv4_addr; flags dynamic; timeout 2m", `update @s { ip saddr limit rate 1/minute burst 2 packets } accept`,
			`-A INPUT -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name ksc-s --hashlimit-htable-max 65535 --hashlimit-htable-expire 120000 -j ACCEPT`},
		{"add with a timeout", "type ipv4_addr; flags dynamic; timeout 1h", `add @s { ip saddr limit rate 1/minute } accept`,
			"t.ks:4:1: the iptables target cannot express add @s { ip saddr limit rate 1/minute }: set s forgets a key 1h after it is added, even while it is busy; hashlimit forgets only idle keys | write update @s, which restarts the timeout with each packet"},
		{"a timeout shorter than the refill", "type ipv4_addr; flags dynamic; timeout 1m", `update @s { ip saddr limit rate 1/minute } accept`,
			"t.ks:4:1: the iptables target cannot express update @s { ip saddr limit rate 1/minute }: set s forgets an idle key after 1m, before its limit has refilled (5m0s); hashlimit forgets keys only at its next garbage collection | give set s a timeout of at least 5m1s"},
		{"too slow", "type ipv4_addr; flags dynamic", `update @s { ip saddr limit rate 1/day } accept`,
			"t.ks:4:1: the iptables target cannot express update @s { ip saddr limit rate 1/day }: hashlimit cannot keep a rate below one every 71 minutes | use a rate of at least 1/hour, or the nft target"},
		{"a limit that gates two rules", "type ipv4_addr; flags dynamic", `update @s { ip saddr limit rate 1/second } log drop`,
			"t.ks:4:1: the iptables target cannot express update @s { ip saddr limit rate 1/second }: each packet would go through 2 iptables rules, and take a token of its key's bucket in each | use the nft target, which keeps one rate for the whole rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, "flush ruleset\ntable t {\nset s { "+tc.set+" }; chain c hook input {\n"+tc.rule+"\n}\n}\n")
			o, err := iptables.Render(p, ir.IPv4)
			if strings.HasPrefix(tc.want, "t.ks:") {
				require.Error(t, err)
				var ds ir.Diagnostics
				require.ErrorAs(t, err, &ds)
				require.Len(t, ds, 1)
				assert.Equal(t, tc.want, ds[0].Error()+" | "+ds[0].Hint)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, string(o.Text), tc.want+"\n")
		})
	}
}

// Each nat hook is one of the nat table's chains, at the priority iptables
// runs it at; a second chain on a hook, or another priority, is refused.
func TestNATChainsByHook(t *testing.T) {
	for _, tc := range []struct{ name, chains, want string }{
		{"dnat, redirect and masquerade",
			"chain a type nat hook prerouting priority dstnat {\ntcp dport 80 dnat to 192.0.2.10:8080\nudp dport 53 redirect to :5353\n}\nchain b type nat hook output priority -100 {\ntcp dport 25 redirect\n}\nchain c type nat hook postrouting priority srcnat {\nmasquerade\n}",
			"-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.10:8080\n-A PREROUTING -p udp -m udp --dport 53 -j REDIRECT --to-ports 5353\n-A OUTPUT -p tcp -m tcp --dport 25 -j REDIRECT\n-A POSTROUTING -j MASQUERADE\n"},
		{"another priority",
			"chain a type nat hook prerouting priority -90 {\ntcp dport 80 dnat to 192.0.2.10\n}",
			"t.ks:3:1: the iptables target cannot express nat chain a at hook prerouting priority -90: iptables' tables run their chains there at dstnat (-100, table nat) only"},
		{"two chains on one hook",
			"chain a type nat hook output priority -100 {\ntcp dport 80 dnat to 192.0.2.10\n}\nchain b type nat hook output priority -100 {\ntcp dport 81 dnat to 192.0.2.10\n}",
			"t.ks:6:1: chain b and chain a at t.ks:3:1 both hook output at priority -100: iptables has one OUTPUT chain in its nat table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, "flush ruleset\ntable ip t {\n"+tc.chains+"\n}\n")
			o, err := iptables.Render(p, ir.IPv4)
			if strings.HasPrefix(tc.want, "t.ks:") {
				assert.EqualError(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, string(o.Text), ":POSTROUTING ACCEPT [0:0]\n"+tc.want+"COMMIT\n")
		})
	}
}

// A route chain is the mangle table's OUTPUT chain, at mangle; what the
// mangle table cannot hold is refused.
func TestRouteChainIsMangleOutput(t *testing.T) {
	for _, tc := range []struct{ name, chain, want string }{
		{"another priority", "chain r type route hook output priority filter {\nmeta mark set 0x1\n}",
			"t.ks:3:1: the iptables target cannot express route chain r at hook output priority 0: iptables' tables run their chains there at mangle (-150, table mangle) only"},
		{"a reject", "chain r type route hook output priority mangle {\ntcp dport 25 reject\n}",
			"t.ks:4:1: the iptables target cannot express reject in chain r: it is iptables' mangle OUTPUT chain, and REJECT works in the filter table only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iptables.Render(load(t, "flush ruleset\ntable ip t {\n"+tc.chain+"\n}\n"), ir.IPv4)
			assert.EqualError(t, err, tc.want)
		})
	}
}

// Sets of one name in two tables would be one ipset: refused, not merged.
func TestSetsOfOneNameClash(t *testing.T) {
	p := load(t, "flush ruleset\ntable inet a {\nset S { type ipv4_addr; flags interval; elements = { 192.0.2.1 } }\nchain c hook output { ip daddr @S accept }\n}\n"+
		"table inet b {\nset S { type ipv4_addr; flags interval; elements = { 192.0.2.2 } }\nchain c hook input { ip saddr @S accept }\n}\n")
	_, err := iptables.Render(p, ir.IPv4)
	assert.EqualError(t, err, "t.ks:8:22: the iptables target cannot hold this set and the one at t.ks:4:23 as ipset ksc-S-4: they are two sets of one name")
}
