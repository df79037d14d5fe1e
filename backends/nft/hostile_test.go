package nft_test

import (
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
)

// hostile are values an attacker (or a careless script) might pass through
// -D or write into a policy, hoping to end a string or a statement.
var hostile = []string{
	`eth0"; flush ruleset; "`, `eth0; add rule inet t c accept`, "eth0\naccept", `eth0 }`, `{ eth0 }; drop`,
	`"eth0\"`, "`reboot`", `$(reboot)`, `eth0\`, "eth\x00", "éth0", `"a" "b"`, `a#b`, strings.Repeat("e", 16),
}

const hostilePolicy = `define DEV = eth0
table inet t {
	chain c hook output policy drop {
		oifname $DEV counter accept
		log prefix "drop: " drop
	}
}
`

// Each hostile value is either refused with an error, or compiles to exactly
// the two rules the policy has, with the value inside one quoted name.
func TestHostileValuesAreRefusedOrContained(t *testing.T) {
	for _, v := range hostile {
		p, ds := lang.Load("h.ks", []byte(hostilePolicy), lang.Config{Defines: []lang.Override{{Name: "DEV", Value: v}}})
		if p == nil {
			assert.True(t, ds.HasErrors(), "%q: no policy and no error", v)
			continue
		}
		out := string(nft.Render(p))
		rules := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "\t\t") && !strings.HasPrefix(line, "\t\ttype ") {
				rules++
			}
		}
		assert.Equal(t, 2, rules, "%q smuggled rules into:\n%s", v, out)
		assert.Equal(t, 1, strings.Count(out, "oifname "), "%q:\n%s", v, out)
	}
}

func TestHostileLogPrefixesAreRefused(t *testing.T) {
	for _, prefix := range []string{`a\"; accept; \"`, "a\\", strings.Repeat("p", 128)} {
		src := strings.Replace(hostilePolicy, `"drop: "`, `"`+prefix+`"`, 1)
		p, ds := lang.Load("h.ks", []byte(src), lang.Config{})
		assert.Nil(t, p, "prefix %q", prefix)
		assert.True(t, ds.HasErrors(), "prefix %q", prefix)
	}
}
