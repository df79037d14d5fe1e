package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/ksc-project/ksc/ir"
	"golang.org/x/sys/unix"
)

// DescribeRule decompiles a live rule into nft syntax, reading the same
// fields table the lowering writes with, for rules that did not come from
// the policy (another tool's, or an older policy's). What it does not know
// shows as the expression's type.
// markSetText describes a store of register 1 into a mark, which holds
// the field loaded last (through a bitwise of mask and xor, if any), or
// else the immediate value.
func markSetText(e expr.Any, loaded ir.Field, mask, xor, immediate []byte) (string, bool) {
	target := ir.Field(0)
	switch e := e.(type) {
	case *expr.Meta:
		if e.SourceRegister && e.Key == expr.MetaKeyMARK {
			target = ir.FieldMark
		}
	case *expr.Ct:
		if e.SourceRegister && e.Key == expr.CtKeyMARK {
			target = ir.FieldCtMark
		}
	}
	if target == 0 {
		return "", false
	}
	st := ir.MarkSet{Target: target, From: loaded}
	if len(mask) == 4 && len(xor) == 4 {
		st.Mask, st.Value = binary.NativeEndian.Uint32(mask), binary.NativeEndian.Uint32(xor)
	}
	if loaded != ir.FieldMark && loaded != ir.FieldCtMark {
		st.From = 0
		if len(immediate) == 4 {
			st.Value = binary.NativeEndian.Uint32(immediate)
		}
	}
	return st.Text(), true
}

// natText describes snat and dnat as nft does, from the registers the
// rule loaded.
func natText(e *expr.NAT, registers map[uint32][]byte, family nftables.TableFamily) string {
	a, ok := netip.AddrFromSlice(registers[e.RegAddrMin])
	kind := map[expr.NATType]ir.NATKind{expr.NATTypeSourceNAT: ir.SNAT, expr.NATTypeDestNAT: ir.DNAT}[e.Type]
	if kind == 0 || e.RegAddrMin == 0 || !ok {
		return fmt.Sprintf("<%T>", e)
	}
	n := ir.NAT{Kind: kind, Addr: a, Flags: natFlags(e.Random, e.FullyRandom, e.Persistent)}
	if e.RegAddrMax != 0 && e.RegAddrMax != e.RegAddrMin {
		if n.AddrLast, ok = netip.AddrFromSlice(registers[e.RegAddrMax]); !ok {
			return fmt.Sprintf("<%T>", e)
		}
	}
	if !natPorts(&n, registers, e.RegProtoMin, e.RegProtoMax) {
		return fmt.Sprintf("<%T>", e)
	}
	tableFamily := map[nftables.TableFamily]ir.Family{nftables.TableFamilyIPv4: ir.IPv4, nftables.TableFamilyIPv6: ir.IPv6}[family]
	return n.Text(tableFamily)
}

// natPorts reads the port, or range of ports, of a rewrite from the
// registers the rule loaded; false when they hold none.
func natPorts(n *ir.NAT, registers map[uint32][]byte, first, last uint32) bool {
	if first == 0 {
		return true
	}
	p := registers[first]
	if len(p) != 2 {
		return false
	}
	n.Port = binary.BigEndian.Uint16(p)
	if last != 0 && last != first {
		q := registers[last]
		if len(q) != 2 {
			return false
		}
		n.PortLast = binary.BigEndian.Uint16(q)
	}
	return true
}

// natFlags are the flags google/nftables reads apart, as ksc keeps them.
func natFlags(random, fullyRandom, persistent bool) ir.NATFlags {
	var f ir.NATFlags
	for _, b := range []struct {
		set  bool
		flag ir.NATFlags
	}{{random, ir.NATRandom}, {fullyRandom, ir.NATFullyRandom}, {persistent, ir.NATPersistent}} {
		if b.set {
			f |= b.flag
		}
	}
	return f
}

func limitText(e *expr.Limit) string {
	l := ir.Limit{Rate: e.Rate, Over: e.Over, Burst: e.Burst, Bytes: e.Type == expr.LimitTypePktBytes}
	for u := ir.PerSecond; u <= ir.PerWeek; u++ {
		if u.Seconds() == uint64(e.Unit) {
			l.Unit = u
		}
	}
	return l.Text()
}

