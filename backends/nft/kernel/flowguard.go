package kernel

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A FlowGuard holds the tracked flows of a namespace while its ruleset
// changes, so that a flow the new ruleset would not let start sends not
// one packet once that ruleset is in force. Closing such flows after the
// change (deleting them from conntrack) left a window of about 10 ms in
// which an established-accept rule of the new ruleset let them on.
//
// The guard is a table of its own, ksc-flows, that drops every packet of
// an established or related flow whose conntrack id is not in its set
// vetted: the flows judged beforehand to be allowed by the new ruleset.
// Once the new ruleset is in force, Admit adds every new flow it accepts
// to vetted as it starts; the flows that started in between are judged
// then (Vet, or closed in conntrack), and Release takes the guard away.
//
// The table is owned by the guard's netlink socket (flags owner): no
// other program can change it, a policy that flushes the ruleset leaves
// it, and it goes away with the socket if ksc dies, rather than holding
// flows for ever.
type FlowGuard struct {
	nsPath    string
	c         batchConn
	closeConn func()
	table     *nftables.Table
	vetted    *nftables.Set
}

// FlowGuardTable is the guard's table, in the inet family.
const FlowGuardTable = "ksc-flows"

// nftCtID is NFT_CT_ID, a flow's conntrack id, which golang.org/x/sys
// does not name.
const nftCtID = 23

// HoldFlows puts the guard in the namespace at nsPath: from its commit,
// only flows whose conntrack id is in vetted, and new ones, pass.
func HoldFlows(nsPath string, vetted []uint32) (*FlowGuard, error) {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	table := &nftables.Table{Name: FlowGuardTable, Family: nftables.TableFamilyINet}
	c, closeConn, err := dialWithTableFlags(int(h), map[TableRef]uint32{RefOf(table): TableOwner})
	if err != nil {
		return nil, err
	}
	g := &FlowGuard{nsPath: nsPath, c: c, closeConn: closeConn, table: table}
	c.AddTable(table)
	g.vetted = &nftables.Set{Table: table, Name: "vetted", KeyType: nftables.TypeInteger, Dynamic: true,
		Size: 1 << 24}
	if err := c.AddSet(g.vetted, nil); err != nil {
		closeConn()
		return nil, err
	}
	if err := g.add(vetted); err != nil {
		closeConn()
		return nil, err
	}
	// After conntrack (-200), before anything else a policy is likely to
	// hook: a flow's packets are dropped before they are changed.
	for _, hook := range []*nftables.ChainHook{nftables.ChainHookPrerouting, nftables.ChainHookOutput} {
		chain := c.AddChain(&nftables.Chain{Name: "hold-" + hookName(hook), Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityRef(-180)})
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED),
			&expr.Ct{Register: 1, Key: nftCtID},
			&expr.Lookup{SourceRegister: 1, SetName: g.vetted.Name, SetID: g.vetted.ID, Invert: true},
			&expr.Verdict{Kind: expr.VerdictDrop})})
	}
	if err := c.Flush(); err != nil {
		closeConn()
		return nil, fmt.Errorf("holding the flows: %w", err)
	}
	return g, nil
}

// Admit adds each flow that starts from now on to vetted, as its first
// packet leaves or is delivered: after every other chain, so only a flow
// whose first packet the ruleset accepted. Call it once the new ruleset
// is in force.
func (g *FlowGuard) Admit() error {
	for _, hook := range []*nftables.ChainHook{nftables.ChainHookPostrouting, nftables.ChainHookInput} {
		chain := g.c.AddChain(&nftables.Chain{Name: "admit-" + hookName(hook), Table: g.table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityRef(1 << 20)})
		g.c.AddRule(&nftables.Rule{Table: g.table, Chain: chain, Exprs: append(ctState(expr.CtStateBitNEW),
			&expr.Ct{Register: 1, Key: nftCtID},
			&expr.Dynset{SrcRegKey: 1, SetName: g.vetted.Name, SetID: g.vetted.ID, Operation: unix.NFT_DYNSET_OP_ADD})})
	}
	if err := g.c.Flush(); err != nil {
		return fmt.Errorf("admitting new flows: %w", err)
	}
	return nil
}

// Vet lets the flows of ids pass.
func (g *FlowGuard) Vet(ids []uint32) error {
	if err := g.add(ids); err != nil {
		return err
	}
	if err := g.c.Flush(); err != nil {
		return fmt.Errorf("letting flows pass: %w", err)
	}
	return nil
}

// Vetted lists the ids in vetted: those given and those admitted.
func (g *FlowGuard) Vetted() (map[uint32]bool, error) {
	ids := map[uint32]bool{}
	err := dump(g.nsPath, unix.NFT_MSG_GETSETELEM, g.table.Family, []netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(g.table.Name + "\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(g.vetted.Name + "\x00")},
	}, func(attrs []byte) error {
		return walkAttrs(attrs, func(typ uint16, list []byte) error {
			if typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				return nil
			}
			return walkAttrs(list, func(_ uint16, elem []byte) error {
				return walkAttrs(elem, func(typ uint16, key []byte) error {
					if typ != unix.NFTA_SET_ELEM_KEY {
						return nil
					}
					return walkAttrs(key, func(typ uint16, data []byte) error {
						if typ == unix.NFTA_DATA_VALUE && len(data) == 4 {
							ids[binary.NativeEndian.Uint32(data)] = true
						}
						return nil
					})
				})
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading the flows the guard let pass: %w", err)
	}
	return ids, nil
}

// Release takes the guard away.
func (g *FlowGuard) Release() error {
	defer g.closeConn()
	g.c.DelTable(g.table)
	if err := g.c.Flush(); err != nil {
		return fmt.Errorf("taking the flow guard away: %w", err)
	}
	return nil
}

func (g *FlowGuard) add(ids []uint32) error {
	for i := 0; i < len(ids); i += setChunk {
		chunk := ids[i:min(i+setChunk, len(ids))]
		elems := make([]nftables.SetElement, len(chunk))
		for j, id := range chunk {
			elems[j] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(id)}
		}
		if err := g.c.addElements(g.vetted, elems); err != nil {
			return err
		}
	}
	return nil
}

// ctState holds when the flow's state is one of the bits.
func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func hookName(h *nftables.ChainHook) string {
	switch *h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return "forward"
}
