// Package ns makes and deletes the network namespaces every lab of ksc's
// is built of (ksc test's, the kernel tests', the differential test's,
// the end-to-end suite's, the soak's), and joins them with veth pairs.
package ns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Namespace is a named network namespace, as ip netns knows it.
type Namespace struct {
	Name string
}

// Create makes a namespace named ksc-ROLE-RANDOM with lo up.
// Delete removes it, and everything in it.
func Create(role string) (*Namespace, error) {
	id := make([]byte, 4)
	rand.Read(id)
	ns := &Namespace{Name: "ksc-" + role + "-" + hex.EncodeToString(id)}
	if err := New(ns.Name); err != nil {
		return nil, err
	}
	h, err := HandleAt(ns.Name)
	if err == nil {
		err = Up(h, "lo")
		h.Close()
	}
	if err != nil {
		return nil, errors.Join(err, ns.Delete())
	}
	return ns, nil
}

// Path is the namespace's file, for nsenter and the loaders.
func (ns *Namespace) Path() string { return nsenter.Path(ns.Name) }

// Delete deletes the namespace; one already gone is no error.
func (ns *Namespace) Delete() error { return Delete(ns.Name) }

// Do runs fn on a thread switched into the namespace (see nsenter.Run).
func (ns *Namespace) Do(fn func() error) error { return nsenter.Run(ns.Path(), fn) }

// Command is a command that runs inside the namespace.
//
// It enters the network namespace only, as ksc's loaders do: "ip netns
// exec" also mounts a /sys of the namespace's own, which hides the
// machine's cgroups from nft (socket cgroupv2 paths).
func (ns *Namespace) Command(args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + nsenter.Path(ns.Name), "--"}, args...)...)
}

// ExecInput runs a command inside the namespace with stdin, and returns
// its combined output.
func (ns *Namespace) ExecInput(stdin string, args ...string) (string, error) {
	cmd := ns.Command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Delete deletes named namespaces, and with them everything in
// them; one already gone is no error.
func Delete(names ...string) error {
	var errs []error
	for _, name := range names {
		if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// New creates a named namespace from a thread that the runtime
// discards afterwards, so that no goroutine of ours runs in it unasked.
func New(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// HandleAt is a netlink handle in the named namespace.
func HandleAt(name string) (*netlink.Handle, error) {
	h, err := nsenter.Open(nsenter.Path(name))
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return netlink.NewHandleAt(h)
}

// Up brings the named interface up.
func Up(h *netlink.Handle, name string) error {
	ln, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(ln)
	}
	if err != nil {
		return fmt.Errorf("bringing up %s: %w", name, err)
	}
	return nil
}

// Veth joins namespace a, where the pair's end is called aName (with
// address mac, when given), to b, where it is called bName, and brings
// both ends up. It returns their interface indexes.
func Veth(a *Namespace, aName string, mac net.HardwareAddr, b *Namespace, bName string) (aIndex, bIndex int, err error) {
	ha, err := HandleAt(a.Name)
	if err != nil {
		return 0, 0, err
	}
	defer ha.Close()
	hb, err := HandleAt(b.Name)
	if err != nil {
		return 0, 0, err
	}
	defer hb.Close()
	bNS, err := nsenter.Open(b.Path())
	if err != nil {
		return 0, 0, err
	}
	defer bNS.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.HardwareAddr = aName, mac
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: bName, PeerNamespace: netlink.NsFd(bNS)}); err != nil {
		return 0, 0, fmt.Errorf("creating interface %s: %w", aName, err)
	}
	for _, end := range []struct {
		h    *netlink.Handle
		name string
		idx  *int
	}{{ha, aName, &aIndex}, {hb, bName, &bIndex}} {
		if err := Up(end.h, end.name); err != nil {
			return 0, 0, err
		}
		ln, err := end.h.LinkByName(end.name)
		if err != nil {
			return 0, 0, err
		}
		*end.idx = ln.Attrs().Index
	}
	return aIndex, bIndex, nil
}