func connlimitText(e *expr.Connlimit) string {
	l := ir.Limit{Conns: e.Count, Over: e.Flags&expr.NFT_CONNLIMIT_F_INV != 0}
	if e.Count == 0 || e.Flags&^expr.NFT_CONNLIMIT_F_INV != 0 {
		return fmt.Sprintf("<%T>", e)
	}
	return l.Text()
}

// dynsetText describes a dynset as nft does ("update @ssh4 { ip saddr
// limit rate ... }"), keyed by the field loaded last.
func (t *LiveTable) dynsetText(e *expr.Dynset, key ir.Field) string {
	op := map[uint32]string{unix.NFT_DYNSET_OP_ADD: "add", unix.NFT_DYNSET_OP_UPDATE: "update"}[e.Operation]
	if op == "" || key == 0 || e.SrcRegKey != 1 || e.SrcRegData != 0 || e.Invert {
		return fmt.Sprintf("<%T>", e)
	}
	parts := []string{key.String()}
	if e.Timeout != 0 {
		parts = append(parts, "timeout "+ir.FormatTimeout(e.Timeout))
	}
	for _, x := range e.Exprs {
		switch x := x.(type) {
		case *expr.Limit:
			parts = append(parts, limitText(x))
		case *expr.Connlimit:
			parts = append(parts, connlimitText(x))
		default:
			parts = append(parts, fmt.Sprintf("<%T>", x))
		}
	}
	return fmt.Sprintf("%s @%s { %s }", op, e.SetName, strings.Join(parts, " "))
}

