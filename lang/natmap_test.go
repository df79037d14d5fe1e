package lang_test

import (
	"testing"

	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A nat map means one rule a key, in the map's order: the rule's own
// matches, the key, the rewrite to the key's address, and the flags after
// the map on each.
func TestNATMapIsOneRuleAKey(t *testing.T) {
	for _, tc := range []struct{ hook, natMap, rules string }{
		{"prerouting", `iifname "eth0" dnat to tcp dport map { 8080 : 192.0.2.10:80, 2222 : $HOST:22 }`,
			"iifname \"eth0\" tcp dport 8080 dnat to 192.0.2.10:80\niifname \"eth0\" tcp dport 2222 dnat to 192.0.2.11:22"},
		{"prerouting", "dnat to ip daddr . tcp dport map { 198.51.100.1 . 25 : 192.0.2.12, 198.51.100.2 . 25 : 192.0.2.13 } persistent",
			"ip daddr 198.51.100.1 tcp dport 25 dnat to 192.0.2.12 persistent\nip daddr 198.51.100.2 tcp dport 25 dnat to 192.0.2.13 persistent"},
		{"postrouting", "snat to ip saddr map { 192.0.2.0/26 : 198.51.100.1, 192.0.2.64/26 : 198.51.100.2 } comment \"by half\"",
			"ip saddr 192.0.2.0/26 snat to 198.51.100.1 comment \"by half\"\nip saddr 192.0.2.64/26 snat to 198.51.100.2 comment \"by half\""},
	} {
		assert.Equal(t, natRules(t, tc.hook, tc.rules), natRules(t, tc.hook, tc.natMap), tc.natMap)
	}
}

func natRules(t *testing.T, hook, rules string) []string {
	t.Helper()
	priority := map[string]string{"prerouting": "dstnat", "postrouting": "srcnat"}[hook]
	src := "define HOST = 192.0.2.11\ntable ip t {\nchain c type nat hook " + hook + " priority " + priority + " {\n" + rules + "\n}\n}\n"
	p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%s: %v", rules, ds)
	var out []string
	for _, r := range p.Tables[0].Chains[0].Rules {
		out = append(out, describe(r))
	}
	return out
}

// What a nat map cannot mean is refused at the element.
func TestNATMapErrors(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"dnat to tcp dport map { 80-90 : 192.0.2.10, 85 : 192.0.2.11 }", "t.ks:3:45: this key of the nat map overlaps the one at t.ks:3:25"},
		{"dnat to tcp dport map { 80 192.0.2.10 }", "t.ks:3:25: each element of a nat map is KEY : ADDRESS, with spaces around the ':'"},
		{"dnat to tcp dport map { }", "t.ks:3:23: an empty nat map rewrites nothing"},
		{"dnat to tcp dport map @forwards", "t.ks:3:23: this table declares no map forwards"},
		{"dnat to tcp dport map { 80 : 192.0.2.0/24 }", "t.ks:3:30: dnat to needs an address or a range of them, found a prefix (192.0.2.0/24)"},
	} {
		src := "table ip t {\nchain c type nat hook prerouting priority dstnat {\n" + tc.rule + "\n}\n}\n"
		_, ds := lang.Load("t.ks", []byte(src), lang.Config{})
		require.True(t, ds.HasErrors(), tc.rule)
		assert.Equal(t, tc.want, ds[0].Error(), tc.rule)
	}
}
