package kernel

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
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
// flags 0, which would wake a dormant table on restore.
func dialWithTableFlags(nsFd int, flags map[TableRef]uint32) (batchConn, func(), error) {
	return dialFixing(nsFd, func(m *netlink.Message) { setTableFlags(m, flags) }, fixHostOrderSet, noEcho)
}

// dialFixing opens a connection into the namespace whose file descriptor
// is nsFd that passes each message of a batch through fixes on its way
// to the kernel: what google/nftables v0.3.0 gets wrong and offers no
// option for; new rules go without a request for acknowledgement (see
// quietRules), and set elements and rules queued with addElements and
// addRules go in ksc's own encoding (see slots). Every other message and
// every reply goes through unchanged, so the library's own batching and
// error handling stay in charge. It is for batches only: a dump (List*,
// Get*) would wait for ever on it.
func dialFixing(nsFd int, fixes ...func(*netlink.Message)) (batchConn, func(), error) {
	sock, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFd})
	if err != nil {
		return batchConn{}, nil, err
	}
	if err := bigBuffers(sock); err != nil {
		sock.Close()
		return batchConn{}, nil, err
	}
	quiet := &quietRules{sock: sock}
	elems, rules := elementSlots(), ruleSlots()
	pass := func(req []netlink.Message) ([]netlink.Message, error) {
		if req == nil { // the library waits for a reply
			return quiet.receive()
		}
		for i := range req {
			for _, fix := range fixes {
				fix(&req[i])
			}
			elems.fill(&req[i])
			rules.fill(&req[i])
		}
		return nil, quiet.send(req)
	}
	c, err := nftables.New(nftables.WithTestDial(pass), nftables.AsLasting())
	if err != nil {
		sock.Close()
		return batchConn{}, nil, err
	}
	return batchConn{Conn: c, elems: elems, rules: rules}, func() { c.CloseLasting(); sock.Close() }, nil
}

// batchConn is a connection a batch is queued on, with the elements and
// rules ksc encodes for it: none on a connection not from dialFixing,
// where the library encodes everything.
type batchConn struct {
	*nftables.Conn
	elems, rules *slots
	// sets are the attributes each set queued on a connection from
	// dialRestoring goes out with, by its ID in the batch; nil elsewhere.
	sets map[uint32][]byte
}

// addElements queues elems for s, as SetAddElements does.
func (c batchConn) addElements(s *nftables.Set, elems []nftables.SetElement) error {
	if c.elems == nil {
		return c.SetAddElements(s, elems)
	}
	return c.elems.addElementRun(c.Conn, s, elems)
}

// addRules returns a function that queues each of rules in turn, as
// AddRule does, the rules encoded beforehand on every core when c
// encodes apart.
func (c batchConn) addRules(rules []*nftables.Rule) func(*nftables.Rule) {
	if c.rules == nil {
		return func(r *nftables.Rule) { c.AddRule(r) }
	}
	encoded := encodeRules(rules)
	next := 0
	return func(r *nftables.Rule) {
		var data []byte
		if next < len(rules) && rules[next] == r {
			data = encoded[next]
		}
		next++
		c.rules.addRule(c.Conn, r, data)
	}
}

// noEcho stops the kernel from echoing each new rule back: google/nftables
// v0.3.0 asks for an echo and an acknowledgement of every rule, reads
// both, and uses neither echo. With the acknowledgement alone, which it
// takes as the reply it waits for, a batch of 100,000 rules is half the
// messages to make, send and read (issue 14).
func noEcho(m *netlink.Message) {
	if m.Header.Type == nftMessage(unix.NFT_MSG_NEWRULE) {
		m.Header.Flags &^= unix.NLM_F_ECHO
	}
}

// nftMessage is the netlink type of an nf_tables message.
func nftMessage(msg int) netlink.HeaderType {
	return netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | msg)
}

// rewriteAttrs decodes m's attributes, lets edit change them (or add to
// them), and encodes them back; m is left alone when it does not decode or
// edit declines.
func rewriteAttrs(m *netlink.Message, edit func(attrs *[]netlink.Attribute) bool) {
	if len(m.Data) < 4 {
		return
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return
	}
	var attrs []netlink.Attribute
	for ad.Next() {
		attrs = append(attrs, netlink.Attribute{Type: ad.Type(), Data: ad.Bytes()})
	}
	if ad.Err() != nil || !edit(&attrs) {
		return
	}
	if data, err := netlink.MarshalAttributes(attrs); err == nil {
		m.Data = append(m.Data[:4:4], data...)
	}
}

// hostOrderKeyTypes are nft's numbers for the data types it keeps in host
// byte order, of those ksc puts in sets: iface_index, mark, uid, gid,
// ct_state, fib_addrtype and ifname.
var hostOrderKeyTypes = []uint32{19, 20, 24, 25, 26, 38, 41}