func DescribeRule(t *LiveTable, rule *nftables.Rule) string {
	var parts []string
	var field ir.Field               // what register 1 holds; 0 when nothing ksc knows
	var mask, xor []byte             // a bitwise applied to it
	var proto ir.Protocol            // the protocol the rule matched, for its header fields
	var icmpTypes []uint32           // the ICMP types it matched, likewise
	var turned bool                  // a host-order number turned to network order (a range of them)
	var immediate []byte             // a value loaded into register 1
	registers := map[uint32][]byte{} // values loaded by immediates, for nat
	// The family the rule is in: its table's, or the one it checks.
	family := map[nftables.TableFamily]ir.Family{nftables.TableFamilyIPv4: ir.IPv4, nftables.TableFamilyIPv6: ir.IPv6}[t.Table.Family]
	for _, e := range rule.Exprs {
		if c, ok := e.(*expr.Cmp); ok && field == ir.FieldL4Proto && c.Op == expr.CmpOpEq && len(c.Data) == 1 {
			proto = ir.Protocol(c.Data[0])
		}
		if c, ok := e.(*expr.Cmp); ok && (field == ir.FieldICMPType || field == ir.FieldICMPv6Type) && c.Op == expr.CmpOpEq && len(c.Data) == 1 {
			icmpTypes = []uint32{uint32(c.Data[0])}
		}
		if l, ok := e.(*expr.Lookup); ok && (field == ir.FieldICMPType || field == ir.FieldICMPv6Type) && !l.Invert {
			icmpTypes = t.setNumbers(l.SetName)
		}
		if c, ok := e.(*expr.Cmp); ok && field == nfprotoLoad && c.Op == expr.CmpOpEq && len(c.Data) == 1 {
			family = map[byte]ir.Family{2: ir.IPv4, 10: ir.IPv6}[c.Data[0]]
		}
		if text, ok := markSetText(e, field, mask, xor, immediate); ok {
			parts = append(parts, text)
			continue
		}
		if m, ok := e.(*expr.Meta); ok && m.SourceRegister && m.Key == expr.MetaKeyNFTRACE && len(immediate) == 1 {
			parts = append(parts, (&ir.Trace{On: immediate[0] == 1}).Text())
			continue
		}
		if p, ok := e.(*expr.Payload); ok && p.OperationType == expr.PayloadWrite {
			parts = append(parts, dscpText(p, family, mask, xor))
			continue
		}
		switch e := e.(type) {
		case *expr.Immediate:
			if e.Register == 1 {
				field, immediate = 0, e.Data
			}
			registers[e.Register] = e.Data
		case *expr.Meta, *expr.Payload, *expr.Ct, *expr.Fib, *expr.Socket:
			field, mask, xor, turned = loadedField(e, ruleContext{proto, family, icmpTypes}), nil, nil, false
			if m, ok := e.(*expr.Meta); ok && m.Key == expr.MetaKeyNFPROTO {
				field = nfprotoLoad
			}
		case *expr.Bitwise:
			mask, xor = e.Mask, e.Xor
			if f, ok := maskedField(field, e.Mask); ok {
				field, mask = f, nil // the bits of a field of fewer bits (ip version)
			}
		case *expr.Rt:
			if e.Key != expr.RtTCPMSS {
				parts = append(parts, fmt.Sprintf("<rt %d>", e.Key))
			}
			field, immediate = routeMSS, nil
		case *expr.Byteorder:
			switch {
			case fields[field].hostOrder && e.Op == expr.ByteorderHton && e.Size == 4:
				turned = true
			case field != routeMSS:
				parts = append(parts, "<byteorder>")
			}
		case *expr.Exthdr:
			parts = append(parts, mssText(e, field, immediate))
		case *expr.Cmp:
			if turned {
				e = &expr.Cmp{Op: e.Op, Register: e.Register, Data: machineOrder(e.Data)}
			}
			parts = append(parts, compareText(field, mask, e))
		case *expr.Range:
			op := ""
			if e.Op == expr.CmpOpNeq {
				op = "!= "
			}
			from, to := e.FromData, e.ToData
			if turned {
				from, to = machineOrder(from), machineOrder(to)
			}
			parts = append(parts, fmt.Sprintf("%s %s%s-%s", field, op, rangeEndText(field, from), rangeEndText(field, to)))
		case *expr.Lookup:
			op := ""
			if e.Invert {
				op = "!= "
			}
			if field == nfprotoLoad {
				field = ir.FieldNfproto // "meta nfproto { ipv4, ipv6 }"
			}
			if field == ir.FieldTCPFlags && len(mask) == 1 {
				// Whole values under a mask: "tcp flags & (syn|ack) == { syn, ack }".
				op = map[bool]string{false: "== ", true: "!= "}[e.Invert]
				parts = append(parts, "tcp flags & ("+ir.KindTCPFlags.NameOf(uint32(mask[0]))+") "+op+t.setValues(field, e.SetName, false))
				continue
			}
			parts = append(parts, field.String()+" "+op+t.setValues(field, e.SetName, turned))
		case *expr.Masq:
			n := ir.NAT{Kind: ir.Masquerade, Flags: natFlags(e.Random, e.FullyRandom, e.Persistent)}
			if e.ToPorts && !natPorts(&n, registers, e.RegProtoMin, e.RegProtoMax) {
				parts = append(parts, fmt.Sprintf("<%T>", e))
				continue
			}
			parts = append(parts, n.Text(ir.Inet))
		case *expr.NAT:
			parts = append(parts, natText(e, registers, t.Table.Family))
		case *expr.Redir:
			n := ir.NAT{Kind: ir.Redirect, Flags: ir.NATFlags(e.Flags)}
			if !natPorts(&n, registers, e.RegisterProtoMin, e.RegisterProtoMax) {
				parts = append(parts, fmt.Sprintf("<%T>", e))
				continue
			}
			parts = append(parts, n.Text(ir.Inet))
		case *expr.Counter:
			parts = append(parts, "counter")
		case *expr.Notrack:
			parts = append(parts, "notrack")
		case *expr.Log:
			l := "log"
			if len(e.Data) > 0 {
				l += fmt.Sprintf(" prefix %q", e.Data)
			}
			if e.Key&(1<<unix.NFTA_LOG_GROUP) != 0 {
				l += fmt.Sprintf(" group %d", e.Group)
			}
			if e.Key&(1<<unix.NFTA_LOG_LEVEL) != 0 {
				l += " level " + ir.LogLevel(e.Level+1).String()
			}
			if e.Key&(1<<unix.NFTA_LOG_FLAGS) != 0 {
				l += " " + ir.LogFlags(e.Flags).Text()
			}
			parts = append(parts, l)
		case *expr.Limit:
			parts = append(parts, limitText(e))
		case *expr.Connlimit:
			parts = append(parts, connlimitText(e))
		case *expr.Dynset:
			parts = append(parts, t.dynsetText(e, field))
		case *expr.Verdict:
			parts = append(parts, verdictName(e))
		case *expr.Reject:
			parts = append(parts, rejectText(e, family))
		default:
			parts = append(parts, fmt.Sprintf("<%T>", e))
		}
	}
	if c, ok := userdata.GetString(rule.UserData, userdata.TypeComment); ok && c != "" {
		parts = append(parts, "comment "+strconv.Quote(c))
	}
	return strings.Join(asWritten(parts), " ")
}

