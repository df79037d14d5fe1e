package backends

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
)

// A Loader is one way a policy reaches the kernel: what "ksc test
// --kernel --backend" chooses among, and what the tests that hold every
// target to one meaning send packets through.
type Loader struct {
	Name string
	// Compile says whether the loader can express p at all.
	Compile func(p *ir.Policy) error
	// Load puts p in force in the namespace at nsPath, in place of what
	// is there.
	Load func(p *ir.Policy, nsPath string) error
}

// LoaderNames names every loader, in the order they are tried.
func LoaderNames() []string {
	names := make([]string, len(Loaders))
	for i, l := range Loaders {
		names[i] = l.Name
	}
	return names
}

// Loaders are every loader, in the order they are tried.
var Loaders = []Loader{
	{"netlink", func(p *ir.Policy) error { _, err := nft.Lower(p); return err }, func(p *ir.Policy, nsPath string) error {
		b, err := nft.Lower(p)
		if err != nil {
			return err
		}
		return kernel.Apply(b, nsPath)
	}},
	{"nft", func(p *ir.Policy) error { _, err := nft.Render(p, ""); return err }, func(p *ir.Policy, nsPath string) error {
		root, err := cgroup.NftRootFor(p)
		if err != nil {
			return err
		}
		text, err := nft.Render(p, root)
		if err != nil {
			return err
		}
		return NftF(nsPath, string(text))
	}},
	{"iptables-nft", compileIptables, func(p *ir.Policy, nsPath string) error { return iptables.Apply(p, nsPath, iptables.ModeNFT) }},
	{"iptables-legacy", compileIptables, func(p *ir.Policy, nsPath string) error {
		return iptables.Apply(p, nsPath, iptables.ModeLegacy)
	}},
}

// LoaderNamed is the loader of that name, or false.
func LoaderNamed(name string) (Loader, bool) {
	for _, l := range Loaders {
		if l.Name == name {
			return l, true
		}
	}
	return Loader{}, false
}

func compileIptables(p *ir.Policy) error {
	for _, f := range []ir.Family{ir.IPv4, ir.IPv6} {
		if _, err := iptables.Render(p, f); err != nil {
			return err
		}
	}
	return nil
}

// NftF loads nft text with "nft -f" in the namespace at nsPath.
func NftF(nsPath, text string) error {
	return nsenter.Run(nsPath, func() error {
		cmd := exec.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft -f: %v: %s", err, out)
		}
		return nil
	})
}
