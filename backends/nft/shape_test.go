package nft_test

import (
	"slices"
	"testing"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shape of a batch has its named sets, empty, and leaves the batch be.
func TestWithoutSetElements(t *testing.T) {
	src := "table inet t {\nset s {\ntype ipv4_addr\nflags interval\nelements = { 192.0.2.0/24, 198.51.100.7 }\n}\n" +
		"chain c hook input {\nip saddr @s drop\n}\n}\n"
	b := lowered(t, src)
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

// Chunks of every even size hand out the elements Elements gives, and as
// many as Len says, for named and anonymous sets, with and without
// intervals, and with a range that reaches the top (it has no end
// element, so a chunk may fill before its range is done).
func TestChunksAreTheElements(t *testing.T) {
	src := "table inet t {\nset s {\ntype ipv4_addr\nflags interval\nelements = { 192.0.2.0/24, 198.51.100.7, 255.255.255.0/24 }\n}\n" +
		"chain c hook input {\nip saddr @s drop\ntcp dport { 22, 80, 49152-65535 } accept\nudp dport { 53, 123, 443 } accept\n}\n}\n"
	b := lowered(t, src)
	sets := b.Tables[0].Sets
	for _, r := range b.Rules() {
		sets = append(sets, r.Sets...)
	}
	require.Len(t, sets, 3)
	for _, s := range sets {
		all := s.Elements()
		require.Len(t, all, s.Len(), "set %s", s.Set.Name)
		for n := 2; n <= len(all)+2; n += 2 {
			var chunked []nftables.SetElement
			require.NoError(t, s.Chunks(n, func(chunk []nftables.SetElement) error {
				assert.LessOrEqual(t, len(chunk), n)
				for _, e := range chunk {
					e.Key, e.KeyEnd = slices.Clone(e.Key), slices.Clone(e.KeyEnd) // the chunk is reused
					chunked = append(chunked, e)
				}
				return nil
			}))
			assert.Equal(t, all, chunked, "set %s in chunks of %d", s.Set.Name, n)
		}
	}
}

// lowered is the batch of the policy src.
func lowered(t *testing.T, src string) *nft.Batch {
	t.Helper()
	p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), ds)
	b, err := nft.Lower(p)
	require.NoError(t, err)
	return b
}
