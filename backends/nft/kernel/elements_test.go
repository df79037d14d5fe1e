package kernel_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Read takes every set's elements as google/nftables reads them: plain
// sets through ksc's own large-buffer dump, and sets whose elements carry
// more (a map's data, a comment) through google/nftables, which keeps it.
func TestReadSetsAsGoogleNftablesDoes(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "elems")
	var big []string
	for i := range 5000 {
		big = append(big, fmt.Sprintf("10.%d.%d.0/28", i/256, i%256))
	}
	ruleset := "table inet t {\n" +
		"\tset big { type ipv4_addr; flags interval; elements = { " + strings.Join(big, ", ") + " } }\n" +
		"\tset hosts { type ipv6_addr; elements = { 2001:db8::1, 2001:db8::2 } }\n" +
		"\tset marks { type mark; elements = { 0x1, 0x20 } }\n" +
		"\tset commented { type ipv4_addr; elements = { 192.0.2.1 comment \"why\" } }\n" +
		"\tmap ports { type inet_service : ipv4_addr; elements = { 80 : 192.0.2.10 } }\n" +
		"}\n"
	out, err := ns.ExecInput(ruleset, "nft", "-f", "-")
	require.NoError(t, err, out)

	rs, err := kernel.ReadNamespace(nsenter.Path(ns.Name))
	require.NoError(t, err)
	c, err := kernel.Dial(nsenter.Path(ns.Name))
	require.NoError(t, err)
	defer c.CloseLasting()
	table := &nftables.Table{Name: "t", Family: nftables.TableFamilyINet}
	sets, err := c.GetSets(table)
	require.NoError(t, err)
	require.Len(t, sets, 5)
	live := rs.Table(nftables.TableFamilyINet, "t")
	require.NotNil(t, live)
	for _, s := range sets {
		want, err := c.GetSetElements(s)
		require.NoError(t, err)
		got := live.Sets[s.Name]
		require.NotNil(t, got, s.Name)
		assert.Equal(t, want, got.Elements.Library(0, got.Elements.Len()), s.Name)
	}
	assert.Equal(t, "why", live.Sets["commented"].Elements.Library(0, 1)[0].Comment, "a comment survives")
	assert.Greater(t, live.Sets["big"].Elements.Len(), 5000, "every range, with its end")
}
