package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A transition puts tables in the place of others with no instant in
// which a packet both rulesets drop gets through.
//
// How the kernel commits a transaction (nf_tables_commit) decides how:
//
//  1. A new base chain is hooked as soon as its message is read, with the
//     policy accept and no rules, and keeps the policy accept until step 3.
//  2. At the commit, the rules of every chain the transaction touched
//     become the new ones at once (one generation counter).
//  3. Then, message by message, new chains get their policy, changed
//     chains their new policy, and deleted chains are unhooked.
//
// So a table deleted and created again in one transaction, the obvious way
// and "nft -f"'s, has a new base chain that accepts between its old twin's
// unhooking and its own policy: re-applying an unchanged kill switch let
// flooded packets through, 22 times in 100. A transition keeps every base
// chain that both sides have hooked where it is and swaps its rules and
// sets in place (step 2 makes that atomic). What cannot be swapped in
// place, a base chain that starts to drop, is hooked and dropping first,
// in a transaction of its own: a chain whose policy turns to drop gets it
// beforehand; a new base chain that drops is made beforehand, empty, so
// that it drops everything until its rules come; and a chain whose hook,
// priority or type changes is covered by an empty dropping guard chain of
// another name until the swap. Tables that go away, and base chains that
// go away, are deleted last, after every new policy is in force.

// hookSpec is where a base chain is hooked.
type hookSpec struct {
	num      uint32
	priority int32
	devices  []string
}

func (h hookSpec) equal(o hookSpec) bool {
	return h.num == o.num && h.priority == o.priority && slices.Equal(h.devices, o.devices)
}

// chainShape is what a transition needs to know of a chain.
type chainShape struct {
	name    string
	base    bool
	hook    hookSpec
	typ     string
	policy  uint32 // NF_DROP or NF_ACCEPT, for a base chain
	binding bool   // an anonymous chain (jump { ... }): its rule deletes it
}

func (c chainShape) drops() bool { return c.base && c.policy == nfDrop }

// sameHooking says whether a in the kernel can become b without being
// unhooked: both regular, or both base chains hooked alike.
func (a chainShape) sameHooking(b chainShape) bool {
	if a.base != b.base || a.binding || b.binding {
		return false
	}
	return !a.base || (a.typ == b.typ && a.hook.equal(b.hook))
}

const (
	nfDrop   = 0
	nfAccept = 1
)

// tableShape is a table as a transition sees it: enough to empty it in
// place.
type tableShape struct {
	ref        TableRef
	flags      uint32
	chains     []chainShape
	sets       []string // named sets; anonymous ones go with their rules
	objects    []nft.LiveObject
	flowtables []string
}

func (t *tableShape) chain(name string) (chainShape, bool) {
	for _, c := range t.chains {
		if c.name == name {
			return c, true
		}
	}
	return chainShape{}, false
}

// wantedTable is a table a transition puts in place: its chains' shapes,
// and how to queue it whole (a table, chain, set or object that exists
// already is then updated, not refused).
type wantedTable struct {
	table   *nftables.Table
	dormant bool
	chains  []chainShape
	queue   func(c batchConn) error
}

// transition is one replacement of tables in a namespace.
type transition struct {
	nsFd int
	// dial opens a connection for one transaction, through which each
	// message also passes the fixes given.
	dial   func(fixes ...func(*netlink.Message)) (batchConn, func(), error)
	wanted []*wantedTable
	// gone says whether a table of the namespace that no wanted table
	// names is deleted: every one for a policy that flushes the ruleset,
	// those an apply added for a rollback.
	gone func(ref TableRef, flags uint32) bool
	// keep, when not nil, names the sets of wanted tables that stay as
	// they are (a repair's unchanged sets): neither deleted nor sent.
	keep func(table TableRef, set string) bool
}

// readyMade is what the first transaction made or changed, so that it can
// be undone if the second fails.
type readyMade struct {
	tables    []*nftables.Table     // made, with their chains and nothing else
	chains    []*nftables.Chain     // empty chains and guards made in existing tables
	tightened []*nftables.Chain     // base chains whose policy became drop
	guards    map[TableRef][]string // guard chains, deleted by the swap
}

