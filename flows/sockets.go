package flows

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A socket is what a flow's local socket tells that conntrack does not:
// its owner and its mark, which the policy may match (meta skuid, meta
// mark) and the routing rules may choose by (wg-quick's fwmark rule).
type socket struct {
	uid, mark uint32
}

// socketKey names a socket by its protocol and ends; an unconnected one
// has no remote end.
type socketKey struct {
	proto         uint8
	local, remote netip.AddrPort
}

// sockets are the TCP and UDP sockets of a namespace.
type sockets map[socketKey]socket

// find is the socket of a flow from local to remote: a connected one, or
// one bound to local alone.
func (s sockets) find(proto uint8, local, remote netip.AddrPort) (socket, bool) {
	if so, ok := s[socketKey{proto, local, remote}]; ok {
		return so, true
	}
	for _, any := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		if so, ok := s[socketKey{proto, local, netip.AddrPortFrom(any, 0)}]; ok {
			return so, true
		}
		if so, ok := s[socketKey{proto, netip.AddrPortFrom(any, local.Port()), netip.AddrPortFrom(any, 0)}]; ok {
			return so, true
		}
	}
	return socket{}, false
}

// Message and attribute numbers of sock_diag (linux/sock_diag.h,
// linux/inet_diag.h) that golang.org/x/sys does not name.
const (
	sockDiagByFamily = 20
	inetDiagMark     = 15
	inetDiagMsgSize  = 72
)

// readSockets lists the TCP and UDP sockets of the namespace h refers to,
// with their owners and marks (the kernel gives a mark only to a caller
// with CAP_NET_ADMIN, as ksc is).
func readSockets(h netns.NsHandle) (sockets, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{NetNS: int(h)})
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	defer c.Close()
	out := sockets{}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		for _, proto := range []uint8{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			req := make([]byte, 56) // inet_diag_req_v2, its socket id empty
			req[0], req[1] = family, proto
			binary.NativeEndian.PutUint32(req[4:], 0xffffffff) // every state
			msgs, err := c.Execute(netlink.Message{
				Header: netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump},
				Data:   req,
			})
			if err != nil {
				return nil, fmt.Errorf("listing sockets: %w", err)
			}
			for _, m := range msgs {
				if key, so, ok := decodeSocket(proto, m.Data); ok {
					out[key] = so
				}
			}
		}
	}
	return out, nil
}

// decodeSocket reads an inet_diag_msg and its attributes.
func decodeSocket(proto uint8, b []byte) (socketKey, socket, bool) {
	if len(b) < inetDiagMsgSize {
		return socketKey{}, socket{}, false
	}
	family := b[0]
	id := b[4:52]
	addr := func(raw []byte) netip.Addr {
		if family == unix.AF_INET {
			return netip.AddrFrom4([4]byte(raw[:4]))
		}
		return netip.AddrFrom16([16]byte(raw[:16])).Unmap()
	}
	key := socketKey{proto: proto,
		local:  netip.AddrPortFrom(addr(id[4:20]), binary.BigEndian.Uint16(id[0:])),
		remote: netip.AddrPortFrom(addr(id[20:36]), binary.BigEndian.Uint16(id[2:]))}
	so := socket{uid: binary.NativeEndian.Uint32(b[64:])}
	attrs, err := netlink.NewAttributeDecoder(b[inetDiagMsgSize:])
	if err == nil {
		for attrs.Next() {
			if attrs.Type() == inetDiagMark {
				so.mark = attrs.Uint32()
			}
		}
	}
	return key, so, true
}
