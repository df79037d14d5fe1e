package lang_test

import (
	"fmt"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A mark map means one rule a key, each setting its key's mark, with the
// rest of the rule after it.
func TestMarkMapIsOneRuleAKey(t *testing.T) {
	for _, tc := range []struct{ markMap, rules string }{
		{"meta mark set tcp dport map { 22 : 0x1, 443 : 0x2 } accept",
			"tcp dport 22 meta mark set 0x1 accept\ntcp dport 443 meta mark set 0x2 accept"},
		{`oifname "eth0" ct mark set ip daddr . tcp dport map { 198.51.100.1 . 22 : 0x7, 198.51.100.2 . 22 : 0x8 } counter`,
			"oifname \"eth0\" ip daddr 198.51.100.1 tcp dport 22 ct mark set 0x7 counter\noifname \"eth0\" ip daddr 198.51.100.2 tcp dport 22 ct mark set 0x8 counter"},
	} {
		assert.Equal(t, outputRules(t, tc.rules), outputRules(t, tc.markMap), tc.markMap)
	}
}

// What a mark map cannot mean is refused where it is written.
func TestMarkMapErrors(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"meta mark set meta mark map { 0x1 : 0x2 }", "t.ks:3:1: meta mark set from a map on meta mark: the rule of the next key would read the new value"},
		{"ct mark set 0x5 meta mark set tcp dport map { 22 : 0x1 }", "t.ks:3:17: a statement before a mark map would act on packets no key matches"},
		{"meta mark set tcp dport map { 20-30 : 0x1, 25 : 0x2 }", "t.ks:3:44: this key of the mark map overlaps the one at t.ks:3:31"},
		{"meta mark set tcp dport map { 22 0x1 }", "t.ks:3:31: each element of a mark map is KEY : MARK, with spaces around the ':'"},
	} {
		src := "table inet t {\nchain c hook output {\n" + tc.rule + "\n}\n}\n"
		_, ds := lang.Load("t.ks", []byte(src), lang.Config{})
		require.True(t, ds.HasErrors(), tc.rule)
		assert.Equal(t, tc.want, ds[0].Error(), tc.rule)
	}
}

func outputRules(t *testing.T, rules string) []string {
	t.Helper()
	p, ds := lang.Load("t.ks", []byte("table inet t {\nchain c hook output {\n"+rules+"\n}\n}\n"), lang.Config{})
	require.False(t, ds.HasErrors(), "%s: %v", rules, ds)
	var out []string
	for _, r := range p.Tables[0].Chains[0].Rules {
		text := describe(r)
		for _, s := range r.Statements {
			if m, ok := s.(*ir.MarkSet); ok {
				text += " " + m.Text()
			} else {
				text += fmt.Sprintf(" %T", s)
			}
		}
		out = append(out, text)
	}
	return out
}
