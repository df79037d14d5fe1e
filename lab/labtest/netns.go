package labtest

import (
	"strings"
	"testing"

	"github.com/ksc-project/ksc/lab/ns"
)

// NS is a lab namespace that lives as long as its test.
type NS struct {
	*ns.Namespace
}

// NewNS creates a namespace named ksc-<role>-<random> (lo up) and deletes
// it when the test ends.
func NewNS(t testing.TB, role string) *NS {
	t.Helper()
	space, err := ns.Create(role)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := space.Delete(); err != nil {
			t.Error(err)
		}
	})
	return &NS{space}
}

// Exec runs a command inside the namespace and fails the test if it fails.
func (ns *NS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ns.Command(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Veth connects a and b with a veth pair named aName in a and bName in b.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	if _, _, err := ns.Veth(a.Namespace, aName, nil, b.Namespace, bName); err != nil {
		t.Fatal(err)
	}
}

// NewLinkedNS is a namespace (see NewNS) with eth0 up at 192.0.2.2/25
// and 2001:db8:1::2/64, a veth whose other end lies in a second
// namespace: a machine with a physical link, for tests of its routes.
func NewLinkedNS(t testing.TB, role string) *NS {
	t.Helper()
	space := NewNS(t, role)
	Veth(t, space, "eth0", NewNS(t, role+"p"), "p0")
	space.Exec(t, "ip", "link", "set", "eth0", "up")
	space.Exec(t, "ip", "addr", "add", "192.0.2.2/25", "dev", "eth0")
	space.Exec(t, "ip", "addr", "add", "2001:db8:1::2/64", "dev", "eth0", "nodad")
	return space
}

// Routing is the namespace's routing rules, then the routes of table, as
// ip lists them ("" for a table that does not exist yet).
func (ns *NS) Routing(t testing.TB, table string) string {
	t.Helper()
	routes, err := ns.ExecInput("", "ip", "route", "show", "table", table)
	if err != nil {
		routes = "" // ip: "FIB table does not exist"
	}
	return ns.Exec(t, "ip", "rule") + routes
}