// asWritten folds what nft writes as one clause back into it, as nft list
// shows it: the family check an address match implies, "meta l4proto tcp
// th dport 22" as "tcp dport 22", and ">= a <= b" as "a-b".
func asWritten(parts []string) []string {
	var named []string
	proto := "" // the transport protocol a "meta l4proto" folded away
	for i := 0; i < len(parts); i++ {
		p, next := parts[i], ""
		if i+1 < len(parts) {
			next = parts[i+1]
		}
		switch {
		case p == "meta nfproto ipv4" && strings.HasPrefix(next, "ip "),
			p == "meta nfproto ipv6" && strings.HasPrefix(next, "ip6 "):
			continue
		case p == "meta nfproto ipv4" && next == "meta l4proto icmp" && i+2 < len(parts) && strings.HasPrefix(parts[i+2], "icmp "),
			p == "meta nfproto ipv6" && next == "meta l4proto ipv6-icmp" && i+2 < len(parts) && strings.HasPrefix(parts[i+2], "icmpv6 "),
			p == "meta l4proto icmp" && strings.HasPrefix(next, "icmp "),
			p == "meta l4proto ipv6-icmp" && strings.HasPrefix(next, "icmpv6 "),
			// The family after the protocol, as ksc writes it before a
			// set of ICMP types.
			p == "meta l4proto icmp" && next == "meta nfproto ipv4" && i+2 < len(parts) && strings.HasPrefix(parts[i+2], "icmp "),
			p == "meta l4proto ipv6-icmp" && next == "meta nfproto ipv6" && i+2 < len(parts) && strings.HasPrefix(parts[i+2], "icmpv6 "),
			p == "meta nfproto ipv4" && strings.HasPrefix(next, "icmp ") && i > 0 && parts[i-1] == "meta l4proto icmp",
			p == "meta nfproto ipv6" && strings.HasPrefix(next, "icmpv6 ") && i > 0 && parts[i-1] == "meta l4proto ipv6-icmp":
			continue // the dependencies of "icmp type", as nft shows them
		case (p == "meta l4proto tcp" || p == "meta l4proto udp") &&
			(strings.HasPrefix(next, "th ") || strings.HasPrefix(next, strings.TrimPrefix(p, "meta l4proto ")+" ")):
			// The protocol holds for the rest of the rule: its later
			// header fields are that protocol's ("tcp flags syn tcp dport 22").
			proto = strings.TrimPrefix(p, "meta l4proto ")
			continue
		case proto != "" && strings.HasPrefix(p, "th "):
			p = proto + strings.TrimPrefix(p, "th")
		}
		named = append(named, p)
	}
	var out []string
	for i := 0; i < len(named); i++ {
		if i+1 < len(named) {
			field, lo, ok1 := strings.Cut(named[i], " >= ")
			nextField, hi, ok2 := strings.Cut(named[i+1], " <= ")
			if ok1 && ok2 && field == nextField {
				out = append(out, field+" "+lo+"-"+hi)
				i++
				continue
			}
		}
		out = append(out, named[i])
	}
	return out
}

// rejectText decompiles a reject: plain when it is what a plain reject
// lowers to in the rule's family, else with its answer.
func rejectText(e *expr.Reject, family ir.Family) string {
	var with ir.RejectWith
	switch e.Type {
	case unix.NFT_REJECT_TCP_RST:
		with.Kind = ir.RejectTCPReset
	case unix.NFT_REJECT_ICMPX_UNREACH:
		if e.Code == unix.NFT_REJECT_ICMPX_PORT_UNREACH {
			return "reject"
		}
		with = ir.RejectWith{Kind: ir.RejectICMPX, Code: e.Code}
	default:
		if family == ir.IPv4 && e.Code == 3 || family == ir.IPv6 && e.Code == 4 {
			return "reject"
		}
		with = ir.RejectWith{Kind: ir.RejectICMP, Code: e.Code}
		if family == ir.IPv6 {
			with.Kind = ir.RejectICMPv6
		}
	}
	return "reject " + with.Text()
}

