package kernel

import (
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
)

// Every golden policy's batch, its rules and elements encoded apart, is
// byte for byte the batch google/nftables would send.
func TestBatchEncodedApartIsTheLibrarys(t *testing.T) {
	for _, c := range golden.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			b := golden.Batch(t, c.Load(t))
			want := sentBatch(t, func(conn *nftables.Conn) error {
				return queue(batchConn{Conn: conn}, b, -1)
			}, func(*netlink.Message) {})
			apart := batchConn{elems: elementSlots(), rules: ruleSlots()}
			got := sentBatch(t, func(conn *nftables.Conn) error {
				apart.Conn = conn
				err := queue(apart, b, -1)
				assert.Len(t, apart.rules.encoded, len(b.Rules()), "every rule is encoded apart")
				return err
			}, func(m *netlink.Message) {
				apart.elems.fill(m)
				apart.rules.fill(m)
			})
			assert.Equal(t, want, got)
			assert.Empty(t, apart.rules.encoded, "every slot is filled")
		})
	}
}

// A rule only the library encodes goes as the library encodes it, among
// rules encoded apart: one that replaces a rule by handle, one with an
// xtables match, and a rule of no expressions, which is not a slot.
func TestRulesOnlyTheLibraryEncodes(t *testing.T) {
	table := &nftables.Table{Name: "t", Family: nftables.TableFamilyIPv4}
	chain := &nftables.Chain{Name: "c", Table: table}
	accept := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	rules := []*nftables.Rule{
		{Table: table, Chain: chain, Exprs: accept, UserData: []byte{0, 3, 'h', 'i', 0}},
		{Table: table, Chain: chain, Exprs: accept, Handle: 7},
		{Table: table, Chain: chain, Exprs: []expr.Any{&expr.Match{Name: "tcp", Info: &xt.Tcp{}}}},
		{Table: table, Chain: chain},
		{Table: table, Chain: chain, Exprs: accept, Position: 3},
	}
	encoded := encodeRules(rules)
	assert.NotNil(t, encoded[0])
	assert.Nil(t, encoded[1], "by handle")
	assert.Nil(t, encoded[2], "an xtables match")
	assert.NotNil(t, encoded[3])
	assert.NotNil(t, encoded[4])
	queueAll := func(add func(*nftables.Rule)) {
		for _, r := range rules {
			add(r)
		}
	}
	want := sentBatch(t, func(c *nftables.Conn) error {
		queueAll(func(r *nftables.Rule) { c.AddRule(r) })
		return nil
	}, func(*netlink.Message) {})
	apart := batchConn{rules: ruleSlots()}
	got := sentBatch(t, func(c *nftables.Conn) error {
		apart.Conn = c
		queueAll(apart.addRules(rules))
		return nil
	}, apart.rules.fill)
	assert.Equal(t, want, got)
}
