package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/ksc-project/ksc/ir"
	"golang.org/x/sys/unix"
)

// Batch is a policy lowered to the netlink objects "nft -f" of Render's
// script would create, in the order they are sent: one transaction.
type Batch struct {
	FlushRuleset bool
	Tables       []*BatchTable
	resolved     bool // see Resolve
}

// BatchTable is a table, its named sets and its chains.
type BatchTable struct {
	Table  *nftables.Table
	Sets   []*BatchSet // named sets, sent before the chains
	Chains []*BatchChain
}

// BatchChain is a base chain and its rules.
type BatchChain struct {
	Chain *nftables.Chain
	Rules []*BatchRule
}

// BatchRule is one rule with the anonymous sets it looks up, and the policy
// position it came from, so that a refusal can name the line.
type BatchRule struct {
	Pos  ir.Pos
	Sets []*BatchSet
	Rule *nftables.Rule
	// The rule as Render writes it is made only when asked for (an error,
	// status, diff, --dry-run): from the policy's rule, or given.
	text   string
	source *ir.Rule
	family ir.Family
	// refs are what its matches need looked up where it is loaded:
	// interfaces' indexes, cgroups' ids.
	refs []loadRef
}

// NewBatchRule is a rule written as text, not lowered from a policy.
func NewBatchRule(pos ir.Pos, text string, rule *nftables.Rule) *BatchRule {
	return &BatchRule{Pos: pos, Rule: rule, text: text}
}

// Text is the rule as Render writes it.
func (r *BatchRule) Text() string {
	if r.text == "" && r.source != nil {
		r.text = RuleText(r.family, r.source)
	}
	return r.text
}

// BatchSet is a set and its elements. It keeps its keys and encodes
// elements a chunk at a time as they are sent (see Chunks): a
// million-range blocklist would otherwise hold two million elements, and
// 100,000 inline addresses as many structures of 130 bytes.
type BatchSet struct {
	Set *nftables.Set
	// The keys: ranges in an interval set, sorted; single keys (first
	// and last the same) otherwise, in the policy's order.
	ranges []keyRange
	// Runtime marks a set the table declares: its elements are the
	// kernel's once loaded (other programs or the packet path change
	// them), so that status, diff and watch never compare them.
	Runtime bool
}

// Len is the number of elements the set sends.
func (s *BatchSet) Len() int {
	if !s.Set.Interval {
		return len(s.ranges)
	}
	n := 2 * len(s.ranges)
	if len(s.ranges) > 0 && !isZero(s.ranges[0].first) {
		n++ // the leading end element
	}
	if len(s.ranges) > 0 && isAllOnes(s.ranges[len(s.ranges)-1].last) {
		n-- // a range reaching the top has no end element
	}
	return n
}

func isAllOnes(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}

// Chunks calls fn with the set's elements, at most n at a time. The slice
// passed to fn is reused: fn must be done with it when it returns.
func (s *BatchSet) Chunks(n int, fn func([]nftables.SetElement) error) error {
	if s.Set.Interval {
		return encodeIntervals(s.ranges, n, fn)
	}
	chunk := make([]nftables.SetElement, min(n, len(s.ranges)))
	for i := 0; i < len(s.ranges); i += n {
		part := chunk[:min(n, len(s.ranges)-i)]
		for j := range part {
			part[j] = nftables.SetElement{Key: s.ranges[i+j].first}
		}
		if err := fn(part); err != nil {
			return err
		}
	}
	return nil
}

// Elements is every element of the set, in one chunk of its own.
func (s *BatchSet) Elements() []nftables.SetElement {
	var all []nftables.SetElement
	// Room for more than all, so that the chunk is handed over only at
	// the end, and nothing is written over it after.
	s.Chunks(2*len(s.ranges)+2, func(e []nftables.SetElement) error {
		all = e
		return nil
	})
	return all
}

// WithoutSetElements is b with its named sets empty: the ruleset's shape,
// for a copy whose named sets are taken as sent, never read back.
func (b *Batch) WithoutSetElements() *Batch {
	shape := *b
	shape.Tables = make([]*BatchTable, len(b.Tables))
	for i, t := range b.Tables {
		table := *t
		table.Sets = make([]*BatchSet, len(t.Sets))
		for j, s := range t.Sets {
			empty := *s
			empty.ranges = nil
			table.Sets[j] = &empty
		}
		shape.Tables[i] = &table
	}
	return &shape
}