func (m *readyMade) empty() bool {
	return len(m.tables) == 0 && len(m.chains) == 0 && len(m.tightened) == 0
}

// run carries the transition out: the transaction that hooks what must
// drop first (when there is any), then the swap. When the swap fails,
// the first is undone and the namespace is as it was.
func (tr *transition) run() error {
	live, err := readShapes(handlePathOf(tr.nsFd))
	if err != nil {
		return err
	}
	made, err := tr.ready(live)
	if err != nil {
		return err
	}
	waking, err := tr.swap(live, made)
	if err == nil {
		return tr.wake(waking)
	}
	if err != nil {
		undoErr := tr.undo(made)
		var refused *swapRefused
		if errors.As(err, &refused) {
			refused.undoErr = undoErr
			return refused
		}
		return errors.Join(err, undoErr)
	}
	return nil
}

// swapRefused is the kernel's refusal of the swap; undoErr says whether
// what ready did could not be taken back.
type swapRefused struct {
	err, undoErr error
}

func (e *swapRefused) Error() string { return e.err.Error() }
func (e *swapRefused) Unwrap() error { return e.err }

// ready hooks, in a transaction of its own, every base chain that drops
// in the wanted tables and is not already dropping where it will be. A
// wanted table that is not there yet is made whole, every chain in its
// order (an empty chain that accepts changes nothing), so that it lists
// as a fresh one would. On a first apply, with nothing of the scope in
// the namespace, nothing dropped before either, and the swap alone is
// closed.
func (tr *transition) ready(live map[TableRef]*tableShape) (*readyMade, error) {
	made := &readyMade{guards: map[TableRef][]string{}}
	if !tr.replacesAny(live) {
		return made, nil
	}
	c, closeConn, err := tr.dial()
	if err != nil {
		return nil, err
	}
	defer closeConn()
	for _, w := range tr.wanted {
		if w.dormant {
			continue
		}
		ref := RefOf(w.table)
		lt := live[ref]
		if lt == nil {
			table := c.AddTable(&nftables.Table{Name: w.table.Name, Family: w.table.Family, Flags: w.table.Flags})
			made.tables = append(made.tables, table)
			for _, ch := range w.chains {
				if !ch.binding {
					c.AddChain(emptyChain(table, ch.name, ch))
				}
			}
			continue
		}
		table := &nftables.Table{Name: w.table.Name, Family: w.table.Family}
		for _, ch := range w.chains {
			if !ch.drops() {
				continue
			}
			now, exists := lt.chain(ch.name)
			switch {
			case exists && now.sameHooking(ch) && now.policy == nfDrop:
			case exists && now.sameHooking(ch):
				tight := emptyChain(table, ch.name, ch)
				c.AddChain(tight)
				made.tightened = append(made.tightened, tight)
			case exists:
				// Hooked otherwise: the swap deletes and makes it anew,
				// under a guard of another name.
				guard := emptyChain(table, guardName(ch.name, lt), ch)
				c.AddChain(guard)
				made.chains = append(made.chains, guard)
				made.guards[ref] = append(made.guards[ref], guard.Name)
			default:
				sk := emptyChain(table, ch.name, ch)
				c.AddChain(sk)
				made.chains = append(made.chains, sk)
			}
		}
	}
	if made.empty() {
		return made, nil
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("hooking the new drop policies before the swap: %w", err)
	}
	return made, nil
}

// replacesAny says whether the transition replaces or deletes a table
// that is there now.
func (tr *transition) replacesAny(live map[TableRef]*tableShape) bool {
	for ref, t := range live {
		if tr.gone(ref, t.flags) {
			return true
		}
	}
	for _, w := range tr.wanted {
		if live[RefOf(w.table)] != nil {
			return true
		}
	}
	return false
}

