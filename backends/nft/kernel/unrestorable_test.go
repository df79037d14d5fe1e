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

// A restored table's rules are compared with the kernel's listing of the
// original, rule by rule, and the first difference is named.
func TestFirstRuleDifference(t *testing.T) {
	table := TableRef{Family: nftables.TableFamilyIPv4, Name: "x"}
	want := chainRules{"c": {"meta(01) cmp(02) socket(03) cmp(04)", "counter immediate(05)"}}
	for _, tc := range []struct {
		name string
		got  chainRules
		diff string
	}{
		{"equal", chainRules{"c": {"meta(01) cmp(02) socket(03) cmp(04)", "counter immediate(05)"}}, ""},
		{"expression dropped", chainRules{"c": {"meta(01) cmp(02) cmp(04)", "counter immediate(05)"}},
			"rule 1 of chain c in table ip x, of expressions [meta cmp socket cmp], would come back as [meta cmp cmp]"},
		{"data changed", chainRules{"c": {"meta(01) cmp(02) socket(03) cmp(04)", "counter immediate(06)"}},
			"rule 2 of chain c in table ip x, of expressions [counter immediate], would come back as [counter immediate]"},
		{"rule missing", chainRules{"c": {"meta(01) cmp(02) socket(03) cmp(04)"}},
			"rule 2 of chain c in table ip x, of expressions [counter immediate], would come back as nothing"},
		{"rule added", chainRules{"c": {"meta(01) cmp(02) socket(03) cmp(04)", "counter immediate(05)", "immediate(05)"}},
			"chain c in table ip x would come back with 3 rules, not 2"},
		{"chain added", chainRules{"c": want["c"], "d": {"immediate(05)"}},
			"chain d in table ip x would come back with 1 rules, not 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.diff, firstRuleDifference(table, tc.got, want))
		})
	}
}
