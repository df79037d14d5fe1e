package flows

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Read lists the flows conntrack tracks in the namespace at nsPath (the
// current one when empty), each with its first packet routed as the
// namespace's routes send it now.
func Read(nsPath string) ([]Flow, error) {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ct, err := Conntrack(nsPath)
	if err != nil {
		return nil, err
	}
	defer ct.Close()
	// A dump walks the whole machine's conntrack table, every namespace's
	// buckets (11 ms of the example's 32 ms apply here); the namespace's
	// own count says first whether there is anything to find.
	if stats, err := ct.StatsGlobal(); err == nil && stats.Entries == 0 {
		return nil, nil
	}
	entries, err := ct.Dump(nil)
	if err != nil {
		return nil, fmt.Errorf("listing conntrack flows: %w", err)
	}
	routes, err := namespaceRoutes(h)
	if err != nil {
		return nil, err
	}
	defer routes.handle.Close()
	var flows []Flow
	for _, e := range entries {
		if pkt, ok := first(e, routes); ok {
			flows = append(flows, Flow{First: pkt, entry: e})
		}
	}
	return flows, nil
}

// Conntrack talks to conntrack in the namespace at nsPath (the current one
// when empty); the connection stays in that namespace.
func Conntrack(nsPath string) (*conntrack.Conn, error) {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ct, err := conntrack.Dial(&netlink.Config{NetNS: int(h)})
	if err != nil {
		return nil, fmt.Errorf("conntrack: %w", err)
	}
	return ct, nil
}

// Close deletes the flows' conntrack entries, so that their next packets
// are judged as new ones. A flow already gone is no error.
func Close(nsPath string, flows []Flow) error {
	if len(flows) == 0 {
		return nil
	}
	ct, err := Conntrack(nsPath)
	if err != nil {
		return err
	}
	defer ct.Close()
	var errs error
	for _, f := range flows {
		if err := ct.Delete(f.entry); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = errors.Join(errs, fmt.Errorf("closing %s: %w", f, err))
		}
	}
	return errs
}

// KernelRoutes is the routing of the namespace at nsPath (the current
// one when empty), as the kernel answers it; done lets it go.
func KernelRoutes(nsPath string) (r Routes, done func(), err error) {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return nil, nil, err
	}
	defer h.Close()
	routes, err := namespaceRoutes(h)
	if err != nil {
		return nil, nil, err
	}
	return routes, func() { routes.handle.Close() }, nil
}

// kernelRoutes answers Routes from a namespace's addresses, sockets and
// routing, asking the kernel itself (RTM_GETROUTE) where a packet goes.
type kernelRoutes struct {
	handle  *vnl.Handle
	local   map[netip.Addr]bool
	names   map[int]string
	sockets sockets
}

func namespaceRoutes(h netns.NsHandle) (*kernelRoutes, error) {
	handle, err := vnl.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	r := &kernelRoutes{handle: handle, local: map[netip.Addr]bool{}, names: map[int]string{}}
	links, err := handle.LinkList()
	if err != nil {
		handle.Close()
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	for _, l := range links {
		r.names[l.Attrs().Index] = l.Attrs().Name
	}
	addrs, err := handle.AddrList(nil, vnl.FAMILY_ALL)
	if err != nil {
		handle.Close()
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			r.local[ip.Unmap()] = true
		}
	}
	if r.sockets, err = readSockets(h); err != nil {
		handle.Close()
		return nil, err
	}
	return r, nil
}

func (r *kernelRoutes) Local(a netip.Addr) bool { return r.local[a] }

func (r *kernelRoutes) Socket(proto uint8, local, remote netip.AddrPort) (uid, mark uint32, ok bool) {
	so, ok := r.sockets.find(proto, local, remote)
	return so.uid, so.mark, ok
}

func (r *kernelRoutes) Out(src, dst netip.Addr, mark uint32, uid *uint32) string {
	opts := &vnl.RouteGetOptions{Mark: mark, UID: uid}
	if src.IsValid() {
		opts.SrcAddr = src.AsSlice()
	}
	return r.get(dst, opts)
}

func (r *kernelRoutes) Forward(iif string, src, dst netip.Addr) string {
	if iif == "" {
		return r.get(dst, &vnl.RouteGetOptions{})
	}
	if oif := r.get(dst, &vnl.RouteGetOptions{Iif: iif, SrcAddr: src.AsSlice()}); oif != "" {
		return oif
	}
	// Refused as input (reverse-path filtering, an interface gone): where
	// the destination is reached at all.
	return r.get(dst, &vnl.RouteGetOptions{})
}

func (r *kernelRoutes) get(dst netip.Addr, opts *vnl.RouteGetOptions) string {
	routes, err := r.handle.RouteGetWithOptions(dst.AsSlice(), opts)
	if err != nil || len(routes) == 0 {
		return ""
	}
	return r.names[routes[0].LinkIndex]
}
