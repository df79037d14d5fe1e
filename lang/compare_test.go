package lang_test

import (
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A comparison is the range of values it names, as nft means it: "tcp
// dport < 1024" is "tcp dport 0-1023".
func TestComparisonsAreRanges(t *testing.T) {
	for _, tc := range []struct{ written, means string }{
		{"tcp dport < 1024", "tcp dport 0-1023"},
		{"tcp dport <= 1024", "tcp dport 0-1024"},
		{"tcp dport > 1024", "tcp dport 1025-65535"},
		{"tcp dport >= 1024", "tcp dport 1024-65535"},
		{"tcp dport >= https", "tcp dport 443-65535"},
		{"ip ttl < 5", "ip ttl 0-4"},
		{"meta length > 1400", "meta length 1401-4294967295"},
		{"meta mark <= 0xff", "meta mark 0x0-0xff"},
		{"ip saddr < 10.0.0.0", "ip saddr 0.0.0.0-9.255.255.255"},
		{"ip6 daddr >= ff00::", "ip6 daddr ff00::/8"},
	} {
		load := func(match string) *ir.Match {
			p, ds := lang.Load("t.ks", []byte("table inet t {\nchain c hook input {\n"+match+" accept\n}\n}\n"), lang.Config{})
			require.False(t, ds.HasErrors(), "%s: %v", match, ds)
			return p.Tables[0].Chains[0].Rules[0].Matches[len(p.Tables[0].Chains[0].Rules[0].Matches)-1]
		}
		got, want := load(tc.written), load(tc.means)
		assert.Equal(t, want.Field, got.Field, tc.written)
		assert.True(t, want.Values.Equal(got.Values), "%s: %v, not %v", tc.written, got.Values, want.Values)
	}
}
