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
