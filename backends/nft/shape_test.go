package nft_test

import (
	"testing"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shape of a batch has its named sets, empty, and leaves the batch be.
func TestWithoutSetElements(t *testing.T) {
	src := "table inet t {\nset s {\ntype ipv4_addr\nflags interval\nelements = { 192.0.2.0/24, 198.51.100.7 }\n}\n" +
		"chain c hook input {\nip saddr @s drop\n}\n}\n"
	p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), ds)
	b, err := nft.Lower(p)
	require.NoError(t, err)
	require.NotEmpty(t, b.Tables[0].Sets, "the policy has a named set")
	full := b.Tables[0].Sets[0].Len()
	require.Positive(t, full)

	shape := b.WithoutSetElements()
	require.Len(t, shape.Tables[0].Sets, len(b.Tables[0].Sets))
	for i, s := range shape.Tables[0].Sets {
		assert.Zero(t, s.Len(), "set %s", s.Set.Name)
		assert.Same(t, b.Tables[0].Sets[i].Set, s.Set, "the same set")
	}
	assert.Equal(t, full, b.Tables[0].Sets[0].Len(), "the batch keeps its elements")
	assert.Equal(t, b.Tables[0].Chains, shape.Tables[0].Chains, "and its rules")
}