// emptyChain is a chain shaped as ch, with no rule: a base chain hooked
// as ch is, with ch's policy.
func emptyChain(table *nftables.Table, name string, ch chainShape) *nftables.Chain {
	c := &nftables.Chain{Name: name, Table: table}
	if !ch.base {
		return c
	}
	policy := nftables.ChainPolicy(ch.policy)
	hook := nftables.ChainHook(ch.hook.num)
	prio := nftables.ChainPriority(ch.hook.priority)
	c.Type, c.Hooknum, c.Priority, c.Policy = nftables.ChainType(ch.typ), &hook, &prio, &policy
	if len(ch.hook.devices) == 1 {
		c.Device = ch.hook.devices[0]
	}
	return c
}

// guardName is a chain name the table does not have: name with a suffix.
func guardName(name string, t *tableShape) string {
	for i := 0; ; i++ {
		guard := fmt.Sprintf("%s-ksc-guard%d", name, i)
		if _, taken := t.chain(guard); !taken {
			return guard
		}
	}
}

// swap is the transaction that puts the wanted tables in place: each that
// exists is emptied in place and filled, the others are made; then the
// guards, the base chains no wanted table keeps and the tables that go
// away are deleted. A table stays as dormant or awake as it is: the
// kernel refuses a change of that in a transaction that changes anything
// else of the table. It returns the flags of those that must change.
func (tr *transition) swap(live map[TableRef]*tableShape, made *readyMade) (waking map[TableRef]uint32, err error) {
	stay := map[TableRef]uint32{}
	waking = map[TableRef]uint32{}
	for _, w := range tr.wanted {
		ref := RefOf(w.table)
		if lt := live[ref]; lt != nil && (lt.flags^w.table.Flags)&TableDormant != 0 {
			stay[ref] = w.table.Flags&^TableDormant | lt.flags&TableDormant
			waking[ref] = w.table.Flags
		}
	}
	c, closeConn, err := tr.dial(func(m *netlink.Message) { setTableFlags(m, stay) })
	if err != nil {
		return nil, err
	}
	defer closeConn()
	wanted := map[TableRef]bool{}
	var last []func()
	for _, w := range tr.wanted {
		ref := RefOf(w.table)
		wanted[ref] = true
		if lt := live[ref]; lt != nil {
			last = append(last, clearInPlace(c, lt, w, tr.keep))
		}
		if err := w.queue(c); err != nil {
			return nil, err
		}
		for _, g := range made.guards[ref] {
			table := &nftables.Table{Name: w.table.Name, Family: w.table.Family}
			last = append(last, func() { c.DelChain(&nftables.Chain{Name: g, Table: table}) })
		}
	}
	for _, ref := range sortedShapeRefs(live) {
		if !wanted[ref] && tr.gone(ref, live[ref].flags) {
			table := &nftables.Table{Name: ref.Name, Family: ref.Family}
			last = append(last, func() { c.DelTable(table) })
		}
	}
	for _, del := range last {
		del()
	}
	if err := c.Flush(); err != nil {
		return nil, &swapRefused{err: err}
	}
	return waking, nil
}

// wake puts each table in flags, dormant or awake, in a transaction of
// its own, after the swap.
func (tr *transition) wake(flags map[TableRef]uint32) error {
	if len(flags) == 0 {
		return nil
	}
	c, closeConn, err := dialWithTableFlags(tr.nsFd, flags)
	if err != nil {
		return err
	}
	defer closeConn()
	for ref := range flags {
		c.AddTable(&nftables.Table{Name: ref.Name, Family: ref.Family})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("making tables dormant or awake after the swap: %w", err)
	}
	return nil
}

