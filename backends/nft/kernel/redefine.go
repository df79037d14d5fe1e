package kernel

import (
	"encoding/binary"
	"slices"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// redefine gives a message of type msgType, which google/nftables wrote
// as a placeholder, the attributes that define what it adds as the kernel
// listed them: it keeps the attributes identity names, as the library
// wrote them, and puts after them what lookup returns for their values;
// m is left alone when lookup returns nil.
func redefine(m *netlink.Message, msgType int, identity []uint16, lookup func(family nftables.TableFamily, ids map[uint16][]byte) []byte) {
	if m.Header.Type != nftMessage(msgType) || len(m.Data) < 4 {
		return
	}
	ids := map[uint16][]byte{}
	var kept []byte
	err := eachAttr(m.Data[4:], func(typ uint16, value []byte) error {
		if bare := typ &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER); slices.Contains(identity, bare) {
			ids[bare] = value
			kept = appendAttr(kept, typ, value)
		}
		return nil
	})
	if err != nil {
		return
	}
	if want := lookup(nftables.TableFamily(m.Data[0]), ids); want != nil {
		m.Data = append(append(m.Data[:4:4], kept...), want...)
	}
}

// setSetAttrs gives a NEWSET message for a set that sets holds, by its ID
// in the batch, those attributes.
func setSetAttrs(m *netlink.Message, sets map[uint32][]byte) {
	redefine(m, unix.NFT_MSG_NEWSET, []uint16{unix.NFTA_SET_TABLE, unix.NFTA_SET_NAME, unix.NFTA_SET_ID},
		func(_ nftables.TableFamily, ids map[uint16][]byte) []byte {
			if id := ids[unix.NFTA_SET_ID]; len(id) == 4 {
				return sets[binary.BigEndian.Uint32(id)]
			}
			return nil
		})
}

// setChainAttrs gives a NEWCHAIN message for a chain that chains names
// those attributes.
func setChainAttrs(m *netlink.Message, chains map[itemRef][]byte) {
	redefine(m, unix.NFT_MSG_NEWCHAIN, []uint16{unix.NFTA_CHAIN_TABLE, unix.NFTA_CHAIN_NAME},
		func(family nftables.TableFamily, ids map[uint16][]byte) []byte {
			return chains[itemRef{TableRef{family, string(trimNUL(ids[unix.NFTA_CHAIN_TABLE]))}, string(trimNUL(ids[unix.NFTA_CHAIN_NAME]))}]
		})
}

// setObjectAttrs gives a NEWOBJ message for an object that objects names
// the data and user data Read found, in place of the placeholder
// queueObject wrote.
func setObjectAttrs(m *netlink.Message, objects map[itemRef][]byte) {
	redefine(m, unix.NFT_MSG_NEWOBJ, []uint16{unix.NFTA_OBJ_TABLE, unix.NFTA_OBJ_NAME, unix.NFTA_OBJ_TYPE},
		func(family nftables.TableFamily, ids map[uint16][]byte) []byte {
			return objects[itemRef{TableRef{family, string(trimNUL(ids[unix.NFTA_OBJ_TABLE]))}, string(trimNUL(ids[unix.NFTA_OBJ_NAME]))}]
		})
}