// dscpText describes a write of register 1 into the network header: the
// code point dscpSetExprs writes, or else what it is.
func dscpText(e *expr.Payload, family ir.Family, mask, xor []byte) string {
	want := &ir.DSCPSet{Field: ir.FieldIPDSCP}
	if family == ir.IPv6 {
		want.Field = ir.FieldIP6DSCP
	}
	if family != ir.Inet && len(xor) == 2 && e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 0 && e.Len == 2 {
		shift := map[ir.Field]int{ir.FieldIPDSCP: 2, ir.FieldIP6DSCP: 6}[want.Field]
		want.Value = uint8(binary.BigEndian.Uint16(xor) >> shift & 0x3f)
		exprs := dscpSetExprs(want)
		if reflect.DeepEqual(exprs[1].(*expr.Bitwise).Mask, mask) && reflect.DeepEqual(exprs[2], e) {
			return want.Text()
		}
	}
	return fmt.Sprintf("<payload write %d@%d>", e.Len, e.Offset)
}

// mssText describes a write of register 1 into the TCP maxseg option,
// which holds the route's MSS (routeMSS) or an immediate value.
func mssText(e *expr.Exthdr, loaded ir.Field, immediate []byte) string {
	if e.SourceRegister == 0 || e.Op != expr.ExthdrOpTcpopt || e.Type != 2 || e.Offset != 2 || e.Len != 2 {
		return fmt.Sprintf("<exthdr %d %d@%d>", e.Type, e.Len, e.Offset)
	}
	st := ir.MSSSet{}
	if loaded != routeMSS {
		if len(immediate) != 2 {
			return "<tcp option maxseg size set ?>"
		}
		st.Size = binary.BigEndian.Uint16(immediate)
	}
	return st.Text()
}

// routeMSS stands for "rt mtu" in register 1, as nfprotoLoad does for
// the family.
const routeMSS = ir.Field(254)

// nfprotoLoad stands for the "meta nfproto" an inet table's rules start
// their address matches with; it is not a field of the language.
const nfprotoLoad = ir.Field(255)

// loadedField finds the field whose load is e, in the lowering's table.
// Of fields at the same place it takes the one of the rule's context: of
// proto, the protocol the rule matched before (icmp type, not icmpv6
// type), of its family (ip6 length, not ip id), and of the ICMP types it
// compared before (icmp mtu in "fragmentation needed", icmp sequence in
// an echo).
func loadedField(e expr.Any, c ruleContext) ir.Field {
	found, score := ir.Field(0), -1
	for _, f := range ir.AllFields() {
		row, ok := fields[f]
		if !ok {
			continue
		}
		n := row.size
		if p, ok := e.(*expr.Payload); ok && p.Len < n && f.Spec().Kind.Spec().Shape == ir.ShapeAddr {
			n = p.Len // a byte-aligned prefix loads fewer bytes
		}
		if !reflect.DeepEqual(row.load(n), e) {
			continue
		}
		if s, ok := c.fits(f.Spec()); ok && s > score {
			found, score = f, s
		}
	}
	return found
}

// ruleContext is what a rule compared before a load, which tells fields
// at one place apart.
type ruleContext struct {
	proto  ir.Protocol
	family ir.Family
	// icmpTypes are the ICMP types compared, or nil.
	icmpTypes []uint32
}

// fits scores how well a field fits the context, or reports one of
// another protocol or family than the rule's. A field of any protocol
// (th dport) fits a rule whose protocol is not one.
func (c ruleContext) fits(spec ir.FieldSpec) (int, bool) {
	score := 0
	switch {
	case spec.Protocol == ir.AnyTransport:
		if c.proto == ir.AnyTransport {
			score += 4
		}
	case spec.Protocol == c.proto:
		score += 8
	case c.proto != ir.AnyTransport:
		return 0, false
	}
	switch {
	case spec.Family == ir.Inet || c.family == ir.Inet:
	case spec.Family == c.family:
		score += 2
	default:
		return 0, false
	}
	if c.icmpTypes != nil && spec.ICMPTypes != nil && !slices.ContainsFunc(c.icmpTypes, func(t uint32) bool { return !slices.Contains(spec.ICMPTypes, t) }) {
		score++
	}
	return score, true
}

