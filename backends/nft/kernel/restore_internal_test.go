package kernel

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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

// A restored rule keeps the kernel's bytes but for its set references and
// what the kernel lists but refuses back: a reference to a set the batch
// makes anew names that copy, by its batch name and ID; an expression that
// names no set, and a reference to a set not made anew, are left as they
// were; a dynset's listed timeout of 0 goes.
func TestRelinkSets(t *testing.T) {
	expression := func(name string, data func(a *attrs)) []byte {
		var a attrs
		elem := a.open(unix.NFTA_LIST_ELEM)
		a.str(unix.NFTA_EXPR_NAME, name)
		d := a.open(unix.NFTA_EXPR_DATA)
		data(&a)
		a.close(d)
		a.close(elem)
		return a.b
	}
	meta := expression("meta", func(a *attrs) { a.u32(unix.NFTA_META_KEY, unix.NFT_META_L4PROTO); a.u32(unix.NFTA_META_DREG, 1) })
	lookup := func(set string, id uint32) []byte {
		return expression("lookup", func(a *attrs) {
			a.u32(unix.NFTA_LOOKUP_SREG, 1)
			a.str(unix.NFTA_LOOKUP_SET, set)
			if id != 0 {
				a.u32(unix.NFTA_LOOKUP_SET_ID, id)
			}
		})
	}
	// A dynset as the kernel lists it: with a timeout, 0 when it sets
	// none, which the kernel refuses back for a set without timeouts.
	dynsetTimeout := func(set string, id uint32, timeout uint64, listed bool) []byte {
		return expression("dynset", func(a *attrs) {
			a.str(unix.NFTA_DYNSET_SET_NAME, set)
			if id != 0 {
				a.u32(unix.NFTA_DYNSET_SET_ID, id)
			}
			a.u32(unix.NFTA_DYNSET_SREG_KEY, 1)
			if timeout != 0 || listed {
				a.u64(unix.NFTA_DYNSET_TIMEOUT, timeout)
			}
		})
	}
	dynset := func(set string, id uint32) []byte { return dynsetTimeout(set, id, 0, id == 0) }
	sets := map[string]*nftables.Set{"__set3": {Name: "__set%d", ID: 7}, "meter": {Name: "meter", ID: 8}}
	join := func(parts ...[]byte) []byte { return slices.Concat(parts...) }

	got, err := relinkSets(join(meta, lookup("__set3", 0), lookup("blocked", 0), dynset("meter", 0)), sets)
	require.NoError(t, err)
	assert.Equal(t, join(meta, lookup("__set%d", 7), lookup("blocked", 0), dynset("meter", 8)), got)

	got, err = relinkSets(dynsetTimeout("meter", 0, 600000, true), sets)
	require.NoError(t, err)
	assert.Equal(t, dynsetTimeout("meter", 8, 600000, true), got, "a timeout that is set stays")

	_, err = relinkSets([]byte{1, 2, 3}, sets)
	assert.ErrorIs(t, err, errMalformedAttrs)
}

// A refused restore shows where the two lines part, not only their start.
func TestDifferingPart(t *testing.T) {
	rule := "rule ip filter INPUT " + strings.Repeat("*expr.Payload&{Base:2 Offset:2 Len:2} ", 10)
	assert.Equal(t, `"short one" became "short two"`, differingPart("short one", "short two"))
	got := differingPart(rule+"*expr.Match&{Name:limit Info:[1 2 3]}", rule+"*expr.Match&{Name:limit Info:[1 2 4]}")
	assert.Contains(t, got, `"rule ip filter INPUT *expr.Payload&{Base…", at "…`)
	assert.Contains(t, got, `Info:[1 2 3]}" became "…`)
	assert.Contains(t, got, `Info:[1 2 4]}"`)
	assert.Equal(t, []string{"1 lines became 2"}, []string{firstDifference([]string{"a", "b"}, []string{"a"})})
}