// Lower turns a validated policy into a Batch. Like Render it is a pure
// function of the IR; it mirrors nft's own lowering, expression for
// expression, so that "ksc apply" and "nft -f" leave the same ruleset.
// What it cannot lower is an error (see Check), never a dropped match.
func Lower(p *ir.Policy) (*Batch, error) {
	if err := Check(p).Err(); err != nil {
		return nil, err
	}
	b := &Batch{FlushRuleset: p.FlushRuleset}
	setID := uint32(0)
	for _, t := range p.Tables {
		table := &nftables.Table{Name: t.Name, Family: TableFamily(t.Family)}
		bt := &BatchTable{Table: table}
		named := map[string]*nftables.Set{}
		for _, ns := range NamedSets(t) {
			setID++
			bs := intervalSet(table, ns.Name, ns.Family, ns.Elements, setID)
			named[ns.Name] = bs.Set
			bt.Sets = append(bt.Sets, bs)
		}
		for _, ts := range t.Sets {
			setID++
			bs := &BatchSet{Set: dynamicSet(table, ts, setID), Runtime: true}
			if !ts.Dynamic {
				family := ts.Kind.Spec().Family
				bs = intervalSet(table, ts.Name, family, ir.Addrs(ts.Kind, ts.Elements.Joined()), setID)
				bs.Runtime = true
			}
			named[ts.Name] = bs.Set
			bt.Sets = append(bt.Sets, bs)
		}
		for _, c := range t.Chains {
			policy := nftables.ChainPolicyAccept
			if c.Policy == ir.Drop {
				policy = nftables.ChainPolicyDrop
			}
			chain := &nftables.Chain{Name: c.Name, Table: table}
			if c.IsBase() {
				chain.Type = map[ir.ChainType]nftables.ChainType{ir.ChainFilter: nftables.ChainTypeFilter,
					ir.ChainNAT: nftables.ChainTypeNAT, ir.ChainRoute: nftables.ChainTypeRoute}[c.Type]
				chain.Hooknum = nftables.ChainHookRef(chainHook(c.Hook))
				chain.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(c.Priority))
				chain.Policy = &policy
			}
			bc := &BatchChain{Chain: chain}
			for _, r := range c.Rules {
				l := &ruleLowerer{table: table, family: t.Family, nextSetID: &setID, named: named}
				rule := &nftables.Rule{Table: table, Chain: chain, Exprs: l.rule(r)}
				if r.Comment != "" {
					rule.UserData = userdata.AppendString(nil, userdata.TypeComment, r.Comment)
				}
				bc.Rules = append(bc.Rules, &BatchRule{Pos: r.Pos, Sets: l.sets, Rule: rule, source: r, family: t.Family, refs: l.refs})
			}
			bt.Chains = append(bt.Chains, bc)
		}
		b.Tables = append(b.Tables, bt)
	}
	return b, nil
}

// TableFamily is the netlink family of a table of family f.
func TableFamily(f ir.Family) nftables.TableFamily {
	switch f {
	case ir.IPv4:
		return nftables.TableFamilyIPv4
	case ir.IPv6:
		return nftables.TableFamilyIPv6
	case ir.Inet:
		return nftables.TableFamilyINet
	}
	// ir validates the family; a new one must be added here, not guessed.
	panic(fmt.Sprintf("nft: lowering an unknown table family %d", f))
}

func chainHook(h ir.Hook) nftables.ChainHook {
	switch h {
	case ir.HookPrerouting:
		return *nftables.ChainHookPrerouting
	case ir.HookForward:
		return *nftables.ChainHookForward
	case ir.HookOutput:
		return *nftables.ChainHookOutput
	case ir.HookPostrouting:
		return *nftables.ChainHookPostrouting
	case ir.HookInput:
		return *nftables.ChainHookInput
	}
	// ir validates the hook; a new one must be added here, not read as input.
	panic(fmt.Sprintf("nft: lowering an unknown hook %d", h))
}

// ruleLowerer lowers one rule. Like nft, it writes the address family
// check of an inet table once per rule.
type ruleLowerer struct {
	table     *nftables.Table
	family    ir.Family
	nextSetID *uint32
	named     map[string]*nftables.Set
	sets      []*BatchSet
	exprs     []expr.Any

	familyChecked bool
	addrFamily    ir.Family // the family the rule checked or implies
	ruleFamily    ir.Family // the only family the rule holds for, or Inet
	apart         bool      // the match being lowered is kept apart (see keptApart)
	refs          []loadRef
}