// maskedField is the field whose bits a mask after loading f keeps, of
// the fields loaded as f is: ip version and ip hdrlength share a byte.
func maskedField(f ir.Field, mask []byte) (ir.Field, bool) {
	row, ok := fields[f]
	if !ok {
		return f, false
	}
	for _, g := range ir.AllFields() {
		other, ok := fields[g]
		if ok && other.mask != 0 && reflect.DeepEqual(other.load(other.size), row.load(row.size)) &&
			bytes.Equal(ir.NumberSpan(other.mask, 0).Lo.Bytes(int(other.size)), mask) {
			return g, true
		}
	}
	return f, false
}

// compareText decompiles a comparison of what register 1 holds.
func compareText(f ir.Field, mask []byte, c *expr.Cmp) string {
	switch {
	case f == nfprotoLoad:
		if c.Op == expr.CmpOpEq && len(c.Data) == 1 {
			return map[byte]string{2: "meta nfproto ipv4", 10: "meta nfproto ipv6"}[c.Data[0]]
		}
		return fmt.Sprintf("<nfproto %x>", c.Data)
	case f == 0:
		return fmt.Sprintf("<cmp %x>", c.Data)
	case f == ir.FieldCtState && mask != nil && isZero(c.Data):
		// "ct state a,b" tests the mask; "== 0" is its negation.
		op := ""
		if c.Op == expr.CmpOpEq {
			op = "!= "
		}
		return "ct state " + op + valueText(f, mask)
	}
	op := map[expr.CmpOp]string{expr.CmpOpEq: "", expr.CmpOpNeq: "!= ", expr.CmpOpLt: "< ", expr.CmpOpLte: "<= ", expr.CmpOpGt: "> ", expr.CmpOpGte: ">= "}[c.Op]
	v := valueText(f, c.Data)
	if row, ok := fields[f]; ok && f.Spec().Kind.Spec().Shape == ir.ShapeFlags && len(c.Data) == int(row.size) {
		m := &ir.Match{Field: f, Op: ir.Eq, Values: ir.NumberSet(registerNumber(row, c.Data))}
		if c.Op == expr.CmpOpNeq {
			m.Op = ir.Neq
		}
		if len(mask) == int(row.size) {
			m.Mask = registerNumber(row, mask)
		}
		return m.Text()
	}
	if mask != nil && f.Spec().Maskable && len(mask) == 4 {
		op = map[expr.CmpOp]string{expr.CmpOpEq: "== ", expr.CmpOpNeq: "!= "}[c.Op]
		return f.String() + " and " + ir.KindMark.NameOf(binary.NativeEndian.Uint32(mask)) + " " + op + v
	}
	if mask != nil && f.Spec().Maskable && len(mask) == int(fields[f].size) {
		m := &ir.Match{Field: f, Op: ir.Eq, Values: ir.NumberSet(registerNumber(fields[f], c.Data)), Mask: registerNumber(fields[f], mask)}
		if c.Op == expr.CmpOpNeq {
			m.Op = ir.Neq
		}
		return m.Text()
	}
	if mask != nil {
		// An address compared under a mask is a prefix of the mask's length.
		if a, err := netip.ParseAddr(v); err == nil {
			ones := 0
			for _, b := range mask {
				ones += bits.OnesCount8(b)
			}
			v = netip.PrefixFrom(a, ones).String()
		}
	}
	return f.String() + " " + op + v
}

// machineOrder turns a 4-byte number in network order back to the
// machine's, as a host-order field holds it before nft turns it.
func machineOrder(data []byte) []byte {
	if len(data) != 4 {
		return data
	}
	return binary.NativeEndian.AppendUint32(nil, binary.BigEndian.Uint32(data))
}

// rangeEndText writes an end of a range: a number, as nft reads the ends
// of ranges ("icmp-icmp" is no range).
func rangeEndText(f ir.Field, data []byte) string {
	if row, ok := fields[f]; ok && f.Spec().Kind.Spec().Shape == ir.ShapeNumber && len(data) == int(row.size) && len(data) <= 4 {
		return f.Spec().Kind.NumberOf(registerNumber(row, data))
	}
	return valueText(f, data)
}

