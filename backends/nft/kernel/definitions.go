package kernel

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Attributes of tables and chains which golang.org/x/sys does not name.
const (
	nftaTableUserData = 6
	nftaChainFlags    = 10
	nftaChainUserData = 12

	nftChainBinding = 0x4 // NFT_CHAIN_BINDING: an anonymous chain of one rule
)

// chainDefinition are the attributes that define a chain, which a
// NEWCHAIN message takes: its hook (with its priority and devices), type,
// policy, flags and user data. A listing holds more: handle, use count,
// and the counters of a base chain.
var chainDefinition = []uint16{unix.NFTA_CHAIN_HOOK, unix.NFTA_CHAIN_POLICY, unix.NFTA_CHAIN_TYPE, nftaChainFlags, nftaChainUserData}

// readUserData reads what google/nftables v0.3.0 does not read of the
// tables and chains of rs in the namespace at nsPath, so that a restore
// can send it back: each table's user data (nft's comment), and each
// chain's definition, which the library reads without its user data or
// the devices of a netdev hook (a rollback once brought back an ingress
// chain with no device: hooked to nothing, filtering nothing). One dump of
// tables and one of chains for each family.
func readUserData(nsPath string, rs *nft.Ruleset) error {
	families := map[nftables.TableFamily]bool{}
	for _, t := range rs.Tables {
		families[t.Table.Family] = true
	}
	for family := range families {
		err := dump(nsPath, unix.NFT_MSG_GETTABLE, family, nil, func(attrs []byte) error {
			var name string
			var userData []byte
			err := walkAttrs(attrs, func(typ uint16, value []byte) error {
				switch typ {
				case unix.NFTA_TABLE_NAME:
					name = string(trimNUL(value))
				case nftaTableUserData:
					userData = append([]byte(nil), value...)
				}
				return nil
			})
			if t := rs.Table(family, name); t != nil {
				t.UserData = userData
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("reading tables: %w", err)
		}
		err = dump(nsPath, unix.NFT_MSG_GETCHAIN, family, nil, func(attrs []byte) error {
			var table, name string
			var definition []byte
			binding := false
			err := eachAttr(attrs, func(flagged uint16, value []byte) error {
				typ := flagged &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
				switch typ {
				case unix.NFTA_CHAIN_TABLE:
					table = string(trimNUL(value))
				case unix.NFTA_CHAIN_NAME:
					name = string(trimNUL(value))
				case nftaChainFlags:
					binding = len(value) == 4 && binary.BigEndian.Uint32(value)&nftChainBinding != 0
				}
				if slices.Contains(chainDefinition, typ) {
					definition = appendAttr(definition, flagged, value)
				}
				return nil
			})
			if t := rs.Table(family, table); t != nil {
				for _, ch := range t.Chains {
					if ch.Chain.Name == name {
						ch.Attrs, ch.Binding = definition, binding
					}
				}
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("reading chains: %w", err)
		}
	}
	return nil
}

// withAttr is attrs with the attribute typ holding value, in place of the
// one there was.
func withAttr(attrs []netlink.Attribute, typ uint16, value []byte) []netlink.Attribute {
	for i, a := range attrs {
		if a.Type == typ {
			attrs[i].Data = value
			return attrs
		}
	}
	return append(attrs, netlink.Attribute{Type: typ, Data: value})
}
