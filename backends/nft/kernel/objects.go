package kernel

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Attributes of a stateful object and a flowtable that golang.org/x/sys
// does not name.
const (
	nftaObjUserData = 8

	nftaFlowtableTable = 1
	nftaFlowtableName  = 2
)

// readObjects reads table t's stateful objects (named counters, quotas,
// limits, ct helpers and timeouts, ...) in the namespace at nsPath, each
// as the attributes a restore sends back. google/nftables v0.3.0 decodes
// an object's data into its own types and would encode it anew; the
// kernel's own bytes need no round trip to be right.
func readObjects(nsPath string, t *nftables.Table) ([]nft.LiveObject, error) {
	var objects []nft.LiveObject
	err := dump(nsPath, unix.NFT_MSG_GETOBJ, t.Family, []netlink.Attribute{
		{Type: unix.NFTA_OBJ_TABLE, Data: []byte(t.Name + "\x00")},
	}, func(attrs []byte) error {
		var o nft.LiveObject
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_OBJ_NAME:
				o.Name = string(trimNUL(value))
			case unix.NFTA_OBJ_TYPE:
				if len(value) != 4 {
					return errMalformedAttrs
				}
				o.Type = binary.BigEndian.Uint32(value)
			case unix.NFTA_OBJ_DATA:
				o.Attrs = appendAttr(o.Attrs, typ|unix.NLA_F_NESTED, value)
			case nftaObjUserData:
				o.Attrs = appendAttr(o.Attrs, typ, value)
			}
			return nil
		})
		objects = append(objects, o)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the objects of %s: %w", t.Name, err)
	}
	return objects, nil
}

// appendAttr appends an attribute of type typ holding value.
func appendAttr(b []byte, typ uint16, value []byte) []byte {
	b = appendAttrHeader(b, unix.SizeofNlAttr+len(value), typ)
	b = append(b, value...)
	return append(b, make([]byte, nlaAlign(len(value))-len(value))...)
}

// readFlowtables notes table t's flowtables in the namespace at nsPath as
// what lt cannot have restored: their devices are the machine's, not a
// scratch namespace's, and google/nftables v0.3.0 reads too little of one.
func readFlowtables(nsPath string, t *nftables.Table, lt *nft.LiveTable) error {
	err := dump(nsPath, unix.NFT_MSG_GETFLOWTABLE, t.Family, []netlink.Attribute{
		{Type: nftaFlowtableTable, Data: []byte(t.Name + "\x00")},
	}, func(attrs []byte) error {
		return walkAttrs(attrs, func(typ uint16, value []byte) error {
			if typ == nftaFlowtableName {
				lt.Unrestorable = append(lt.Unrestorable, "flowtable "+string(trimNUL(value)))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("reading the flowtables of %s: %w", t.Name, err)
	}
	return nil
}

// queueObject adds o to table: google/nftables queues the message, and
// setObjectAttrs (see dialRestoring) puts o's own attributes in it.
func queueObject(c batchConn, table *nftables.Table, o nft.LiveObject) {
	c.AddObj(&nftables.NamedObj{Table: table, Name: o.Name, Type: nftables.ObjType(o.Type), Obj: &expr.Counter{}})
}
