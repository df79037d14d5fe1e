package kernel

import (
	"errors"
	"fmt"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/cgroup"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// resolve looks up, in the namespace h, the indexes of the interfaces the
// batch's iif and oif matches name, and on the machine the ids of the
// cgroups it names, as nft does when it loads a ruleset.
func resolve(b *nft.Batch, h netns.NsHandle) error {
	if len(b.Interfaces())+len(b.Cgroups()) == 0 {
		return nil
	}
	links, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("reading the namespace's interfaces: %w", err)
	}
	defer links.Close()
	r := &resolver{links: links}
	if err := b.Resolve(r); r.err == nil {
		return err // the diagnostics, as they are
	}
	return errors.Join(r.err, err)
}

type resolver struct {
	links *netlink.Handle
	err   error // what failed other than a missing name
}

func (r *resolver) InterfaceIndex(name string) (uint32, bool) {
	link, err := r.links.LinkByName(name)
	var missing netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &missing) {
		r.err = errors.Join(r.err, fmt.Errorf("looking up interface %s: %w", name, err))
	}
	if err != nil {
		return 0, false
	}
	return uint32(link.Attrs().Index), true
}

func (r *resolver) CgroupID(path string) (uint64, bool) {
	id, err := cgroup.ID(path)
	if err != nil && !errors.Is(err, cgroup.ErrMissing) {
		r.err = errors.Join(r.err, err)
	}
	return id, err == nil
}
