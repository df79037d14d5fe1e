package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/nsenter"
)

// NS is a named network namespace that lives as long as its test.
type NS struct {
	Name string
}

// NewNS creates a namespace named ksc-<role>-<random> and deletes it when the
// test ends.
func NewNS(t testing.TB, role string) *NS {
	t.Helper()
	suffix := make([]byte, 4)
	rand.Read(suffix)
	ns := &NS{Name: fmt.Sprintf("ksc-%s-%s", role, hex.EncodeToString(suffix))}
	run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.Exec(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Exec runs a command inside the namespace and fails the test if it fails.
func (ns *NS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, append([]string{"ip", "netns", "exec", ns.Name}, args...)...)
}

// ExecInput runs a command inside the namespace with stdin, returning its
// combined output and error without failing the test.
func (ns *NS) ExecInput(stdin string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Do runs fn on a thread switched into the namespace (see nsenter.Run).
func (ns *NS) Do(fn func() error) error {
	return nsenter.Run(nsenter.Path(ns.Name), fn)
}

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Veth connects a and b with a veth pair named aName in a and bName in b.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	tmp := "kscv" + a.Name[len(a.Name)-8:]
	run(t, "ip", "-n", a.Name, "link", "add", aName, "type", "veth", "peer", "name", tmp, "netns", b.Name)
	run(t, "ip", "-n", b.Name, "link", "set", tmp, "name", bName)
	run(t, "ip", "-n", a.Name, "link", "set", aName, "up")
	run(t, "ip", "-n", b.Name, "link", "set", bName, "up")
}
