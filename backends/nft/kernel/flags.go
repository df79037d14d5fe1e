package kernel

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Table flags as the kernel keeps them (NFTA_TABLE_FLAGS).
const (
	// TableDormant: the table's chains are not hooked; it filters nothing.
	TableDormant = unix.NFT_TABLE_F_DORMANT
	// TableOwner: the table belongs to one netlink socket, and only that
	// socket may change it; it goes away when the socket closes.
	TableOwner = 0x2
)

// TableRef names a table: its family and its name.
type TableRef struct {
	Family nftables.TableFamily
	Name   string
}

// RefOf names t.
func RefOf(t *nftables.Table) TableRef { return TableRef{t.Family, t.Name} }

func (r TableRef) String() string { return nft.FamilyName(r.Family) + " " + r.Name }

// ParseTableRef reads the form String writes ("inet killswitch").
func ParseTableRef(s string) (TableRef, error) {
	for _, f := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6,
		nftables.TableFamilyINet, nftables.TableFamilyARP, nftables.TableFamilyBridge, nftables.TableFamilyNetdev} {
		prefix := nft.FamilyName(f) + " "
		if len(s) > len(prefix) && s[:len(prefix)] == prefix {
			return TableRef{f, s[len(prefix):]}, nil
		}
	}
	return TableRef{}, fmt.Errorf("%q is not a table (FAMILY NAME)", s)
}

// dialWithTableFlags opens a connection into the namespace whose file
// descriptor is nsFd, like dialHandle, through which every new table
// carries the flags given for it. google/nftables v0.3.0 always sends
// flags 0, which would wake a dormant table on restore; the connection
// passes every message and reply through unchanged otherwise, so the
// library's own batching and error handling stay in charge. It is for
// batches only: a dump (List*, Get*) would wait for ever on it.
func dialWithTableFlags(nsFd int, flags map[TableRef]uint32) (*nftables.Conn, func(), error) {
	sock, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFd})
	if err != nil {
		return nil, nil, err
	}
	if err := bigBuffers(sock); err != nil {
		sock.Close()
		return nil, nil, err
	}
	pass := func(req []netlink.Message) ([]netlink.Message, error) {
		if req == nil { // the library waits for a reply
			return sock.Receive()
		}
		for i := range req {
			setTableFlags(&req[i], flags)
		}
		_, err := sock.SendMessages(req)
		return nil, err
	}
	c, err := nftables.New(nftables.WithTestDial(pass), nftables.AsLasting())
	if err != nil {
		sock.Close()
		return nil, nil, err
	}
	return c, func() { c.CloseLasting(); sock.Close() }, nil
}

// setTableFlags rewrites the flags of a NEWTABLE message for a table that
// flags names; other messages are left alone.
func setTableFlags(m *netlink.Message, flags map[TableRef]uint32) {
	if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWTABLE) || len(m.Data) < 4 {
		return
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return
	}
	var attrs []netlink.Attribute
	var name string
	for ad.Next() {
		if ad.Type() == unix.NFTA_TABLE_NAME {
			name = ad.String()
		}
		attrs = append(attrs, netlink.Attribute{Type: ad.Type(), Data: ad.Bytes()})
	}
	want, ok := flags[TableRef{nftables.TableFamily(m.Data[0]), name}]
	if ad.Err() != nil || !ok {
		return
	}
	for i := range attrs {
		if attrs[i].Type == unix.NFTA_TABLE_FLAGS {
			attrs[i].Data = binary.BigEndian.AppendUint32(nil, want)
		}
	}
	data, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return
	}
	m.Data = append(m.Data[:4:4], data...)
}
