package lint_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/lint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// in wraps rules into an output chain with a drop policy; rules start on line 3.
func in(hook, rules string) string {
	return "table inet t {\nchain c hook " + hook + " policy drop {\n" + rules + "\n}\n}\n"
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"shadowed by a wider address set",
			in("output", "oifname eth0 ip daddr 192.0.2.0/24 accept\noifname eth0 ip daddr { 192.0.2.5, 192.0.2.9 } tcp dport 22 accept\nct state established,related accept"),
			[]string{"t.ks:4:1: warning: this rule never sees a packet: the rule at t.ks:3:1 accepts every packet it would match | move it above that rule, or delete it"}},
		{"shadowed by a wildcard interface and a port range",
			in("output", "oifname \"wl*\" tcp dport 1000-2000 drop\noifname wlan0 meta l4proto tcp tcp dport 1500 accept"),
			[]string{"t.ks:4:1: warning: this rule never sees a packet: the rule at t.ks:3:1 drops every packet it would match | move it above that rule, or delete it"}},
		{"after a catch-all",
			in("output", "counter drop\noifname tun0 accept"),
			[]string{"t.ks:4:1: warning: this rule never sees a packet: the rule at t.ks:3:1 drops every packet | rules after a catch-all verdict are dead; move this rule above it"}},
		{"not shadowed: the earlier rule is narrower",
			in("output", "oifname eth0 ip daddr 192.0.2.1 accept\noifname eth0 ip daddr 192.0.2.0/24 drop"), nil},
		{"not shadowed: the earlier verdict is rate-limited",
			in("output", "oifname tun0 limit rate 10/second accept\noifname tun0 accept"), nil},
		{"not shadowed: the earlier rule has no verdict",
			in("output", "counter log prefix \"x: \"\noifname tun0 accept"), nil},
		{"not shadowed: different families",
			in("output", "ip daddr 192.0.2.0/24 accept\nip6 daddr 2001:db8::/32 accept"), nil},
		{"after a goto",
			in("output", "oifname eth0 goto uplink\noifname eth0 tcp dport 443 accept\n}\nchain uplink {\naccept"),
			[]string{"t.ks:4:1: warning: this rule never sees a packet: the rule at t.ks:3:1 sends to chain uplink every packet it would match | move it above that rule, or delete it"}},
		{"after a return",
			in("output", "return\noifname tun0 accept"),
			[]string{"t.ks:4:1: warning: this rule never sees a packet: the rule at t.ks:3:1 returns every packet | rules after a catch-all verdict are dead; move this rule above it"}},
		{"not shadowed: a jump comes back",
			in("output", "oifname eth0 jump uplink\noifname eth0 tcp dport 443 accept\n}\nchain uplink {\ntcp dport 80 accept"), nil},
		{"not shadowed: the mark changed since",
			in("output", "meta mark 0x1 drop\nmeta mark set 0x1\nmeta mark 0x1 accept"), nil},
		{"not shadowed: the code point changed since",
			in("output", "ip dscp cs1 drop\nip dscp set cs1\nip dscp cs1 accept"), nil},
		{"not shadowed: a chain jumped to changes the mark",
			in("output", "meta mark 0x1 drop\njump m\nmeta mark 0x1 accept\n}\nchain m {\nmeta mark set 0x1"), nil},
		{"shadowed: the mark changed before the earlier rule",
			in("output", "meta mark set 0x1\nmeta mark 0x1 drop\nmeta mark 0x1 tcp dport 22 accept"),
			[]string{"t.ks:5:1: warning: this rule never sees a packet: the rule at t.ks:4:1 drops every packet it would match | move it above that rule, or delete it"}},
		{"shadowed: another field changed",
			in("output", "oifname eth0 drop\nct mark set 0x1\noifname eth0 tcp dport 22 accept"),
			[]string{"t.ks:5:1: warning: this rule never sees a packet: the rule at t.ks:3:1 drops every packet it would match | move it above that rule, or delete it"}},
		{"taken by two rules between them",
			in("input", "tcp dport 1-100 accept\ntcp dport 101-200 accept\ntcp dport 50-150 drop\nct state established,related accept"),
			[]string{"t.ks:5:1: warning: this rule never sees a packet: the rules at t.ks:3:1 (accept) and t.ks:4:1 (accept) between them take every packet it would match | move it above them, or delete it"}},
		{"taken by both families' rules",
			in("input", "ct state established,related accept\nip saddr 0.0.0.0/0 drop\nip6 saddr ::/0 drop\ntcp dport 22 accept"),
			[]string{"t.ks:6:1: warning: this rule never sees a packet: the rules at t.ks:3:1 (accept), t.ks:4:1 (drop) and t.ks:5:1 (drop) between them take every packet it would match | move it above them, or delete it"}},
		{"not taken: a port between the two",
			in("input", "tcp dport 1-100 accept\ntcp dport 102-200 accept\ntcp dport 50-150 drop\nct state established,related accept"), nil},
		{"not taken: udp is left",
			in("input", "tcp dport 1-100 accept\ntcp dport 101-200 accept\nmeta l4proto { tcp, udp } th dport 50-150 drop\nct state established,related accept"), nil},
		{"not taken: the owner of what the kernel sends",
			in("output", "meta skuid 0 accept\nmeta skuid != 0 accept\noifname eth0 drop"), nil},
		{"not taken: the mark changed between",
			in("input", "meta mark 0x1 accept\nmeta mark set 0x1\nmeta mark != 0x1 accept\nct state established,related accept\ntcp dport 22 drop"), nil},
		{"a rule the later ones decide alike",
			in("input", "ct state established,related accept\ntcp dport 22 accept\ntcp dport 1-1024 accept"),
			[]string{"t.ks:4:1: warning: this rule changes no verdict: without it, the rule at t.ks:5:1 would accept every packet it takes | delete it, or give it a decision of its own"}},
		{"a rule two later ones decide alike",
			in("input", "ct state established,related accept\ntcp dport 50-150 drop\ntcp dport 1-100 drop\ntcp dport 101-200 drop"),
			[]string{"t.ks:4:1: warning: this rule changes no verdict: without it, the rules at t.ks:5:1 and t.ks:6:1 would drop every packet it takes | delete it, or give it a decision of its own"}},
		{"a line of several rules, one of which the later ones decide alike",
			in("input", "ct state established,related accept\nip saddr . tcp dport { 192.0.2.1 . 22, 192.0.2.2 . 443 } accept\ntcp dport 22 accept"), nil},
		{"a line of several rules, every one of which the later ones decide alike",
			in("input", "ct state established,related accept\nip saddr . tcp dport { 192.0.2.1 . 22, 192.0.2.2 . 22 } accept\ntcp dport 22 accept"),
			[]string{"t.ks:4:1: warning: this rule changes no verdict: without it, the rule at t.ks:5:1 would accept every packet it takes | delete it, or give it a decision of its own"}},
		{"a line of several rules, one of which never sees a packet",
			in("input", "ct state established,related accept\ntcp dport 22 accept\nip saddr . tcp dport { 192.0.2.1 . 22, 192.0.2.2 . 443 } drop"), nil},
		{"decided otherwise later",
			in("input", "ct state established,related accept\ntcp dport 22 accept\ntcp dport 1-1024 drop"), nil},
		{"the policy said again, on purpose",
			in("input", "ct state invalid drop\nct state established,related accept\ntcp dport 22 accept"), nil},
		{"partly left to the policy",
			in("input", "ct state established,related accept\ntcp dport 20-30 accept\ntcp dport 1-25 accept"), nil},
		{"a later rule that logs",
			in("input", "ct state established,related accept\ntcp dport 22 accept\nlog\ntcp dport 1-1024 accept"), nil},
		{"a later rule that jumps",
			in("input", "ct state established,related accept\ntcp dport 22 accept\ntcp dport 1-1024 jump x\ntcp dport 1-1024 accept\n}\nchain x {\ntcp dport 22 drop"), nil},
		{"a chain nothing jumps to",
			in("output", "oifname tun0 accept\n}\nchain spare {\naccept"),
			[]string{"t.ks:5:1: warning: chain spare is never jumped to: its rules see no packet | jump or goto it from a rule of a base chain, or delete it"}},
		{"a set nothing fills",
			"table inet t {\nset spare { type ipv4_addr; flags dynamic }\nset used { type ipv4_addr; flags dynamic }\nchain c hook output {\nupdate @used { ip daddr limit rate 1/second } accept\n}\n}\n",
			[]string{"t.ks:2:1: warning: set spare is never filled: no rule adds to it | key a limit by it (update @spare { ip saddr limit rate ... }), add keys to it (add @spare { ip saddr }), or delete it"}},
		{"a set rules fill and none looks up",
			"table inet t {\nset seen { type ipv4_addr; flags dynamic }\nset knocked { type ipv4_addr; flags dynamic }\nchain c hook input {\nip saddr @knocked drop\ntcp dport 23 add @knocked { ip saddr }\nadd @seen { ip saddr }\n}\n}\n",
			[]string{"t.ks:2:1: warning: set seen is filled but never looked up: no rule matches @seen | match it (ip saddr @seen drop), or delete it and the rules that add to it"}},
		{"a set nothing looks up",
			"table inet t {\nset spare { type ipv4_addr; flags interval }\nchain c hook output {\naccept\n}\n}\n",
			[]string{"t.ks:2:1: warning: set spare is never looked up: no rule matches @spare | match it (ip daddr @spare accept), or delete it"}},
		{"not shadowed: a set may change at runtime",
			"table inet t {\nset S { type ipv4_addr; flags interval; elements = { 192.0.2.0/24 } }\nchain c hook output {\nip daddr @S drop\nip daddr 192.0.2.1 accept\n}\n}\n", nil},
		{"a limit that leaves a later one nothing",
			in("input", "tcp dport 22 limit rate over 10/minute drop\ntcp dport 22 ct state new limit rate over 1/second burst 8 packets drop\ntcp dport 22 limit rate over 5/minute drop\nct state established,related accept"),
			[]string{"t.ks:4:1: warning: this rule never sees a packet: the rule at t.ks:3:1 drops what it matches over 10/minute, and what is left never goes over 1/second | give it a lower rate (or smaller burst) than that rule's, or delete it"}},
		{"replies accepted in a chain jumped to",
			in("input", "jump common\n}\nchain common {\nct state established,related accept\niifname lo accept"), nil},
		{"replies accepted by a verdict map, a rule a state",
			in("input", "ct state vmap { established : accept, related : accept, invalid : drop }\niifname lo accept"), nil},
		{"replies half accepted",
			in("input", "ct state established accept\niifname lo accept"),
			[]string{"t.ks:2:1: warning: input chain c drops by default and never accepts ct state established,related | replies to your own connections will be dropped: add \"ct state related,established accept\""}},
		{"replies of some flows only, by choice",
			in("input", "ip saddr 203.0.113.1 udp sport 51820 ct state established accept\niifname wg0 accept"), nil},
		{"input chain without replies",
			in("input", "iifname lo accept"),
			[]string{"t.ks:2:1: warning: input chain c drops by default and never accepts ct state established,related | replies to your own connections will be dropped: add \"ct state related,established accept\""}},
		{"output chain that accepts everything on the physical interface",
			in("output", "oifname \"lo\" accept\noifname tun0 accept\noifname eth0 counter accept"),
			[]string{"t.ks:5:1: warning: this rule accepts everything leaving \"eth0\": a kill switch that kills nothing | limit it to the VPN servers (oifname ... ip daddr $VPN_SERVERS accept), or accept only the tunnel interface"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ds := lang.Load("t.ks", []byte(tt.src), lang.Config{})
			require.False(t, ds.HasErrors(), "%v", ds)
			var got []string
			for _, d := range lint.Check(p) {
				got = append(got, d.Error()+" | "+d.Hint)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// The bundled examples are what users copy: they must lint clean.
func TestExamplesLintClean(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(golden.Root(t), "examples", "*.ks"))
	require.NoError(t, err)
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		p, ds := lang.Load(f, src, lang.Config{})
		require.False(t, ds.HasErrors(), "%v", ds)
		assert.Empty(t, render(lint.Check(p)), f)
	}
}

func render(ds ir.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Error())
	}
	return out
}

