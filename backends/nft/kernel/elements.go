package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// dumpBuffer is what each receive asks for. The kernel fills a dump
// message up to the size of the reader's last receive, at most 32 KiB:
// google/nftables receives a page at a time, so a set comes in 4 KiB
// pieces, and for each the kernel walks an interval set's tree from its
// start to the piece's first element, which is quadratic in the set's
// size (ksc status of a 100,000-range set spent 20 s there).
const dumpBuffer = 64 << 10

// errNotPlain says a set's elements carry more than keys and flags (a
// map's data, a timeout, a comment): the caller reads it the slow way,
// which keeps all of it.
var errNotPlain = errors.New("set elements carry more than keys")

// dumpSetElements reads the keys and interval flags of a set's elements in
// the namespace at nsPath (this one when empty) in dumpBuffer pieces.
func dumpSetElements(nsPath string, s *nftables.Set) ([]nftables.SetElement, error) {
	if s.IsMap || s.HasTimeout || s.Dynamic {
		return nil, errNotPlain
	}
	var fd int
	err := nsenter.Run(nsPath, func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(s.Table.Name + "\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(s.Name + "\x00")},
	})
	if err != nil {
		return nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:     netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags:    netlink.Request | netlink.Dump,
			Sequence: 1,
		},
		Data: append([]byte{byte(s.Table.Family), unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	req.Header.Length = uint32(unix.NLMSG_HDRLEN + len(req.Data))
	raw, err := req.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := unix.Sendto(fd, raw, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("asking for set %s: %w", s.Name, err)
	}
	var elems []nftables.SetElement
	buf := make([]byte, dumpBuffer)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("reading set %s: %w", s.Name, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("reading set %s: %w", s.Name, err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return elems, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
						return nil, fmt.Errorf("reading set %s: %w", s.Name, unix.Errno(-code))
					}
				}
				return elems, nil
			}
			if len(m.Data) < 4 {
				continue
			}
			if elems, err = appendElements(elems, m.Data[4:]); err != nil {
				return nil, err
			}
		}
	}
}

// appendElements decodes one NEWSETELEM message's elements: each must be a
// key and flags only.
func appendElements(elems []nftables.SetElement, data []byte) ([]nftables.SetElement, error) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return nil, err
	}
	for ad.Next() {
		if ad.Type() != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			continue
		}
		list, err := netlink.NewAttributeDecoder(ad.Bytes())
		if err != nil {
			return nil, err
		}
		for list.Next() {
			e, err := plainElement(list.Bytes())
			if err != nil {
				return nil, err
			}
			elems = append(elems, e)
		}
		if err := list.Err(); err != nil {
			return nil, err
		}
	}
	return elems, ad.Err()
}

func plainElement(data []byte) (nftables.SetElement, error) {
	var e nftables.SetElement
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return e, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_SET_ELEM_KEY:
			key, err := netlink.NewAttributeDecoder(ad.Bytes())
			if err != nil {
				return e, err
			}
			for key.Next() {
				if key.Type() == unix.NFTA_DATA_VALUE {
					e.Key = slices.Clone(key.Bytes()) // the buffer is read into again
				}
			}
		case unix.NFTA_SET_ELEM_FLAGS:
			flags := ad.Uint32()
			if flags&^unix.NFT_SET_ELEM_INTERVAL_END != 0 {
				return e, errNotPlain
			}
			e.IntervalEnd = flags&unix.NFT_SET_ELEM_INTERVAL_END != 0
		default:
			return e, errNotPlain
		}
	}
	return e, ad.Err()
}

// handlePath names the namespace an open handle refers to, for as long as
// the handle stays open.
func handlePath(h netns.NsHandle) string { return fmt.Sprintf("/proc/self/fd/%d", int(h)) }