// clearInPlace queues what empties lt for w to fill, without unhooking a
// base chain w keeps: every chain's rules are flushed, and its named
// sets (but those keep names), objects and flowtables deleted (w makes
// its own again). A chain
// w hooks otherwise is deleted now, so that w can make it anew; it
// returns what deletes the chains w does not have, to be queued after w's
// chains have their policies.
func clearInPlace(c batchConn, lt *tableShape, w *wantedTable, keep func(TableRef, string) bool) (deleteLeft func()) {
	table := &nftables.Table{Name: lt.ref.Name, Family: lt.ref.Family}
	for _, ch := range lt.chains {
		if !ch.binding {
			c.FlushChain(&nftables.Chain{Name: ch.name, Table: table})
		}
	}
	for _, name := range lt.flowtables {
		c.DelFlowtable(&nftables.Flowtable{Name: name, Table: table})
	}
	for _, name := range lt.sets {
		if keep == nil || !keep(lt.ref, name) {
			c.DelSet(&nftables.Set{Name: name, Table: table})
		}
	}
	for _, o := range lt.objects {
		c.DeleteObject(&nftables.NamedObj{Table: table, Name: o.Name, Type: nftables.ObjType(o.Type)})
	}
	var left []string
	for _, ch := range lt.chains {
		if ch.binding {
			continue
		}
		want, kept := (&tableShape{chains: w.chains}).chain(ch.name)
		switch {
		case !kept:
			left = append(left, ch.name)
		case !ch.sameHooking(want):
			c.DelChain(&nftables.Chain{Name: ch.name, Table: table})
		}
	}
	return func() {
		for _, name := range left {
			c.DelChain(&nftables.Chain{Name: name, Table: table})
		}
	}
}

// undo takes back what ready did, after a failed swap.
func (tr *transition) undo(made *readyMade) error {
	if made.empty() {
		return nil
	}
	// A connection that sends chains as given: a restoring one would
	// send the snapshot's policy, drop, again.
	c, closeConn, err := dialFixing(tr.nsFd, noEcho)
	if err != nil {
		return fmt.Errorf("undoing the drop policies hooked before the swap: %w", err)
	}
	defer closeConn()
	for _, ch := range made.tightened {
		accept := nftables.ChainPolicyAccept
		loose := *ch
		loose.Policy = &accept
		c.AddChain(&loose)
	}
	for _, ch := range made.chains {
		c.DelChain(ch)
	}
	for _, t := range made.tables {
		c.DelTable(t)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("undoing the drop policies hooked before the swap: %w", err)
	}
	return nil
}

func sortedShapeRefs(live map[TableRef]*tableShape) []TableRef {
	refs := make([]TableRef, 0, len(live))
	for r := range live {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	return refs
}

func handlePathOf(nsFd int) string { return fmt.Sprintf("/proc/self/fd/%d", nsFd) }

// readShapes reads the shape of every table in the namespace at nsPath:
// one dump each of tables, chains, sets, objects and flowtables, of every
// family, with no rule and no set element.
func readShapes(nsPath string) (map[TableRef]*tableShape, error) {
	tables := map[TableRef]*tableShape{}
	err := dumpFamilies(nsPath, unix.NFT_MSG_GETTABLE, func(family nftables.TableFamily, attrs []byte) error {
		t := &tableShape{ref: TableRef{Family: family}}
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_TABLE_NAME:
				t.ref.Name = string(trimNUL(value))
			case unix.NFTA_TABLE_FLAGS:
				if len(value) == 4 {
					t.flags = binary.BigEndian.Uint32(value)
				}
			}
			return nil
		})
		tables[t.ref] = t
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	owner := func(family nftables.TableFamily, name string) *tableShape {
		return tables[TableRef{Family: family, Name: name}]
	}
	err = dumpFamilies(nsPath, unix.NFT_MSG_GETCHAIN, func(family nftables.TableFamily, attrs []byte) error {
		var table string
		var ch chainShape
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_CHAIN_TABLE:
				table = string(trimNUL(value))
			case unix.NFTA_CHAIN_NAME:
				ch.name = string(trimNUL(value))
			case unix.NFTA_CHAIN_HOOK:
				ch.base = true
				return decodeHook(value, &ch.hook)
			case unix.NFTA_CHAIN_TYPE:
				ch.typ = string(trimNUL(value))
			case unix.NFTA_CHAIN_POLICY:
				if len(value) == 4 {
					ch.policy = binary.BigEndian.Uint32(value)
				}
			case nftaChainFlags:
				ch.binding = len(value) == 4 && binary.BigEndian.Uint32(value)&nftChainBinding != 0
			}
			return nil
		})
		if t := owner(family, table); t != nil {
			t.chains = append(t.chains, ch)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", err)
	}
	err = dumpFamilies(nsPath, unix.NFT_MSG_GETSET, func(family nftables.TableFamily, attrs []byte) error {
		var table, name string
		var flags uint32
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_SET_TABLE:
				table = string(trimNUL(value))
			case unix.NFTA_SET_NAME:
				name = string(trimNUL(value))
			case unix.NFTA_SET_FLAGS:
				if len(value) == 4 {
					flags = binary.BigEndian.Uint32(value)
				}
			}
			return nil
		})
		if t := owner(family, table); t != nil && flags&unix.NFT_SET_ANONYMOUS == 0 {
			t.sets = append(t.sets, name)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing sets: %w", err)
	}
	err = dumpFamilies(nsPath, unix.NFT_MSG_GETOBJ, func(family nftables.TableFamily, attrs []byte) error {
		var table string
		var o nft.LiveObject
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_OBJ_TABLE:
				table = string(trimNUL(value))
			case unix.NFTA_OBJ_NAME:
				o.Name = string(trimNUL(value))
			case unix.NFTA_OBJ_TYPE:
				if len(value) == 4 {
					o.Type = binary.BigEndian.Uint32(value)
				}
			}
			return nil
		})
		if t := owner(family, table); t != nil {
			t.objects = append(t.objects, o)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing objects: %w", err)
	}
	err = dumpFamilies(nsPath, unix.NFT_MSG_GETFLOWTABLE, func(family nftables.TableFamily, attrs []byte) error {
		var table, name string
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case nftaFlowtableTable:
				table = string(trimNUL(value))
			case nftaFlowtableName:
				name = string(trimNUL(value))
			}
			return nil
		})
		if t := owner(family, table); t != nil {
			t.flowtables = append(t.flowtables, name)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing flowtables: %w", err)
	}
	return tables, nil
}