func (l *ruleLowerer) rule(r *ir.Rule) []expr.Any {
	l.ruleFamily = r.Family()
	if f := familyCheck(l.family, r); f != ir.Inet {
		l.checkFamily(f)
	}
	for _, m := range listOrder(r) {
		if m.Field == ir.FieldL4Proto && l.family == ir.Inet && impliesFamilyFirst(r) {
			// nft checks the family just ahead of the protocol when a
			// protocol's header field ("icmp type") binds the rule to it.
			l.checkFamily(r.Family())
		}
		if !leftToNAT(r, m) {
			l.apart = keptApart(r, m)
			l.match(m)
		}
	}
	for _, s := range r.Statements {
		switch s := s.(type) {
		case *ir.Counter:
			l.emit(&expr.Counter{})
		case *ir.Log:
			l.emit(logExpr(s))
		case *ir.Limit:
			l.limit(s)
		case *ir.MarkSet:
			l.emit(markSetExprs(s)...)
		case *ir.MSSSet:
			l.emit(mssSetExprs(s)...)
		case *ir.SetWrite:
			l.setWrite(s)
		case *ir.Notrack:
			l.emit(&expr.Notrack{})
		case *ir.DSCPSet:
			l.checkFamily(s.Field.Spec().Family)
			l.emit(dscpSetExprs(s)...)
		case *ir.Trace:
			// One byte, as nft writes it and the kernel takes it.
			on := byte(0)
			if s.On {
				on = 1
			}
			l.emit(&expr.Immediate{Register: 1, Data: []byte{on}}, &expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: 1})
		default:
			panic(fmt.Sprintf("nft: lowering a statement Check refuses: %T", s)) // Lower checks first
		}
	}
	switch r.Verdict {
	case ir.Accept:
		l.emit(&expr.Verdict{Kind: expr.VerdictAccept})
	case ir.Drop:
		l.emit(&expr.Verdict{Kind: expr.VerdictDrop})
	case ir.Reject:
		l.emit(l.reject(r.RejectWith))
	case ir.Jump:
		l.emit(&expr.Verdict{Kind: expr.VerdictJump, Chain: r.Target.Name})
	case ir.Goto:
		l.emit(&expr.Verdict{Kind: expr.VerdictGoto, Chain: r.Target.Name})
	case ir.Return:
		l.emit(&expr.Verdict{Kind: expr.VerdictReturn})
	case ir.Translate:
		l.emit(natExprs(r.NAT)...)
	case ir.NoVerdict:
	default:
		panic(fmt.Sprintf("nft: lowering verdict %s, which Check refuses", r.Verdict)) // Lower checks first
	}
	return l.exprs
}

func (l *ruleLowerer) emit(e ...expr.Any) { l.exprs = append(l.exprs, e...) }

// limit writes a limit, or as nft does for "update @SET { KEY limit ... }",
// the key's load and a dynset that keeps one limit for each key.
func (l *ruleLowerer) limit(s *ir.Limit) {
	typ := expr.LimitTypePkts
	if s.Bytes {
		typ = expr.LimitTypePktBytes
	}
	var limit expr.Any = &expr.Limit{Type: typ, Rate: s.Rate, Unit: expr.LimitTime(s.Unit.Seconds()),
		Over: s.Over, Burst: s.EffectiveBurst()}
	if s.Conns != 0 {
		cl := &expr.Connlimit{Count: s.Conns}
		if s.Over {
			cl.Flags = expr.NFT_CONNLIMIT_F_INV
		}
		limit = cl
	}
	if s.Meter == nil {
		l.emit(limit)
		return
	}
	key := fields[s.Meter.Key]
	set := l.named[s.Meter.Set.Name]
	l.checkFamily(s.Meter.Key.Spec().Family)
	op := uint32(unix.NFT_DYNSET_OP_ADD)
	if s.Meter.Op == ir.SetUpdate {
		op = unix.NFT_DYNSET_OP_UPDATE
	}
	l.emit(key.load(key.size), &expr.Dynset{SrcRegKey: 1, SetName: set.Name, SetID: set.ID, Operation: op,
		Exprs: []expr.Any{limit}})
}

// setWrite writes "add|update @SET { KEY [timeout T] }": the key's load
// and a dynset without expressions.
func (l *ruleLowerer) setWrite(w *ir.SetWrite) {
	key := fields[w.Key]
	set := l.named[w.Set.Name]
	l.checkFamily(w.Key.Spec().Family)
	op := uint32(unix.NFT_DYNSET_OP_ADD)
	if w.Op == ir.SetUpdate {
		op = unix.NFT_DYNSET_OP_UPDATE
	}
	l.emit(key.load(key.size), &expr.Dynset{SrcRegKey: 1, SetName: set.Name, SetID: set.ID, Operation: op, Timeout: w.Timeout})
}

