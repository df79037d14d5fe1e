package kernel

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nftDataVerdict is the data type the kernel gives a verdict map (nft's
// vmap), NFT_DATA_VERDICT.
const nftDataVerdict = 0xffffff00

// setDefinition are the attributes that define a set, which a NEWSET
// message takes. A listing holds more, which NEWSET refuses: the handle,
// and since Linux 6.x the backend's name (NFTA_SET_TYPE) and the element
// count (NFTA_SET_COUNT). 17 and 18 are NFTA_SET_EXPR and
// NFTA_SET_EXPRESSIONS (per-element counters), which golang.org/x/sys
// does not name.
var setDefinition = []uint16{unix.NFTA_SET_FLAGS, unix.NFTA_SET_KEY_TYPE, unix.NFTA_SET_KEY_LEN,
	unix.NFTA_SET_DATA_TYPE, unix.NFTA_SET_DATA_LEN, unix.NFTA_SET_POLICY, unix.NFTA_SET_DESC,
	unix.NFTA_SET_TIMEOUT, unix.NFTA_SET_GC_INTERVAL, unix.NFTA_SET_USERDATA, unix.NFTA_SET_OBJ_TYPE, 17, 18}

// setAttrs reads, with a dump of its own, the sets of table t in the
// namespace at nsPath as the kernel lists them, and returns each set's
// attributes (see nft.LiveSet.Attrs) by name, for a restore to send back:
// google/nftables v0.3.0 reads too little of a set to make it again (a
// set's user data, which holds the byte order nft writes later elements
// in; its per-element counters; its policy) and some of it wrong. It puts
// right in sets what the library misreads and ksc reads too:
//
//   - a verdict map's (nft's vmap) key type: the library stores the map's
//     data type, verdict, in its place, so that the key's type and length
//     are lost;
//   - which sets are maps of objects, whose elements the library can
//     neither read nor write (see dumpRawElements).
func setAttrs(nsPath string, t *nftables.Table, sets []*nftables.Set) (attrs map[string][]byte, objectMaps map[string]bool, err error) {
	if len(sets) == 0 {
		return nil, nil, nil
	}
	raw := map[string]rawSet{}
	err = dump(nsPath, unix.NFT_MSG_GETSET, t.Family, []netlink.Attribute{
		{Type: unix.NFTA_SET_TABLE, Data: []byte(t.Name + "\x00")},
	}, func(attrs []byte) error {
		name, rs, err := decodeRawSet(attrs)
		raw[name] = rs
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the sets of %s: %w", t.Name, err)
	}
	attrs, objectMaps = map[string][]byte{}, map[string]bool{}
	for _, s := range sets {
		rs := raw[s.Name]
		attrs[s.Name] = rs.attrs
		if rs.flags&unix.NFT_SET_OBJECT != 0 {
			objectMaps[s.Name] = true
		}
		if !s.IsMap || rs.dataType != nftDataVerdict {
			continue
		}
		s.KeyType = nftables.SetDatatype{Name: fmt.Sprintf("type %#x", rs.keyType), Bytes: rs.keyLen}
		s.KeyType.SetNFTMagic(rs.keyType)
		s.DataType = nftables.TypeVerdict
		s.DataType.Bytes = rs.dataLen
	}
	return attrs, objectMaps, nil
}

// rawSet is a set as the kernel lists it.
type rawSet struct {
	flags, keyType, keyLen, dataType, dataLen uint32
	attrs                                     []byte // its setDefinition
}

// decodeRawSet reads a NEWSET message's name, its types and flags, and
// its attributes to send back.
func decodeRawSet(msg []byte) (name string, rs rawSet, err error) {
	err = eachAttr(msg, func(flagged uint16, value []byte) error {
		typ := flagged &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if typ == unix.NFTA_SET_NAME {
			name = string(trimNUL(value))
		}
		if slices.Contains(setDefinition, typ) {
			rs.attrs = appendAttr(rs.attrs, flagged, value)
		}
		var field *uint32
		switch typ {
		case unix.NFTA_SET_FLAGS:
			field = &rs.flags
		case unix.NFTA_SET_KEY_TYPE:
			field = &rs.keyType
		case unix.NFTA_SET_KEY_LEN:
			field = &rs.keyLen
		case unix.NFTA_SET_DATA_TYPE:
			field = &rs.dataType
		case unix.NFTA_SET_DATA_LEN:
			field = &rs.dataLen
		}
		if field == nil {
			return nil
		}
		if len(value) != 4 {
			return errMalformedAttrs
		}
		*field = binary.BigEndian.Uint32(value)
		return nil
	})
	return name, rs, err
}

// verdictElements gives each element of a verdict map its verdict:
// google/nftables v0.3.0 reads it as the raw attributes of the verdict in
// Val, which it would send back as a value of the wrong type.
func verdictElements(s *nftables.Set, elems []nftables.SetElement) error {
	if !s.IsMap || s.DataType.GetNFTMagic() != nftables.TypeVerdict.GetNFTMagic() {
		return nil
	}
	for i := range elems {
		e := &elems[i]
		if e.VerdictData != nil || len(e.Val) == 0 {
			continue
		}
		v, err := decodeVerdict(e.Val)
		if err != nil {
			return fmt.Errorf("map %s: %w", s.Name, err)
		}
		e.VerdictData, e.Val = v, nil
	}
	return nil
}

func decodeVerdict(attrs []byte) (*expr.Verdict, error) {
	v := &expr.Verdict{}
	hasCode := false
	err := walkAttrs(attrs, func(typ uint16, value []byte) error {
		switch typ {
		case unix.NFTA_VERDICT_CODE:
			if len(value) != 4 {
				return errMalformedAttrs
			}
			v.Kind, hasCode = expr.VerdictKind(int32(binary.BigEndian.Uint32(value))), true
		case unix.NFTA_VERDICT_CHAIN:
			v.Chain = string(trimNUL(value))
		}
		return nil
	})
	if err == nil && !hasCode {
		err = errMalformedAttrs
	}
	return v, err
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
