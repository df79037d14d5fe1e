package lang_test

import (
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nft's chain header, inside the braces as its man page and every wiki
// write it, means what ksc's header before the brace means.
func TestNftChainHeaderMeansKscs(t *testing.T) {
	for _, tc := range []struct{ nft, ksc string }{
		{"chain c {\n\ttype filter hook input priority 0; policy drop;\n\ttcp dport 22 accept\n}",
			"chain c hook input priority 0 policy drop {\n\ttcp dport 22 accept\n}"},
		{"chain c {\n\ttype filter hook output priority filter + 10\n\tpolicy accept\n}",
			"chain c hook output priority 10 {\n}"},
		{"chain c {\n\ttype nat hook prerouting priority dstnat - 5; policy accept;\n}",
			"chain c type nat hook prerouting priority -105 {\n}"},
		{"chain c {\n\ttype route hook output priority mangle\n}",
			"chain c type route hook output priority -150 {\n}"},
		{"chain c hook input priority filter - 1 {\n}",
			"chain c hook input priority -1 {\n}"},
	} {
		load := func(chain string) *ir.Chain {
			p, ds := lang.Load("t.ks", []byte("table inet t {\n"+chain+"\n}\n"), lang.Config{})
			require.False(t, ds.HasErrors(), "%s: %v", chain, ds)
			return p.Tables[0].Chains[0]
		}
		nft, ksc := load(tc.nft), load(tc.ksc)
		assert.Equal(t, ksc.Hook, nft.Hook, tc.nft)
		assert.Equal(t, ksc.Type, nft.Type, tc.nft)
		assert.Equal(t, ksc.Priority, nft.Priority, tc.nft)
		assert.Equal(t, ksc.Policy, nft.Policy, tc.nft)
		assert.Equal(t, len(ksc.Rules), len(nft.Rules), tc.nft)
	}
}
