package ir_test

import (
	"net/netip"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithSetElements changes the set, and every lookup of it, in a copy:
// chains reached by a jump included; the policy it came from is as it was.
func TestWithSetElements(t *testing.T) {
	p, ds := lang.Load("p.ks", []byte(`table inet t {
	set servers {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.1 }
	}

	chain vpn {
		ip daddr @servers accept
	}

	chain output hook output priority filter policy drop {
		jump vpn
	}
}
`), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	k := ir.AddrKey(netip.MustParseAddr("198.51.100.7"))
	keys := ir.NewSet(ir.Span{Lo: k, Hi: k})
	q := p.WithSetElements(p.Tables[0], p.Tables[0].Sets[0], keys)

	jump := q.Tables[0].Chains[1].Rules[0]
	require.Same(t, q.Tables[0].Chains[0], jump.Target, "the jump goes to the copy's chain")
	lookup := jump.Target.Rules[0].Matches[0]
	assert.Same(t, q.Tables[0].Sets[0], lookup.Set)
	assert.Equal(t, "198.51.100.7", ir.AddrsText(ir.KindIPv4, lookup.Values))

	orig := p.Tables[0].Chains[0].Rules[0].Matches[0]
	assert.Equal(t, "198.51.100.1", ir.AddrsText(ir.KindIPv4, orig.Values))
	assert.Equal(t, "198.51.100.1", ir.AddrsText(ir.KindIPv4, p.Tables[0].Sets[0].Elements))
}