// intervalSet is a named set of addresses as nft creates it.
func intervalSet(table *nftables.Table, name string, family ir.Family, elements []ir.AddrElem, id uint32) *BatchSet {
	keyType := nftables.TypeIPAddr
	if family == ir.IPv6 {
		keyType = nftables.TypeIP6Addr
	}
	s := &nftables.Set{Table: table, ID: id, Name: name, Interval: true, KeyType: keyType}
	// One backing array for every key: a blocklist has a million.
	size := int(keyType.Bytes)
	keys := make([]byte, 0, 2*size*len(elements))
	elems := make([]keyRange, len(elements))
	for i, e := range elements {
		keys = append(keys, e.From.AsSlice()...)
		keys = append(keys, e.To.AsSlice()...)
		n := len(keys)
		elems[i] = keyRange{keys[n-2*size : n-size : n-size], keys[n-size : n : n]}
	}
	return &BatchSet{Set: s, ranges: sortRanges(elems)}
}

// IntervalElements are the elements of an address set in table that
// holds elements, as nft sends them (for ksc set, which replaces the
// elements of a set in force).
func IntervalElements(table *nftables.Table, name string, family ir.Family, elements []ir.AddrElem) []nftables.SetElement {
	return intervalSet(table, name, family, elements, 0).Elements()
}

// dynamicSet is a declared dynamic set as nft creates it.
func dynamicSet(table *nftables.Table, ts *ir.TableSet, id uint32) *nftables.Set {
	return &nftables.Set{Table: table, ID: id, Name: ts.Name, Dynamic: true, KeyType: keyType(ts.Kind),
		KeyByteOrder: binaryutil.BigEndian, Size: ts.EffectiveSize(),
		HasTimeout: ts.Expires(), Timeout: ts.Timeout}
}

// natExprs are what nft writes for masquerade, "snat ip to ADDR", "dnat
// ip to ADDR:PORT" and "redirect to :PORT": the address in register 1, the
// port after it (the kernel fills in the ranges' ends and flags, as it
// lists nft's own).
func natExprs(n *ir.NAT) []expr.Any {
	random, fully, persistent := n.Flags&ir.NATRandom != 0, n.Flags&ir.NATFullyRandom != 0, n.Flags&ir.NATPersistent != 0
	// The registers as nft loads them: the addresses, then the ports,
	// each range's first and last (one register when it is one).
	var exprs []expr.Any
	load := func(data []byte) uint32 {
		reg := uint32(len(exprs) + 1)
		exprs = append(exprs, &expr.Immediate{Register: reg, Data: data})
		return reg
	}
	port := func(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }
	ports := func() (first, last uint32) {
		if n.Port == 0 {
			return 0, 0
		}
		first = load(port(n.Port))
		if n.PortLast != 0 {
			last = load(port(n.PortLast))
		}
		return first, last
	}
	switch n.Kind {
	case ir.Masquerade:
		if n.Port == 0 {
			return []expr.Any{&expr.Masq{Random: random, FullyRandom: fully, Persistent: persistent}}
		}
		first, last := ports()
		return append(exprs, &expr.Masq{ToPorts: true, RegProtoMin: first, RegProtoMax: last})
	case ir.Redirect:
		first, last := ports()
		return append(exprs, &expr.Redir{RegisterProtoMin: first, RegisterProtoMax: last, Flags: uint32(n.Flags)})
	}
	family := uint32(unix.NFPROTO_IPV4)
	if n.Family() == ir.IPv6 {
		family = unix.NFPROTO_IPV6
	}
	var typ expr.NATType
	switch n.Kind {
	case ir.SNAT:
		typ = expr.NATTypeSourceNAT
	case ir.DNAT:
		typ = expr.NATTypeDestNAT
	default:
		panic(fmt.Sprintf("nft: lowering nat kind %d, which Validate refuses", n.Kind))
	}
	nat := &expr.NAT{Type: typ, Family: family, Random: random, FullyRandom: fully, Persistent: persistent}
	nat.RegAddrMin = load(n.Addr.AsSlice())
	if n.AddrLast.IsValid() {
		nat.RegAddrMax = load(n.AddrLast.AsSlice())
	} else if n.PortLast != 0 {
		nat.RegAddrMax = nat.RegAddrMin // nft's own, for a range of ports
	}
	nat.RegProtoMin, nat.RegProtoMax = ports()
	return append(exprs, nat)
}

// impliesFamilyFirst reports a rule bound to a family by a transport
// header field (icmp type) and by no address match.
func impliesFamilyFirst(r *ir.Rule) bool {
	implied := false
	for _, m := range r.Matches {
		spec := m.Field.Spec()
		switch {
		case spec.Kind.Spec().Shape == ir.ShapeAddr || m.Field == ir.FieldNfproto:
			return false
		case spec.Family != ir.Inet && spec.Protocol != ir.AnyTransport:
			implied = true
		}
	}
	return implied
}

// checkFamily writes "meta nfproto" in an inet table, once a rule.
func (l *ruleLowerer) checkFamily(f ir.Family) {
	l.addrFamily = f
	if l.family != ir.Inet || l.familyChecked {
		return
	}
	proto := byte(unix.NFPROTO_IPV4)
	if f == ir.IPv6 {
		proto = unix.NFPROTO_IPV6
	}
	l.emit(&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{proto}))
	l.familyChecked = true
}