func TestBlocksNewSSH(t *testing.T) {
	tests := []struct {
		name, src string
		blocks    bool
	}{
		{"the kill switch", in("input", "iifname lo accept\nct state established,related accept"), true},
		{"ssh allowed", in("input", "iifname eth0 tcp dport 22 accept"), false},
		{"ssh in a port range", in("input", "meta l4proto tcp th dport 1-1024 accept"), false},
		{"only udp", in("input", "udp dport 22 accept"), true},
		{"accept policy", "table t {\nchain c hook input policy accept {\n}\n}\n", false},
	}
	for _, tt := range tests {
		p, ds := lang.Load("t.ks", []byte(tt.src), lang.Config{})
		require.False(t, ds.HasErrors(), "%v", ds)
		_, blocks := lint.BlocksNewSSH(p)
		assert.Equal(t, tt.blocks, blocks, tt.name)
	}
}

// Containment in both directions, for every field: the wider rule first
// shadows the narrower one, the narrower first shadows nothing.
func TestShadowingEachFieldBothWays(t *testing.T) {
	tests := []struct{ field, wide, narrow string }{
		{"oifname", `oifname "eth*"`, `oifname "eth0"`},
		{"oifname negated", `oifname != "tun0"`, `oifname "eth0"`},
		{"ip daddr", `ip daddr 192.0.2.0/24`, `ip daddr 192.0.2.128/25`},
		{"ip daddr negated", `ip daddr != 198.51.100.0/24`, `ip daddr 192.0.2.0/24`},
		{"ip saddr range", `ip saddr 192.0.2.1-192.0.2.9`, `ip saddr { 192.0.2.2, 192.0.2.8 }`},
		{"ip6 daddr", `ip6 daddr 2001:db8::/32`, `ip6 daddr 2001:db8:1::/48`},
		{"meta l4proto", `meta l4proto { tcp, udp }`, `meta l4proto udp`},
		{"meta l4proto negated", `meta l4proto != icmp`, `meta l4proto tcp`},
		{"tcp dport", `tcp dport 1-1024`, `tcp dport { 22, 80 }`},
		{"th sport", `meta l4proto { tcp, udp } th sport 1000-2000`, `udp sport 1500`},
		{"tcp dport negated", `tcp dport != 22`, `tcp dport 80`},
		{"ct state", `ct state established,related`, `ct state established`},
		{"ct state negated", `ct state != new`, `ct state related`},
	}
	load := func(t *testing.T, rules string) ir.Diagnostics {
		p, ds := lang.Load("t.ks", []byte(in("output", rules+"\nct state established,related accept")), lang.Config{})
		require.False(t, ds.HasErrors(), "%v", ds)
		var shadowed ir.Diagnostics
		for _, d := range lint.Check(p) {
			if d.Pos.Line == 4 && strings.Contains(d.Message, "never sees a packet") {
				shadowed = append(shadowed, d)
			}
		}
		return shadowed
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			assert.Len(t, load(t, tt.wide+" drop\n"+tt.narrow+" accept"), 1, "the wider rule first must shadow the narrower")
			assert.Empty(t, load(t, tt.narrow+" drop\n"+tt.wide+" accept"), "the narrower rule first shadows nothing")
		})
	}
}
