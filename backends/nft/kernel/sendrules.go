package kernel

import (
	"runtime"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ruleSlots are the rules ksc encodes for a batch, apart and on every
// core: google/nftables encodes a rule under its connection's lock, a
// tenth of "ksc apply" for 10,000 rules on one core. A rule's slot is a
// rule of no expressions, marked by its user data; the encoded rule
// replaces all of it.
func ruleSlots() *slots {
	return &slots{typ: nftMessage(unix.NFT_MSG_NEWRULE), tail: slotTail, whole: true}
}

// slotMark is the user data of a rule's slot. No rule of ksc's carries
// it: ksc's user data is nft's TLV comment, which starts with its type byte.
var slotMark = []byte("\xffksc: a rule encoded apart")

// slotTail is how a rule slot's data ends: its user data attribute.
var slotTail = func() []byte {
	var a attrs
	a.bytes(unix.NFTA_RULE_USERDATA, slotMark)
	return a.b
}()

// addRule queues r on c, in a slot holding data when data is not nil.
func (sl *slots) addRule(c *nftables.Conn, r *nftables.Rule, data []byte) {
	if data == nil {
		c.AddRule(r)
		return
	}
	c.AddRule(&nftables.Rule{Table: r.Table, Chain: r.Chain, UserData: slotMark})
	sl.encoded = append(sl.encoded, data)
}

// encodeRules encodes each rule's NEWRULE message data on every core; nil
// for a rule the library must encode itself.
func encodeRules(rules []*nftables.Rule) [][]byte {
	out := make([][]byte, len(rules))
	workers := min(runtime.GOMAXPROCS(0), len(rules)/256+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(rules); i += workers {
				out[i] = encodeRule(rules[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// encodeRule is the data of r's NEWRULE message as google/nftables
// v0.3.0's AddRule lays it out, or nil for what only the library does:
// replacing a rule by its handle, and xtables matches and targets (their
// compat attribute). The expressions ksc uses most are written straight
// into the message; the library encodes the rest.
func encodeRule(r *nftables.Rule) []byte {
	if r.Handle != 0 {
		return nil
	}
	fam := byte(r.Table.Family)
	a := attrs{b: make([]byte, 0, 64+48*len(r.Exprs)+len(r.UserData))}
	a.b = append(a.b, fam, unix.NFNETLINK_V0, 0, 0)
	a.str(unix.NFTA_RULE_TABLE, r.Table.Name)
	a.str(unix.NFTA_RULE_CHAIN, r.Chain.Name)
	list := a.open(unix.NFTA_RULE_EXPRESSIONS)
	for _, e := range r.Exprs {
		switch e.(type) {
		case *expr.Match, *expr.Target:
			return nil
		}
		elem := a.open(unix.NFTA_LIST_ELEM)
		if !a.expr(e) {
			b, err := expr.Marshal(fam, e)
			if err != nil {
				return nil // the library reports it at Flush
			}
			a.b = append(a.b, b...)
		}
		a.close(elem)
	}
	a.close(list)
	if r.UserData != nil {
		a.bytes(unix.NFTA_RULE_USERDATA, r.UserData)
	}
	if r.Position != 0 || r.Flags&(1<<unix.NFTA_RULE_POSITION) != 0 {
		a.u64(unix.NFTA_RULE_POSITION, r.Position)
	}
	if a.overflow {
		return nil
	}
	return a.b
}

// expr writes e as its library would, for the expressions ksc's rules are
// mostly made of; false for any other, with nothing written.
func (a *attrs) expr(e expr.Any) bool {
	switch e := e.(type) {
	case *expr.Meta:
		data := a.expression("meta")
		a.u32(unix.NFTA_META_KEY, uint32(e.Key))
		if e.SourceRegister {
			a.u32(unix.NFTA_META_SREG, e.Register)
		} else {
			a.u32(unix.NFTA_META_DREG, e.Register)
		}
		a.close(data)
	case *expr.Payload:
		if e.CsumType > 0 {
			return false
		}
		data := a.expression("payload")
		if e.OperationType == expr.PayloadWrite {
			a.u32(unix.NFTA_PAYLOAD_SREG, e.SourceRegister)
		} else {
			a.u32(unix.NFTA_PAYLOAD_DREG, e.DestRegister)
		}
		a.u32(unix.NFTA_PAYLOAD_BASE, uint32(e.Base))
		a.u32(unix.NFTA_PAYLOAD_OFFSET, e.Offset)
		a.u32(unix.NFTA_PAYLOAD_LEN, e.Len)
		a.close(data)
	case *expr.Cmp:
		data := a.expression("cmp")
		a.u32(unix.NFTA_CMP_SREG, e.Register)
		a.u32(unix.NFTA_CMP_OP, uint32(e.Op))
		a.data(unix.NFTA_CMP_DATA, e.Data)
		a.close(data)
	case *expr.Lookup:
		data := a.expression("lookup")
		if e.SourceRegister != 0 {
			a.u32(unix.NFTA_LOOKUP_SREG, e.SourceRegister)
		}
		if e.IsDestRegSet {
			a.u32(unix.NFTA_LOOKUP_DREG, e.DestRegister)
		}
		if e.Invert {
			a.u32(unix.NFTA_LOOKUP_FLAGS, unix.NFT_LOOKUP_F_INV)
		}
		a.str(unix.NFTA_LOOKUP_SET, e.SetName)
		a.u32(unix.NFTA_LOOKUP_SET_ID, e.SetID)
		a.close(data)
	case *expr.Counter:
		data := a.expression("counter")
		a.u64(unix.NFTA_COUNTER_BYTES, e.Bytes)
		a.u64(unix.NFTA_COUNTER_PACKETS, e.Packets)
		a.close(data)
	case *expr.Verdict:
		data := a.expression("immediate")
		a.u32(unix.NFTA_IMMEDIATE_DREG, unix.NFT_REG_VERDICT)
		imm := a.open(unix.NFTA_IMMEDIATE_DATA)
		verdict := a.open(unix.NFTA_DATA_VERDICT)
		a.u32(unix.NFTA_VERDICT_CODE, uint32(e.Kind))
		if e.Chain != "" {
			a.str(unix.NFTA_VERDICT_CHAIN, e.Chain)
		}
		a.close(verdict)
		a.close(imm)
		a.close(data)
	default:
		return false
	}
	return true
}