// cmpOp is the comparison that holds for op.
func cmpOp(op ir.Op) expr.CmpOp {
	if op == ir.Neq {
		return expr.CmpOpNeq
	}
	return expr.CmpOpEq
}

func (l *ruleLowerer) match(m *ir.Match) {
	f := fields[m.Field]
	spec := m.Field.Spec()
	if spec.Family != ir.Inet {
		l.checkFamily(spec.Family)
	}
	switch kind := spec.Kind.Spec(); {
	case spec.ByIndex || kind.Shape == ir.ShapePath:
		l.byName(f, m)
	case kind.Shape == ir.ShapeStates:
		l.states(f, m)
	case kind.Shape == ir.ShapeName:
		l.names(f, m)
	case kind.Shape == ir.ShapeFlags:
		l.flags(f, m)
	case f.hostOrder:
		l.hostNumbers(f, m)
	case f.shift != 0:
		shifted := *m
		shifted.Values = nil
		for _, sp := range m.Values {
			shifted.Values = append(shifted.Values, ir.NumberSpan(uint32(sp.Lo.Uint())<<f.shift, uint32(sp.Hi.Uint())<<f.shift))
		}
		l.ranges(f, &shifted)
	default:
		l.ranges(f, m)
		if m.Field == ir.FieldNfproto && m.Op == ir.Eq && len(ir.Numbers(m.Values)) == 1 {
			l.familyChecked = true // an address match needs no check of its own now
		}
	}
}

// states lowers a match on states as nft does: "ct state a,b" tests the
// bit mask, "ct state a" in braces or "!= a" compares, "ct state { a, b
// }" and "!= { a, b }" look up. The state is a host-order number in the
// register and in set keys.
func (l *ruleLowerer) states(f nftField, m *ir.Match) {
	l.emit(f.load(f.size))
	states := ir.Numbers(m.Values)
	switch {
	case m.Op == ir.Eq && m.Spelling != ir.AsSet:
		var mask uint32
		for _, st := range states {
			mask |= st
		}
		l.emit(&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, mask), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
	case len(states) == 1:
		l.emit(&expr.Cmp{Op: cmpOp(m.Op), Register: 1, Data: binary.NativeEndian.AppendUint32(nil, states[0])})
	default:
		elems := make([]keyRange, len(states))
		for i, st := range states {
			elems[i] = single(binary.NativeEndian.AppendUint32(nil, st))
		}
		l.lookup(f.keyType, elems, false, m.Op)
	}
}

// names lowers a match on interface names: one compared, several (or a
// wildcard among them) looked up.
func (l *ruleLowerer) names(f nftField, m *ir.Match) {
	names := ir.ValueStrings(m.Field.Spec().Kind, m.Values)
	l.emit(f.load(f.size))
	if len(names) == 1 {
		l.emit(&expr.Cmp{Op: cmpOp(m.Op), Register: 1, Data: ifnameBytes(names[0])})
		return
	}
	elems := make([]keyRange, len(names))
	interval := false
	for i, n := range names {
		elems[i] = ifnameRange(n)
		interval = interval || n[len(n)-1] == '*'
	}
	l.lookup(f.keyType, elems, interval, m.Op)
}

// flags lowers a match on flag bits: the field, under the mask if any,
// compared with one value or looked up among several.
func (l *ruleLowerer) flags(f nftField, m *ir.Match) {
	bytes := func(v uint32) []byte {
		if f.hostOrder {
			return binary.NativeEndian.AppendUint32(nil, v) // ct status
		}
		return ir.NumberSpan(v, v).Lo.Bytes(int(f.size))
	}
	l.emit(f.load(f.size))
	if m.Mask != 0 {
		l.emit(&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: f.size, Mask: bytes(m.Mask), Xor: make([]byte, f.size)})
	}
	var values [][]byte
	for _, v := range ir.Numbers(m.Values) {
		values = append(values, bytes(v))
	}
	if len(values) == 1 {
		l.emit(&expr.Cmp{Op: cmpOp(m.Op), Register: 1, Data: values[0]})
		return
	}
	elems := make([]keyRange, len(values))
	for i, v := range values {
		elems[i] = single(v)
	}
	l.lookup(f.keyType, elems, false, m.Op)
}

// swappedKeys are the key types of host-order values (lengths, groups,
// classes) whose anonymous sets nft lists byte-swapped: google/nftables
// marks every anonymous set's keys as network order, and for these types
// nft believes it (for marks, ids and route types it does not).
var swappedKeys = map[string]bool{"integer": true, "devgroup": true, "classid": true}

