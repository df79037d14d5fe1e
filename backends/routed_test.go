package backends

import (
	"errors"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/routing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ordered is a firewall that records, when it changes, whether the
// policy's routing is in force.
type ordered struct {
	Fake
	nsPath         string
	routedAtApply  []int
	routedAtRemove []int
}

func (o *ordered) Apply(p *ir.Policy) error {
	s, err := routing.Read(o.nsPath)
	o.routedAtApply = append(o.routedAtApply, len(s.Lines()))
	return errors.Join(err, o.Fake.Apply(p))
}

func (o *ordered) Remove(p *ir.Policy) error {
	s, err := routing.Read(o.nsPath)
	o.routedAtRemove = append(o.routedAtRemove, len(s.Lines()))
	return errors.Join(err, o.Fake.Remove(p))
}

// The rules go in first and the routes after them; the routes come out
// first and the rules after them: the rules hold while routes change.
func TestRoutingFollowsTheRulesInAndPrecedesThemOut(t *testing.T) {
	labtest.Require(t)
	ns := labtest.NewLinkedNS(t, "routed")
	p, ds := lang.Load("p.ks", []byte(`routing table 7362 {
	rule fwmark 0x6b7362
	route default via 192.0.2.1 dev "eth0"
}
table inet t {
	chain ROUTE {
		type route hook output priority mangle
		policy accept
		meta skuid 1000 meta mark set 0x6b7362
	}
}
`), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	fw := &ordered{nsPath: ns.Path()}
	r := routed{fw, ns.Path()}
	require.NoError(t, r.Apply(p))
	require.NoError(t, r.Apply(p))
	assert.Equal(t, []int{0, 3}, fw.routedAtApply, "the first apply's rules before any routing; the second's beside its own")
	s, err := routing.Read(ns.Path())
	require.NoError(t, err)
	assert.Len(t, s.Lines(), 3, "a route and a rule of each family")
	require.NoError(t, r.Remove(p))
	assert.Equal(t, []int{0}, fw.routedAtRemove, "the routing is gone when the rules go")
}
