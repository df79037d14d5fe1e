package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
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
func dumpSetElements(nsPath string, s *nftables.Set) (nft.Elements, error) {
	if s.IsMap || s.HasTimeout || s.Dynamic {
		return nft.Elements{}, errNotPlain
	}
	var read nft.Elements
	err := dump(nsPath, unix.NFT_MSG_GETSETELEM, s.Table.Family, []netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(s.Table.Name + "\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(s.Name + "\x00")},
	}, func(attrs []byte) error { return addPlainElements(&read, attrs) })
	if err != nil {
		if errors.Is(err, errNotPlain) {
			return nft.Elements{}, err
		}
		return nft.Elements{}, fmt.Errorf("reading set %s: %w", s.Name, err)
	}
	return read, nil
}

// dump asks nf_tables, in the namespace at nsPath, for a dump of msgType
// restricted by attrs, and calls each with the attributes of every message
// of the answer, in dumpBuffer pieces.
func dump(nsPath string, msgType uint16, family nftables.TableFamily, attrs []netlink.Attribute, each func(attrs []byte) error) error {
	return dumpEach(nsPath, msgType, family, attrs, func(_ nftables.TableFamily, attrs []byte) error { return each(attrs) })
}

// dumpEach is dump, telling each the family of every message: a dump of
// TableFamilyUnspecified answers for all of them.
func dumpEach(nsPath string, msgType uint16, family nftables.TableFamily, attrs []netlink.Attribute, each func(family nftables.TableFamily, attrs []byte) error) error {
	var fd int
	err := nsenter.Run(nsPath, func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	data, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return err
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:     netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | msgType),
			Flags:    netlink.Request | netlink.Dump,
			Sequence: 1,
		},
		Data: append([]byte{byte(family), unix.NFNETLINK_V0, 0, 0}, data...),
	}
	req.Header.Length = uint32(unix.NLMSG_HDRLEN + len(req.Data))
	raw, err := req.MarshalBinary()
	if err != nil {
		return err
	}
	if err := unix.Sendto(fd, raw, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("asking: %w", err)
	}
	buf := make([]byte, dumpBuffer)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
						return unix.Errno(-code)
					}
				}
				return nil
			}
			if len(m.Data) < 4 {
				continue
			}
			if err := each(nftables.TableFamily(m.Data[0]), m.Data[4:]); err != nil {
				return err
			}
		}
	}
}

// addPlainElements decodes one NEWSETELEM message's elements into es:
// each must be a key and flags only. The attributes are walked in place: a
// decoder for each element was 40 MB of garbage for 200,000 of them.
func addPlainElements(es *nft.Elements, data []byte) error {
	return walkAttrs(data, func(typ uint16, list []byte) error {
		if typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			return nil
		}
		return walkAttrs(list, func(_ uint16, elem []byte) error {
			key, intervalEnd, err := plainElement(elem)
			if err != nil {
				return err
			}
			es.Add(key, intervalEnd)
			return nil
		})
	})
}

// plainElement decodes an element of a key and flags only; the key is
// data's.
func plainElement(data []byte) (key []byte, intervalEnd bool, err error) {
	err = walkAttrs(data, func(typ uint16, value []byte) error {
		switch typ {
		case unix.NFTA_SET_ELEM_KEY:
			return walkAttrs(value, func(typ uint16, data []byte) error {
				if typ == unix.NFTA_DATA_VALUE {
					key = data
				}
				return nil
			})
		case unix.NFTA_SET_ELEM_FLAGS:
			if len(value) != 4 {
				return errNotPlain
			}
			flags := binary.BigEndian.Uint32(value)
			if flags&^unix.NFT_SET_ELEM_INTERVAL_END != 0 {
				return errNotPlain
			}
			intervalEnd = flags&unix.NFT_SET_ELEM_INTERVAL_END != 0
			return nil
		}
		return errNotPlain
	})
	return key, intervalEnd, err
}

// walkAttrs calls fn with the type (its flags cleared) and the value of
// each netlink attribute in b, in place.
func walkAttrs(b []byte, fn func(typ uint16, value []byte) error) error {
	return eachAttr(b, func(typ uint16, value []byte) error {
		return fn(typ&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), value)
	})
}

var errMalformedAttrs = errors.New("malformed netlink attributes")

// handlePath names the namespace an open handle refers to, for as long as
// the handle stays open.
func handlePath(h netns.NsHandle) string { return fmt.Sprintf("/proc/self/fd/%d", int(h)) }

// elementDefinition are the attributes of an element that a NEWSETELEM
// message takes back; a listing also holds the time an element has left
// and padding.
var elementDefinition = []uint16{unix.NFTA_SET_ELEM_KEY, unix.NFTA_SET_ELEM_DATA, unix.NFTA_SET_ELEM_FLAGS,
	unix.NFTA_SET_ELEM_TIMEOUT, unix.NFTA_SET_ELEM_USERDATA, unix.NFTA_SET_ELEM_EXPR, unix.NFTA_SET_ELEM_OBJREF, nftaSetElemKeyEnd}

// nftaSetElemKeyEnd is NFTA_SET_ELEM_KEY_END, which golang.org/x/sys does
// not name.
const nftaSetElemKeyEnd = 10

// dumpRawElements reads the elements of s in the namespace at nsPath,
// each as the attributes of its elementDefinition, as the kernel lists
// them.
func dumpRawElements(nsPath string, s *nftables.Set) ([][]byte, error) {
	var elems [][]byte
	err := dump(nsPath, unix.NFT_MSG_GETSETELEM, s.Table.Family, []netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(s.Table.Name + "\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(s.Name + "\x00")},
	}, func(attrs []byte) error {
		return walkAttrs(attrs, func(typ uint16, list []byte) error {
			if typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				return nil
			}
			return walkAttrs(list, func(_ uint16, elem []byte) error {
				var kept []byte
				err := eachAttr(elem, func(typ uint16, value []byte) error {
					if slices.Contains(elementDefinition, typ&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER)) {
						kept = appendAttr(kept, typ, value)
					}
					return nil
				})
				elems = append(elems, kept)
				return err
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading set %s: %w", s.Name, err)
	}
	return elems, nil
}