// hostNumbers lowers a match on host-order 32-bit values (marks, ids):
// under the mask if any, compared or looked up, as nft does.
func (l *ruleLowerer) hostNumbers(f nftField, m *ir.Match) {
	l.emit(f.load(f.size))
	if m.Mask != 0 {
		l.emit(&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, m.Mask), Xor: make([]byte, 4)})
	}
	ranged := slices.ContainsFunc(m.Values, func(sp ir.Span) bool { return sp.Lo != sp.Hi })
	if ranged || len(m.Values) > 1 && swappedKeys[f.keyType.Name] {
		// A range compares numbers, not bytes in the machine's order: nft
		// turns the register to network order first. So does a set of
		// swappedKeys.
		l.emit(&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4})
		l.compare(nftField{size: 4, keyType: f.keyType}, m, func() {})
		return
	}
	values := ir.Numbers(m.Values)
	if len(values) == 1 {
		l.emit(&expr.Cmp{Op: cmpOp(m.Op), Register: 1, Data: binary.NativeEndian.AppendUint32(nil, values[0])})
		return
	}
	elems := make([]keyRange, len(values))
	for i, v := range values {
		elems[i] = single(binary.NativeEndian.AppendUint32(nil, v))
	}
	l.lookup(f.keyType, elems, false, m.Op)
}

// ranges lowers a match on addresses or ports: one value, prefix or range
// compared in place, several looked up in an anonymous set, as nft does.
func (l *ruleLowerer) ranges(f nftField, m *ir.Match) {
	l.compare(f, m, func() { l.emit(f.maskedLoads(m.Mask)...) })
}

// compare compares what load puts in register 1 with the match's values
// (see ranges).
func (l *ruleLowerer) compare(f nftField, m *ir.Match, load func()) {
	if m.SetName != "" {
		load()
		s := l.named[m.SetName]
		l.emit(&expr.Lookup{SourceRegister: 1, SetID: s.ID, SetName: s.Name, Invert: m.Op == ir.Neq})
		return
	}
	size := int(f.size)
	if len(m.Values) > 1 {
		load()
		elems := make([]keyRange, len(m.Values))
		keys := make([]byte, 0, 2*size*len(m.Values)) // one array: a set may be 100,000 addresses
		interval := false
		for i, sp := range m.Values {
			keys = append(keys, sp.Lo[len(sp.Lo)-size:]...) // as Bytes(size) gives it
			first := keys[len(keys)-size : len(keys) : len(keys)]
			elems[i] = single(first)
			if sp.Lo != sp.Hi {
				keys = append(keys, sp.Hi[len(sp.Hi)-size:]...)
				elems[i].last = keys[len(keys)-size : len(keys) : len(keys)]
				interval = true
			}
		}
		l.lookup(f.keyType, elems, interval, m.Op)
		return
	}
	sp := m.Values[0]
	lo, hi := sp.Lo.Bytes(size), sp.Hi.Bytes(size)
	cmp := func(data []byte) *expr.Cmp { return &expr.Cmp{Op: cmpOp(m.Op), Register: 1, Data: data} }
	if k := m.Field.Spec().Kind; k.Spec().Shape == ir.ShapeAddr && m.Spelling != ir.AsRange {
		if e := ir.Addrs(k, m.Values)[0]; e.Prefix.IsValid() {
			if e.Prefix.Bits()%8 == 0 {
				// A byte-aligned prefix compares only its own bytes.
				n := uint32(e.Prefix.Bits() / 8)
				l.emit(f.load(n), cmp(lo[:n]))
				return
			}
			l.emit(f.load(f.size), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: f.size,
				Mask: prefixMask(e.Prefix), Xor: make([]byte, size)}, cmp(lo))
			return
		}
	}
	load()
	switch {
	case sp.Lo == sp.Hi && !l.apart && m.Spelling != ir.AsRange:
		l.emit(cmp(lo))
	case m.Op == ir.Neq:
		l.emit(&expr.Range{Op: expr.CmpOpNeq, Register: 1, FromData: lo, ToData: hi})
	default:
		l.emit(&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: lo}, &expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: hi})
	}
}

func prefixMask(p netip.Prefix) []byte {
	mask := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return mask
}

// reject mirrors nft's plain "reject": ICMP port unreachable in the rule's
// family (the table's, or an address match's in an inet table), else the
// family-independent ICMPX variant.
func (l *ruleLowerer) reject(with ir.RejectWith) expr.Any {
	switch with.Kind {
	case ir.RejectTCPReset:
		return &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}
	case ir.RejectICMP, ir.RejectICMPv6:
		return &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: with.Code}
	case ir.RejectICMPX:
		return &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: with.Code}
	}
	family := l.family
	if family == ir.Inet {
		family = l.addrFamily
	}
	if family == ir.Inet {
		// "meta nfproto ipv4 reject": nft answers in the family's ICMP.
		family = l.ruleFamily
	}

	switch family {
	case ir.IPv4:
		return &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3} // ICMP_PORT_UNREACH
	case ir.IPv6:
		return &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 4} // ICMPV6_PORT_UNREACH
	default:
		return &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}
	}
}