// fixHostOrderSet marks a set whose keys are in host byte order (marks,
// owners, interface names) as holding them so, as nft does. google/nftables
// v0.3.0 marks every anonymous set big-endian, so that nft lists such a
// set's names as "" and its marks byte-swapped (upstream issue 355),
// although the kernel matches them right.
func fixHostOrderSet(m *netlink.Message) {
	if m.Header.Type != nftMessage(unix.NFT_MSG_NEWSET) {
		return
	}
	rewriteAttrs(m, func(list *[]netlink.Attribute) bool {
		attrs := *list
		hostOrder := false
		for _, a := range attrs {
			if a.Type == unix.NFTA_SET_KEY_TYPE && len(a.Data) == 4 && slices.Contains(hostOrderKeyTypes, binary.BigEndian.Uint32(a.Data)) {
				hostOrder = true
			}
		}
		if !hostOrder {
			return false
		}
		for i, a := range attrs {
			if a.Type == unix.NFTA_SET_USERDATA {
				attrs[i].Data = hostByteOrder(a.Data)
			}
		}
		return true
	})
}

// hostByteOrder rewrites the key byte order of set user data (a list of
// type, length, value) to host order, 1 in nft's numbering.
func hostByteOrder(udata []byte) []byte {
	out := make([]byte, 0, len(udata))
	for len(udata) >= 2 && int(udata[1])+2 <= len(udata) {
		typ, n := userdata.Type(udata[0]), int(udata[1])
		value := udata[2 : 2+n]
		if typ == userdata.NFTNL_UDATA_SET_KEYBYTEORDER && n == 4 {
			value = binary.NativeEndian.AppendUint32(nil, 1)
		}
		out = userdata.Append(out, typ, value)
		udata = udata[2+n:]
	}
	return out
}

// dialRestoring opens a connection into the namespace whose file
// descriptor is nsFd through which tables go back as Read saw them: each
// with its flags (but owner, which would tie it to ksc's socket) and user
// data (comment), each chain and set with the
// attributes the kernel listed (queueTable notes a set's in the
// connection's sets), and each stateful object with its data, which
// google/nftables would write anew.
func dialRestoring(nsFd int, tables []*nft.LiveTable, extra ...func(*netlink.Message)) (batchConn, func(), error) {
	flags := map[TableRef]uint32{}
	tableUserData := map[TableRef][]byte{}
	chains := map[itemRef][]byte{}
	objects := map[itemRef][]byte{}
	for _, t := range tables {
		ref := RefOf(t.Table)
		flags[ref] = t.Table.Flags &^ TableOwner
		if t.UserData != nil {
			tableUserData[ref] = t.UserData
		}
		for _, ch := range t.Chains {
			if ch.Attrs != nil {
				chains[itemRef{ref, ch.Chain.Name}] = ch.Attrs
			}
		}
		for _, o := range t.Objects {
			objects[itemRef{ref, o.Name}] = o.Attrs
		}
	}
	sets := map[uint32][]byte{}
	// Every set goes out with the user data the kernel listed, so
	// fixHostOrderSet has nothing to do here.
	c, closeConn, err := dialFixing(nsFd, append([]func(*netlink.Message){
		func(m *netlink.Message) { setTableFlags(m, flags); setTableUserData(m, tableUserData) },
		func(m *netlink.Message) { setChainAttrs(m, chains) },
		func(m *netlink.Message) { setSetAttrs(m, sets) },
		func(m *netlink.Message) { setObjectAttrs(m, objects) }, noEcho}, extra...)...)
	c.sets = sets
	return c, closeConn, err
}

// itemRef names a chain, set or object: its table and its name.
type itemRef struct {
	table TableRef
	name  string
}

// setTableUserData gives a NEWTABLE message for a table that userData
// names that user data.
func setTableUserData(m *netlink.Message, userData map[TableRef][]byte) {
	if m.Header.Type != nftMessage(unix.NFT_MSG_NEWTABLE) || len(userData) == 0 {
		return
	}
	rewriteAttrs(m, func(list *[]netlink.Attribute) bool {
		ref := TableRef{Family: nftables.TableFamily(m.Data[0])}
		for _, a := range *list {
			if a.Type == unix.NFTA_TABLE_NAME {
				ref.Name = string(trimNUL(a.Data))
			}
		}
		want, ok := userData[ref]
		if ok {
			*list = withAttr(*list, nftaTableUserData, want)
		}
		return ok
	})
}

// setTableFlags rewrites the flags of a NEWTABLE message for a table that
// flags names; other messages are left alone.
func setTableFlags(m *netlink.Message, flags map[TableRef]uint32) {
	if m.Header.Type != nftMessage(unix.NFT_MSG_NEWTABLE) {
		return
	}
	rewriteAttrs(m, func(list *[]netlink.Attribute) bool {
		attrs := *list
		var name string
		for _, a := range attrs {
			if a.Type == unix.NFTA_TABLE_NAME {
				name = strings.TrimSuffix(string(a.Data), "\x00")
			}
		}
		want, ok := flags[TableRef{nftables.TableFamily(m.Data[0]), name}]
		for i, a := range attrs {
			if ok && a.Type == unix.NFTA_TABLE_FLAGS {
				attrs[i].Data = binary.BigEndian.AppendUint32(nil, want)
			}
		}
		return ok
	})
}
