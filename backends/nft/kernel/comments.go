package kernel

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// User data attributes of tables and chains (nft keeps comments there),
// which golang.org/x/sys does not name.
const (
	nftaTableUserData = 6
	nftaChainUserData = 12
)

// readUserData reads the user data of every table and chain of rs in the
// namespace at nsPath (nft's comments: `comment "..."`), which
// google/nftables v0.3.0 reads of neither, so that a restore can send it
// back. One dump of tables and one of chains for each family.
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
			var userData []byte
			err := walkAttrs(attrs, func(typ uint16, value []byte) error {
				switch typ {
				case unix.NFTA_CHAIN_TABLE:
					table = string(trimNUL(value))
				case unix.NFTA_CHAIN_NAME:
					name = string(trimNUL(value))
				case nftaChainUserData:
					userData = append([]byte(nil), value...)
				}
				return nil
			})
			if t := rs.Table(family, table); t != nil {
				for _, ch := range t.Chains {
					if ch.Chain.Name == name {
						ch.UserData = userData
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

// setChainUserData gives a NEWCHAIN message for a chain that userData
// names that user data.
func setChainUserData(m *netlink.Message, userData map[setRef][]byte) {
	if m.Header.Type != nftMessage(unix.NFT_MSG_NEWCHAIN) || len(userData) == 0 {
		return
	}
	rewriteAttrs(m, func(list *[]netlink.Attribute) bool {
		ref := setRef{table: TableRef{Family: nftables.TableFamily(m.Data[0])}}
		for _, a := range *list {
			switch a.Type {
			case unix.NFTA_CHAIN_TABLE:
				ref.table.Name = string(trimNUL(a.Data))
			case unix.NFTA_CHAIN_NAME:
				ref.name = string(trimNUL(a.Data))
			}
		}
		want, ok := userData[ref]
		if ok {
			*list = withAttr(*list, nftaChainUserData, want)
		}
		return ok
	})
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