// markSetExprs loads the new mark into register 1 (the value, or the
// other mark) and stores it, as nft does.
func markSetExprs(s *ir.MarkSet) []expr.Any {
	var load expr.Any = &expr.Immediate{Register: 1, Data: binary.NativeEndian.AppendUint32(nil, s.Value)}
	switch s.From {
	case ir.FieldMark:
		load = &expr.Meta{Key: expr.MetaKeyMARK, Register: 1}
	case ir.FieldCtMark:
		load = &expr.Ct{Key: expr.CtKeyMARK, Register: 1}
	}
	var keep []expr.Any
	if s.From != 0 && (s.Keep() != ^uint32(0) || s.Value != 0) {
		keep = []expr.Any{&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, s.Keep()), Xor: binary.NativeEndian.AppendUint32(nil, s.Value)}}
	}
	var store expr.Any = &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}
	if s.Target == ir.FieldCtMark {
		store = &expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: 1}
	}
	return slices.Concat([]expr.Any{load}, keep, []expr.Any{store})
}

// mssSetExprs loads the new MSS into register 1, in network order (the
// route's, turned so by byteorder, as nft does), and writes it into the
// TCP maxseg option: two bytes at offset 2 of option 2.
func mssSetExprs(s *ir.MSSSet) []expr.Any {
	write := &expr.Exthdr{SourceRegister: 1, Type: 2, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt}
	if s.Size != 0 {
		return []expr.Any{&expr.Immediate{Register: 1, Data: binary.BigEndian.AppendUint16(nil, s.Size)}, write}
	}
	return []expr.Any{&expr.Rt{Register: 1, Key: expr.RtTCPMSS},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 2, Size: 2}, write}
}

func logExpr(s *ir.Log) *expr.Log {
	l := &expr.Log{}
	if s.Prefix != "" {
		l.Key |= 1 << unix.NFTA_LOG_PREFIX
		l.Data = []byte(s.Prefix)
	}
	if s.Level != ir.LogDefault {
		l.Key |= 1 << unix.NFTA_LOG_LEVEL
		l.Level = expr.LogLevel(s.Level.Syslog())
	}
	if s.ToGroup {
		l.Key |= 1 << unix.NFTA_LOG_GROUP
		l.Group = s.Group
	}
	if s.Flags != 0 {
		l.Key |= 1 << unix.NFTA_LOG_FLAGS
		l.Flags = expr.LogFlags(s.Flags)
	}
	return l
}

// keyRange is an inclusive range of set keys, as big-endian bytes.
type keyRange struct{ first, last []byte }

func single(k []byte) keyRange { return keyRange{k, k} }

// lookup adds an anonymous constant set of elems and a lookup of register 1
// in it. Interval sets encode each range as a start element and an end
// element one past its last key, after nft's leading end element at zero.
func (l *ruleLowerer) lookup(keyType nftables.SetDatatype, elems []keyRange, interval bool, op ir.Op) {
	*l.nextSetID++
	set := &nftables.Set{
		Table: l.table, ID: *l.nextSetID, Name: "__set%d",
		Anonymous: true, Constant: true, Interval: interval, KeyType: keyType,
	}
	if interval {
		elems = sortRanges(elems)
	}
	l.sets = append(l.sets, &BatchSet{Set: set, ranges: elems})
	l.emit(&expr.Lookup{SourceRegister: 1, SetID: set.ID, SetName: set.Name, Invert: op == ir.Neq})
}

// dscpSetExprs rewrite the code point as nft does: the first two bytes
// of the network header loaded, the code point's bits cleared and set,
// written back (with IPv4's header checksum mended; IPv6 has none).
func dscpSetExprs(s *ir.DSCPSet) []expr.Any {
	bits, shift, csum, csumAt := uint16(0x00fc), 2, expr.CsumTypeInet, uint32(10)
	if s.Field == ir.FieldIP6DSCP {
		bits, shift, csum, csumAt = 0x0fc0, 6, expr.CsumTypeNone, 0
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 2},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2,
			Mask: binary.BigEndian.AppendUint16(nil, ^bits), Xor: binary.BigEndian.AppendUint16(nil, uint16(s.Value)<<shift)},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 2, CsumType: csum, CsumOffset: csumAt},
	}
}

