package kernel

import (
	"testing"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A table that holds what a restore cannot put back (a flowtable, which
// this machine's kernel cannot hold, so that no kernel test can make one)
// refuses the snapshot by name; tables without are restorable.
func TestUnrestorableIsRefused(t *testing.T) {
	plain := &nft.LiveTable{Table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "other"}}
	fw := &nft.LiveTable{Table: &nftables.Table{Family: nftables.TableFamilyINet, Name: "fw"},
		Unrestorable: []string{"flowtable ft", "map counters of objects"}}
	require.NoError(t, refuseUnrestorable([]*nft.LiveTable{plain}))
	assert.EqualError(t, refuseUnrestorable([]*nft.LiveTable{plain, fw}),
		"the current ruleset cannot be restored: table inet fw holds flowtable ft, map counters of objects, which ksc cannot put back")
}