// valueText writes a register value of field f as the language does.
func valueText(f ir.Field, data []byte) string {
	kind := f.Spec().Kind
	spec := kind.Spec()
	switch {
	case f.Spec().ByIndex && len(data) == 4:
		return strconv.FormatUint(uint64(binary.NativeEndian.Uint32(data)), 10) // the index: names are the namespace's
	case spec.Shape == ir.ShapePath && len(data) == 8:
		return strconv.FormatUint(binary.NativeEndian.Uint64(data), 10) // the cgroup's id: paths are the machine's
	case spec.Shape == ir.ShapeName:
		name := string(bytes.TrimRight(data, "\x00"))
		if len(data) < 16 {
			name += "*"
		}
		return fmt.Sprintf("%q", name)
	case spec.Shape == ir.ShapeAddr:
		full := make([]byte, spec.Bits/8)
		copy(full, data)
		a, _ := netip.AddrFromSlice(full)
		if len(data) < len(full) {
			return netip.PrefixFrom(a, len(data)*8).String()
		}
		return a.String()
	case len(data) != int(fields[f].size) || len(data) > 4:
	case spec.Shape == ir.ShapeStates:
		var states []string
		m := registerNumber(fields[f], data)
		for _, n := range spec.Names {
			if m&n.Value != 0 {
				states = append(states, n.Name)
			}
		}
		return strings.Join(states, ",")
	default:
		return kind.NameOf(registerNumber(fields[f], data))
	}
	return fmt.Sprintf("0x%x", data)
}

// registerNumber reads a number of at most 4 bytes from a register, in
// the field's byte order.
func registerNumber(f nftField, data []byte) uint32 {
	var v uint32
	if f.hostOrder && len(data) == 4 {
		return binary.NativeEndian.Uint32(data)
	}
	for _, b := range data {
		v = v<<8 | uint32(b)
	}
	return v >> f.shift
}

func (t *LiveTable) setValues(f ir.Field, name string, turned bool) string {
	s := t.Sets[name]
	if s == nil || !s.Set.Anonymous {
		return "@" + name
	}
	var vals []string
	es := &s.Elements
	if s.Set.Interval {
		for _, r := range es.Ranges() {
			first, last := r[0], r[1]
			if turned {
				first, last = machineOrder(first), machineOrder(last)
			}
			vals = append(vals, rangeText(f, first, last))
		}
		return "{ " + strings.Join(vals, ", ") + " }"
	}
	for i := range es.Len() {
		key := es.Key(i)
		if turned {
			key = machineOrder(key)
		}
		vals = append(vals, valueText(f, key))
	}
	return "{ " + strings.Join(vals, ", ") + " }"
}

// setNumbers are the one-byte keys of an anonymous set without
// intervals (the ICMP types of "icmp type { echo-reply, echo-request }"),
// in order; nil for any other set.
func (t *LiveTable) setNumbers(name string) []uint32 {
	s := t.Sets[name]
	if s == nil || !s.Set.Anonymous || s.Set.Interval {
		return nil
	}
	var out []uint32
	for i := range s.Elements.Len() {
		if key := s.Elements.Key(i); len(key) == 1 {
			out = append(out, uint32(key[0]))
		}
	}
	slices.Sort(out)
	return out
}

// rangeText writes the keys from first to last of field f: one value, an
// interface wildcard, a prefix or a range.
func rangeText(f ir.Field, first, last []byte) string {
	if bytes.Equal(first, last) {
		return valueText(f, first)
	}
	switch k := f.Spec().Kind; k.Spec().Shape {
	case ir.ShapeName:
		var sp ir.Span
		copy(sp.Lo[:], first)
		copy(sp.Hi[:], last)
		if name, ok := ir.InterfacePattern(sp); ok {
			return fmt.Sprintf("%q", name)
		}
	case ir.ShapeAddr:
		lo, _ := netip.AddrFromSlice(first)
		hi, _ := netip.AddrFromSlice(last)
		return ir.Addrs(k, ir.Set{{Lo: ir.AddrKey(lo), Hi: ir.AddrKey(hi)}})[0].String()
	}
	return valueText(f, first) + "-" + valueText(f, last)
}

// decrement returns b minus one as a big-endian number.
func decrement(b []byte) []byte {
	out := bytes.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]--
		if out[i] != 0xff {
			break
		}
	}
	return out
}