// encodeIntervals calls fn with the interval elements of sorted ranges, at
// most n at a time (n even, so that a range's start and end travel
// together): after nft's leading end element at zero, each range as a
// start element and an end element one past its last key.
func encodeIntervals(sorted []keyRange, n int, fn func([]nftables.SetElement) error) error {
	if len(sorted) == 0 {
		return nil // a declared set that starts empty
	}
	size := len(sorted[0].first)
	chunk := make([]nftables.SetElement, 0, min(n, 2*len(sorted)+1))
	ends := make([]byte, 0, size*cap(chunk)) // end keys of this chunk
	flush := func() error {
		err := fn(chunk)
		chunk, ends = chunk[:0], ends[:0]
		return err
	}
	add := func(e nftables.SetElement) error {
		chunk = append(chunk, e)
		if len(chunk) == n {
			return flush()
		}
		return nil
	}
	if !isZero(sorted[0].first) {
		if err := add(nftables.SetElement{Key: make([]byte, size), IntervalEnd: true}); err != nil {
			return err
		}
	}
	for _, r := range sorted {
		if err := add(nftables.SetElement{Key: r.first}); err != nil {
			return err
		}
		end := append([]byte(nil), r.last...)
		if len(ends)+size <= cap(ends) {
			k := len(ends)
			ends = append(ends, r.last...)
			end = ends[k : k+size : k+size]
		}
		if incrementInPlace(end) {
			if err := add(nftables.SetElement{Key: end, IntervalEnd: true}); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		return flush()
	}
	return nil
}

func cmpEq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }

// ifnameBytes is how nft compares an interface name: 16 bytes padded with
// NULs, or only the prefix (no NUL) for a "name*" wildcard.
func ifnameBytes(name string) []byte {
	if name[len(name)-1] == '*' {
		return []byte(name[:len(name)-1])
	}
	b := make([]byte, 16)
	copy(b, name)
	return b
}

// ifnameRange is a name's range of 16-byte keys: one key, or every name
// with the wildcard's prefix.
func ifnameRange(name string) keyRange {
	first := make([]byte, 16)
	if name[len(name)-1] != '*' {
		copy(first, name)
		return single(first)
	}
	prefix := name[:len(name)-1]
	copy(first, prefix)
	last := make([]byte, 16)
	copy(last, prefix)
	for i := len(prefix); i < 16; i++ {
		last[i] = 0xff
	}
	return keyRange{first, last}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// incrementInPlace adds one to b as a big-endian number; it returns false
// when b was all 0xff (a range reaching the top of the key space has no
// end element).
func incrementInPlace(b []byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}

func sortRanges(rs []keyRange) []keyRange {
	less := func(i, j int) bool { return bytes.Compare(rs[i].first, rs[j].first) < 0 }
	if sort.SliceIsSorted(rs, less) {
		return rs // named sets arrive merged, hence sorted
	}
	out := append([]keyRange(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].first, out[j].first) < 0 })
	return out
}

// String names the table as nft does: "inet killswitch".
func (t *BatchTable) String() string { return TableName(t.Table) }

// Describe lists the batch as the messages it sends, for --dry-run.
func (b *Batch) Describe() []string {
	var out []string
	if b.FlushRuleset {
		out = append(out, "flush ruleset")
	}
	for _, t := range b.Tables {
		if !b.FlushRuleset {
			out = append(out, "add table "+t.String(), "delete table "+t.String())
		}
		out = append(out, "add table "+t.String())
		for _, s := range t.Sets {
			if s.Set.Dynamic {
				desc := fmt.Sprintf("type %s; size %d; flags dynamic", s.Set.KeyType.Name, s.Set.Size)
				if s.Set.HasTimeout {
					desc += ",timeout"
				}
				if s.Set.Timeout != 0 {
					desc += "; timeout " + ir.FormatTimeout(s.Set.Timeout)
				}
				out = append(out, fmt.Sprintf("add set %s %s { %s; }", t, s.Set.Name, desc))
				continue
			}
			out = append(out, fmt.Sprintf("add set %s %s { type %s; flags interval; %d elements }", t, s.Set.Name, s.Set.KeyType.Name, s.Len()))
		}
		for _, ch := range t.Chains {
			out = append(out, fmt.Sprintf("add chain %s %s %s", t, ch.Chain.Name, DescribeChain(ch.Chain)))
			for _, r := range ch.Rules {
				for _, s := range r.Sets {
					out = append(out, fmt.Sprintf("add set %s %s { type %s; %d elements }", t, s.Set.Name, s.Set.KeyType.Name, s.Len()))
				}
				out = append(out, fmt.Sprintf("add rule %s %s %s  # %s, %d expressions", t, ch.Chain.Name, r.Text(), r.Pos, len(r.Rule.Exprs)))
			}
		}
	}
	return out
}
