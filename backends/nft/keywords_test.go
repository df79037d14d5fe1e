package nft

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
)

// nft itself refuses every listed keyword as a table, chain and set name,
// and takes ordinary names, so that the list is neither short of what this
// nft refuses nor wider.
func TestKeywordsAreRefusedByNft(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "kw")
	check := func(name string, set bool) bool {
		src := fmt.Sprintf("table inet %s {\n\tchain %s {\n\t\tjump %s\n\t}\n\tchain %s {\n\t}\n}\n", name, "c", name, name)
		if set {
			src = fmt.Sprintf("table inet t {\n\tset %s {\n\t\ttype ipv4_addr\n\t}\n\tchain c {\n\t\tip saddr @%s accept\n\t}\n}\n", name, name)
		}
		_, err := ns.ExecInput(src, "nft", "-c", "-f", "-")
		return err == nil
	}
	for _, name := range keywords {
		assert.False(t, check(name, false), "nft takes %q as a table and chain name: take it out of keywords", name)
	}
	for _, name := range setKeywords {
		assert.False(t, check(name, true), "nft takes %q as a set name: take it out of setKeywords", name)
	}
	for _, name := range []string{"input", "output", "forward", "filter", "killswitch", "INPUT", "NAT", "FWD", "postrouting", "lan_in", "vpn-gateway"} {
		assert.True(t, check(name, false), "nft refuses %q", name)
		assert.True(t, check(strings.ToUpper(name), true), "nft refuses set %q", name)
		assert.False(t, isKeyword(name, true))
	}
}

func TestKeywordNamesAreRefused(t *testing.T) {
	p, ds := lang.Load("t.ks", []byte("table inet ct {\nchain fwd hook forward {\n}\n}\n"), lang.Config{})
	if !assert.False(t, ds.HasErrors(), "%v", ds) {
		return
	}
	_, err := Render(p, "")
	assert.EqualError(t, err, "t.ks:1:1: the nft target cannot name a table ct: nft reads ct as a keyword there, and could not read back a ruleset that holds it\n"+
		"t.ks:2:1: the nft target cannot name a chain fwd: nft reads fwd as a keyword there, and could not read back a ruleset that holds it")
	_, err = Lower(p)
	assert.Error(t, err)
}
