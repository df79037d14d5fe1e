package routing_test

import (
	"strings"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/routing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, src string) *ir.Policy {
	t.Helper()
	p, ds := lang.Load("p.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	return p
}

const policy = `routing table 7362 {
	rule fwmark 0x6b7362 priority 100
	route default via GATEWAY dev "eth0"
	route 2001:db8:5::/48 dev "eth0"
}
table inet t {
	chain ROUTE {
		type route hook output priority mangle
		policy accept
		meta skuid 1000 meta mark set 0x6b7362
	}
}
`

// The routing a policy declares goes in as ip rule and ip route would
// put it, marked as ksc's; applied again it changes only what differs,
// and Remove takes it all away, rules first.
func TestApplyChangeAndRemove(t *testing.T) {
	labtest.Require(t)
	ns := labtest.NewLinkedNS(t, "routing")
	path := ns.Path()
	p := load(t, strings.ReplaceAll(policy, "GATEWAY", "192.0.2.1"))

	require.NoError(t, routing.Check(path, p.Routing))
	require.NoError(t, routing.Apply(path, p.Routing))
	assert.Contains(t, ns.Exec(t, "ip", "rule"), "100:\tfrom all fwmark 0x6b7362 lookup 7362 proto 107")
	assert.Contains(t, ns.Exec(t, "ip", "-6", "rule"), "100:\tfrom all fwmark 0x6b7362 lookup 7362 proto 107")
	assert.Equal(t, "default via 192.0.2.1 dev eth0 proto 107 \n", ns.Exec(t, "ip", "route", "show", "table", "7362"))
	assert.Contains(t, ns.Exec(t, "ip", "-6", "route", "show", "table", "7362"), "2001:db8:5::/48 dev eth0 proto 107")
	add, remove, err := routing.Diff(path, p.Routing)
	require.NoError(t, err)
	assert.Empty(t, add)
	assert.Empty(t, remove)

	moved := load(t, strings.ReplaceAll(policy, "GATEWAY", "192.0.2.3"))
	add, remove, err = routing.Diff(path, moved.Routing)
	require.NoError(t, err)
	assert.Equal(t, []string{`route default via 192.0.2.3 dev "eth0" table 7362`}, add)
	assert.Equal(t, []string{`route default via 192.0.2.1 dev "eth0" table 7362`}, remove)
	require.NoError(t, routing.Apply(path, moved.Routing))
	assert.Equal(t, "default via 192.0.2.3 dev eth0 proto 107 \n", ns.Exec(t, "ip", "route", "show", "table", "7362"))

	// Another program's route elsewhere stays; ksc's go.
	ns.Exec(t, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.1", "table", "100")
	require.NoError(t, routing.Remove(path))
	assert.NotContains(t, ns.Exec(t, "ip", "rule"), "7362")
	assert.NotContains(t, ns.Exec(t, "ip", "-6", "rule"), "7362")
	assert.Empty(t, ns.Exec(t, "ip", "route", "show", "table", "7362"))
	assert.Contains(t, ns.Exec(t, "ip", "route", "show", "table", "100"), "203.0.113.0/24 via 192.0.2.1")
}

// A table another program has routes or rules in, and a route out of an
// interface that is not there, are refused before anything changes.
func TestCheckRefusesBeforeAnythingChanges(t *testing.T) {
	labtest.Require(t)
	ns := labtest.NewLinkedNS(t, "routingc")
	p := load(t, strings.ReplaceAll(policy, "GATEWAY", "192.0.2.1"))

	ns.Exec(t, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.1", "table", "7362")
	err := routing.Check(ns.Path(), p.Routing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another program uses the routing tables the policy declares (route 203.0.113.0/24 in table 7362 (proto 3))")
	ns.Exec(t, "ip", "route", "flush", "table", "7362")
	ns.Exec(t, "ip", "rule", "add", "from", "192.0.2.0/25", "table", "7362", "priority", "200")
	err = routing.Check(ns.Path(), p.Routing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ip rule 200 to table 7362")
	ns.Exec(t, "ip", "rule", "del", "priority", "200")

	gone := load(t, strings.ReplaceAll(strings.ReplaceAll(policy, "GATEWAY", "192.0.2.1"), `dev "eth0"`, `dev "eth9"`))
	err = routing.Check(ns.Path(), gone.Routing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `p.ks:3:2: route default via 192.0.2.1 dev "eth9": interface eth9 does not exist here`)
	require.Error(t, routing.Apply(ns.Path(), gone.Routing))
	assert.NotContains(t, ns.Exec(t, "ip", "rule"), "7362", "nothing changed")
	// Diff (and so status) says what cannot be made, and why.
	add, _, err := routing.Diff(ns.Path(), gone.Routing)
	require.NoError(t, err)
	assert.Contains(t, add, `route default via 192.0.2.1 dev "eth9" table 7362 (interface eth9 does not exist here)`)
}

// src_valid_mark is turned on with the routing, shown by Diff while it is
// off, left on when the routing goes (as wg-quick leaves it), and put
// back as it was by a rollback.
func TestSrcValidMark(t *testing.T) {
	labtest.Require(t)
	ns := labtest.NewLinkedNS(t, "routingsvm")
	value := func() string {
		return strings.TrimSpace(ns.Exec(t, "sysctl", "-n", "net.ipv4.conf.all.src_valid_mark"))
	}
	p := load(t, strings.ReplaceAll(strings.Replace(policy, "}\n", "\tsrc_valid_mark\n}\n", 1), "GATEWAY", "192.0.2.1"))
	require.True(t, p.Routing[0].SrcValidMark)
	require.Equal(t, "0", value())
	before, err := routing.Read(ns.Path())
	require.NoError(t, err)

	add, _, err := routing.Diff(ns.Path(), p.Routing)
	require.NoError(t, err)
	assert.Contains(t, add, "sysctl net.ipv4.conf.all.src_valid_mark = 1")
	require.NoError(t, routing.Apply(ns.Path(), p.Routing))
	assert.Equal(t, "1", value())
	add, remove, err := routing.Diff(ns.Path(), p.Routing)
	require.NoError(t, err)
	assert.Empty(t, add)
	assert.Empty(t, remove)

	require.NoError(t, routing.PutBack(ns.Path(), before))
	assert.Equal(t, "0", value(), "a rollback puts it back")
	assert.NotContains(t, ns.Exec(t, "ip", "rule"), "7362")

	require.NoError(t, routing.Apply(ns.Path(), p.Routing))
	require.NoError(t, routing.Remove(ns.Path()))
	assert.Equal(t, "1", value(), "left on, as wg-quick leaves it")
}

// What every apply now pays for the routing beside the rules, when the
// policy has none: one listing of the namespace's rules and routes.
func BenchmarkApplyWithoutRouting(b *testing.B) {
	labtest.Require(b)
	ns := labtest.NewNS(b, "routingbench")
	for b.Loop() {
		if err := routing.Apply(ns.Path(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