// dumpFamilies is a dump of msgType for every family.
func dumpFamilies(nsPath string, msgType uint16, each func(nftables.TableFamily, []byte) error) error {
	return dumpEach(nsPath, msgType, nftables.TableFamilyUnspecified, nil, each)
}

// decodeHook reads a NFTA_CHAIN_HOOK attribute.
func decodeHook(value []byte, h *hookSpec) error {
	return walkAttrs(value, func(typ uint16, v []byte) error {
		switch typ {
		case unix.NFTA_HOOK_HOOKNUM:
			if len(v) == 4 {
				h.num = binary.BigEndian.Uint32(v)
			}
		case unix.NFTA_HOOK_PRIORITY:
			if len(v) == 4 {
				h.priority = int32(binary.BigEndian.Uint32(v))
			}
		case unix.NFTA_HOOK_DEV:
			h.devices = append(h.devices, string(trimNUL(v)))
		case nftaHookDevs:
			err := walkAttrs(v, func(_ uint16, dev []byte) error {
				h.devices = append(h.devices, string(trimNUL(dev)))
				return nil
			})
			sort.Strings(h.devices)
			return err
		}
		return nil
	})
}

// nftaHookDevs is NFTA_HOOK_DEVS, a netdev chain's list of devices.
const nftaHookDevs = 4

// shapeOfChain is a library chain's shape; what the library does not read
// (the devices of a netdev hook, the binding of an anonymous chain) comes
// from attrs, the chain's listing, when there is one.
func shapeOfChain(ch *nftables.Chain, attrs []byte) chainShape {
	s := chainShape{name: ch.Name}
	if ch.Hooknum != nil && ch.Priority != nil {
		s.base = true
		s.hook = hookSpec{num: uint32(*ch.Hooknum), priority: int32(*ch.Priority)}
		s.typ = string(ch.Type)
		s.policy = nfAccept
		if ch.Policy != nil {
			s.policy = uint32(*ch.Policy)
		}
	}
	walkAttrs(attrs, func(typ uint16, value []byte) error {
		switch typ {
		case unix.NFTA_CHAIN_HOOK:
			var h hookSpec
			if decodeHook(value, &h) == nil {
				s.hook = h
			}
		case unix.NFTA_CHAIN_POLICY:
			if len(value) == 4 {
				s.policy = binary.BigEndian.Uint32(value)
			}
		case nftaChainFlags:
			s.binding = len(value) == 4 && binary.BigEndian.Uint32(value)&nftChainBinding != 0
		}
		return nil
	})
	return s
}
