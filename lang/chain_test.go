package lang_test

import (
	"net/netip"
	"strings"
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

// A define works wherever its value could be written, statements
// included, and -D sets it per machine (issue 27: mark set, masks, nat
// targets and ports).
func TestDefinesWhereStatementsTakeValues(t *testing.T) {
	src := `define MARK = 0x1
define MASK = 0xff
define HOST = 192.0.2.10
define PORT = 8080
define SRC = 198.51.100.1
table inet t {
	chain out {
		type route hook output priority mangle
		meta mark set $MARK
		ct mark set $MARK
		meta mark and $MASK == $MARK accept
	}
	chain pre {
		type nat hook prerouting priority dstnat
		tcp dport 80 dnat ip to $HOST:$PORT
		tcp dport 81 dnat ip to $HOST:8081
		tcp dport 82 dnat ip to 192.0.2.11:$PORT
		tcp dport 83 redirect to :$PORT
	}
	chain post {
		type nat hook postrouting priority srcnat
		oifname "eth0" snat ip to $SRC
	}
}
`
	override, _ := lang.ParseOverride("PORT=9090")
	p, ds := lang.Load("t.ks", []byte(src), lang.Config{Defines: []lang.Override{override}})
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Empty(t, ds, "no define is unused")
	out, pre, post := p.Tables[0].Chains[0], p.Tables[0].Chains[1], p.Tables[0].Chains[2]
	assert.Equal(t, "meta mark set 0x00000001", out.Rules[0].Statements[0].(*ir.MarkSet).Text())
	assert.Equal(t, "ct mark set 0x00000001", out.Rules[1].Statements[0].(*ir.MarkSet).Text())
	assert.Equal(t, uint32(0xff), out.Rules[2].Matches[0].Mask)
	for i, want := range []string{"192.0.2.10:9090", "192.0.2.10:8081", "192.0.2.11:9090"} {
		n := pre.Rules[i].NAT
		assert.Equal(t, want, netip.AddrPortFrom(n.Addr, n.Port).String())
	}
	assert.Equal(t, uint16(9090), pre.Rules[3].NAT.Port)
	assert.Equal(t, "198.51.100.1", post.Rules[0].NAT.Addr.String())
}

// "destroy table", "delete table" and "flush table" before the table's
// declaration, as nft scripts start a table afresh, say what ksc does
// anyway: the policy is the one without them.
func TestStartingATableAfreshIsWhatKscDoes(t *testing.T) {
	table := "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tiif lo accept\n\t}\n}\n"
	plain, ds := lang.Load("t.ks", []byte(table), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	for _, first := range []string{"destroy table inet filter\n", "delete table inet filter\n", "flush table inet filter\n",
		"flush table ip other\ntable ip other {\n}\ndestroy table inet filter\n", "flush table t\ntable t {\n}\n",
		"table inet filter\ndelete table inet filter\n"} {
		p, ds := lang.Load("t.ks", []byte(first+table), lang.Config{})
		require.False(t, ds.HasErrors(), "%s: %v", first, ds)
		got, want := p.Tables[len(p.Tables)-1], plain.Tables[0]
		assert.Equal(t, want.Family, got.Family, first)
		assert.Equal(t, want.Name, got.Name, first)
		require.Len(t, got.Chains, 1, first)
		assert.Equal(t, want.Chains[0].Policy, got.Chains[0].Policy, first)
		require.Len(t, got.Chains[0].Rules, 1, first)
		assert.Equal(t, describe(want.Chains[0].Rules[0]), describe(got.Chains[0].Rules[0]), first)
		assert.False(t, p.FlushRuleset, first)
	}
}

// An option may hold whole chains: in the policy only when enabled, and
// checked either way.
func TestOptionalChains(t *testing.T) {
	src := "table inet t {\n\toption lan {\n\t\tchain c hook input {\n\t\t\tip saddr 192.0.2.0/24 accept\n\t\t}\n\t}\n\tchain d hook output {\n\t\toifname eth0 accept\n\t}\n}\n"
	names := func(cfg lang.Config) []string {
		p, ds := lang.Load("t.ks", []byte(src), cfg)
		require.False(t, ds.HasErrors(), "%v", ds)
		var out []string
		for _, c := range p.Tables[0].Chains {
			out = append(out, c.Name)
		}
		return out
	}
	assert.Equal(t, []string{"d"}, names(lang.Config{}))
	assert.Equal(t, []string{"c", "d"}, names(lang.Config{Enable: []string{"lan"}}))
	assert.Equal(t, []string{"lan"}, lang.Options(mustParse(t, src)))

	_, ds := lang.Load("t.ks", []byte(strings.Replace(src, "192.0.2.0/24", "192.0.2.300", 1)), lang.Config{})
	require.True(t, ds.HasErrors(), "a mistake in a disabled chain is reported")
	assert.Contains(t, ds.Error(), `t.ks:4:13: malformed address "192.0.2.300"`)
}

func mustParse(t *testing.T, src string) *lang.File {
	t.Helper()
	f, ds := lang.Parse("t.ks", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	return f
}
