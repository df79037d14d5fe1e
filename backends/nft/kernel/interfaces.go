package kernel

import (
	"errors"
	"fmt"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// resolveInterfaces looks up, in the namespace h, the indexes of the
// interfaces the batch's iif and oif matches name, as nft does when it
// loads a ruleset.
func resolveInterfaces(b *nft.Batch, h netns.NsHandle) error {
	if len(b.Interfaces()) == 0 {
		return nil
	}
	links, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("reading the namespace's interfaces: %w", err)
	}
	defer links.Close()
	var lookupErr error
	err = b.ResolveInterfaces(func(name string) (uint32, bool) {
		link, err := links.LinkByName(name)
		var missing netlink.LinkNotFoundError
		if err != nil && !errors.As(err, &missing) {
			lookupErr = errors.Join(lookupErr, fmt.Errorf("looking up interface %s: %w", name, err))
		}
		if err != nil {
			return 0, false
		}
		return uint32(link.Attrs().Index), true
	})
	return errors.Join(lookupErr, err)
}
