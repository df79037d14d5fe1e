package lang_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A verdict map means one rule a key, in the map's order: the rule's own
// matches, the key, the key's verdict.
func TestVerdictMapIsOneRuleAKey(t *testing.T) {
	for _, tc := range []struct{ vmap, rules string }{
		{"ct state vmap { established : accept, related : accept, invalid : drop }",
			"ct state established accept\nct state related accept\nct state invalid drop"},
		{"meta l4proto vmap { tcp : jump T, udp : goto U }",
			"meta l4proto tcp jump T\nmeta l4proto udp goto U"},
		{`iifname "eth0" tcp dport vmap { 22 : accept, 80-90 : drop, $WEB : return }`,
			"iifname \"eth0\" tcp dport 22 accept\niifname \"eth0\" tcp dport 80-90 drop\niifname \"eth0\" tcp dport 443 return"},
		{"meta mark vmap {\n0x1 : goto T\n0x2 : accept\n}",
			"meta mark 0x1 goto T\nmeta mark 0x2 accept"},
		// continue goes on to the next rule, as a packet of no key does.
		{"ip6 flowlabel vmap { 0 : accept, 2 : continue, 3 : drop }",
			"ip6 flowlabel 0 accept\nip6 flowlabel 3 drop"},
		// nft reads a key and its verdict glued, where the verdict is a word.
		{"tcp dport vmap { 25:accept, 28:drop }",
			"tcp dport 25 accept\ntcp dport 28 drop"},
		{"ip saddr vmap { 192.0.2.0/25 : drop, 192.0.2.128/25 : accept } comment \"halves\"",
			"ip saddr 192.0.2.0/25 drop comment \"halves\"\nip saddr 192.0.2.128/25 accept comment \"halves\""},
	} {
		assert.Equal(t, inputRules(t, tc.rules), inputRules(t, tc.vmap), tc.vmap)
	}
}

// A verdict map of continues only is no rule at all, and says so.
func TestVerdictMapOfContinuesIsNoRule(t *testing.T) {
	src := "table inet t {\nchain c hook input {\ntcp dport vmap { 22 : continue }\ncounter\n}\n}\n"
	p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	require.Len(t, ds, 1)
	assert.Equal(t, "t.ks:3:11: warning: every key of this verdict map continues: the rule does nothing", ds[0].Error())
	require.Len(t, p.Tables[0].Chains[0].Rules, 1, "the counter alone")
	assert.Empty(t, p.Tables[0].Chains[0].Rules[0].Matches)
}

// A concatenation means one rule a tuple, each with a match of every
// selector, in a set and in a verdict map alike.
func TestConcatenationIsOneRuleATuple(t *testing.T) {
	for _, tc := range []struct{ concat, rules string }{
		{"ip daddr . tcp dport { 198.51.100.1 . 22, 198.51.100.2 . 443 } accept",
			"ip daddr 198.51.100.1 tcp dport 22 accept\nip daddr 198.51.100.2 tcp dport 443 accept"},
		{"ip daddr . tcp dport 198.51.100.1 . 22 counter drop",
			"ip daddr 198.51.100.1 tcp dport 22 counter drop"},
		{"ip protocol . th dport vmap { tcp . 22 : accept, udp . 53 : accept, tcp . 53 : drop }",
			"ip protocol tcp th dport 22 accept\nip protocol udp th dport 53 accept\nip protocol tcp th dport 53 drop"},
		{"iifname . ip saddr . udp dport { eth0 . 192.0.2.0/24 . 53, \"wg*\" . 198.51.100.0/24 . $WEB } jump T",
			"iifname eth0 ip saddr 192.0.2.0/24 udp dport 53 jump T\niifname \"wg*\" ip saddr 198.51.100.0/24 udp dport 443 jump T"},
	} {
		assert.Equal(t, inputRules(t, tc.rules), inputRules(t, tc.concat), tc.concat)
	}
}

// A named set of anything but addresses, a set of a concatenation and a
// map mean their elements written in the rule.
func TestConstantSetsAreTheirElements(t *testing.T) {
	for _, tc := range []struct{ named, rules string }{
		{"tcp dport @ports accept", "tcp dport { 22, 80-90, 443 } accept"},
		{"tcp dport != @ports drop", "tcp dport != { 22, 80-90, 443 } drop"},
		{"ip daddr . tcp dport @pairs accept", "ip daddr . tcp dport { 198.51.100.1 . 22, 198.51.100.2 . 443 } accept"},
		{"ip daddr . tcp dport @typed_pairs accept", "ip daddr . tcp dport { 198.51.100.1 . 22, 198.51.100.2 . 443 } accept"},
		{"meta l4proto vmap @protos", "meta l4proto vmap { tcp : jump T, udp : goto U }"},
		{"ip protocol . th dport vmap @services", "ip protocol . th dport vmap { tcp . 22 : accept, udp . 53 : accept }"},
		{"iifname @lans accept", `iifname { "eth1", "wg*" } accept`},
		{"ct state vmap @states", "ct state vmap { established : accept, invalid : drop }"},
	} {
		assert.Equal(t, inputRules(t, tc.rules), inputRules(t, tc.named), tc.named)
	}
}

// inputRules are the rules of an input chain, with $WEB and chains T and
// U to jump to, each described with its statements and target.
func inputRules(t *testing.T, rules string) []string {
	t.Helper()
	src := "define WEB = 443\ndefine STATES = { established : accept, invalid : drop }\ntable inet t {\n" + constantSets + "chain c hook input {\n" + rules + "\n}\nchain T {\n}\nchain U {\n}\n}\n"
	p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%s: %v", rules, ds)
	var out []string
	for _, r := range p.Tables[0].Chains[0].Rules {
		var statements []string
		for _, s := range r.Statements {
			statements = append(statements, fmt.Sprintf("%T", s))
		}
		text := describe(r) + " " + strings.Join(statements, ",")
		if r.Target != nil {
			text += " to " + r.Target.Name
		}
		out = append(out, text)
	}
	return out
}

// describe is a rule's matches, verdict and comment, as the IR holds them.
func describe(r *ir.Rule) string {
	var words []string
	for _, m := range r.Matches {
		words = append(words, m.Text())
	}
	return strings.Join(append(words, r.VerdictText(), r.Comment), " ")
}

// constantSets are the named sets and maps inputRules' rules may use, in
// the forms nft writes them.
const constantSets = `set ports {
	type inet_service; flags interval; auto-merge
	elements = { 22, 80-90, $WEB }
}
set pairs { typeof ip daddr . tcp dport; elements = { 198.51.100.1 . 22, 198.51.100.2 . 443 } }
set typed_pairs { type ipv4_addr . inet_service; elements = { 198.51.100.1 . 22, 198.51.100.2 . 443 } }
set lans { type ifname; elements = { "eth1", "wg*" } }
map protos { type inet_proto : verdict; elements = { tcp : jump T, udp : goto U } }
map services { typeof ip protocol . th dport : verdict; elements = { tcp . 22 : accept, udp . 53 : accept } }
map states { type ct_state : verdict; elements = $STATES }
`
