package nft

import (
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/ir"
)

// nftField is how nft names one IR field and loads it into register 1.
// Every field of ir.AllFields has a row; a test checks it, and Check
// refuses a policy with a field that has none.
type nftField struct {
	name string
	// size is how many bytes of register 1 the field's value takes.
	size uint32
	// load loads the field's first n bytes (payloads can load fewer, for
	// a byte-aligned prefix; other loads ignore n).
	load    func(n uint32) expr.Any
	keyType nftables.SetDatatype
	// hostOrder values (meta and ct numbers) are in the machine's byte
	// order in the register; payloads are in network order.
	hostOrder bool
	// mask and shift place a field of fewer bits than its bytes (ip
	// dscp: the six high bits of a byte): the bytes loaded are cleared
	// but for mask, and a value v is compared as v<<shift.
	mask  uint32
	shift uint8
}

var fields = map[ir.Field]nftField{
	ir.FieldIifname:    {name: "iifname", size: 16, load: meta(expr.MetaKeyIIFNAME), keyType: nftables.TypeIFName},
	ir.FieldOifname:    {name: "oifname", size: 16, load: meta(expr.MetaKeyOIFNAME), keyType: nftables.TypeIFName},
	ir.FieldIif:        {name: "iif", size: 4, load: meta(expr.MetaKeyIIF), keyType: nftables.TypeIFIndex, hostOrder: true},
	ir.FieldOif:        {name: "oif", size: 4, load: meta(expr.MetaKeyOIF), keyType: nftables.TypeIFIndex, hostOrder: true},
	ir.FieldIPSaddr:    {name: "ip saddr", size: 4, load: payload(expr.PayloadBaseNetworkHeader, 12), keyType: nftables.TypeIPAddr},
	ir.FieldIPDaddr:    {name: "ip daddr", size: 4, load: payload(expr.PayloadBaseNetworkHeader, 16), keyType: nftables.TypeIPAddr},
	ir.FieldIP6Saddr:   {name: "ip6 saddr", size: 16, load: payload(expr.PayloadBaseNetworkHeader, 8), keyType: nftables.TypeIP6Addr},
	ir.FieldIP6Daddr:   {name: "ip6 daddr", size: 16, load: payload(expr.PayloadBaseNetworkHeader, 24), keyType: nftables.TypeIP6Addr},
	ir.FieldL4Proto:    {name: "meta l4proto", size: 1, load: meta(expr.MetaKeyL4PROTO), keyType: nftables.TypeInetProto},
	ir.FieldSport:      {name: "th sport", size: 2, load: payload(expr.PayloadBaseTransportHeader, 0), keyType: nftables.TypeInetService},
	ir.FieldDport:      {name: "th dport", size: 2, load: payload(expr.PayloadBaseTransportHeader, 2), keyType: nftables.TypeInetService},
	ir.FieldCtState:    {name: "ct state", size: 4, load: func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeySTATE} }, keyType: nftables.TypeCTState, hostOrder: true},
	ir.FieldICMPType:   {name: "icmp type", size: 1, load: payload(expr.PayloadBaseTransportHeader, 0), keyType: nftables.TypeICMPType},
	ir.FieldICMPCode:   {name: "icmp code", size: 1, load: payload(expr.PayloadBaseTransportHeader, 1), keyType: nftables.TypeICMPCode},
	ir.FieldICMPv6Type: {name: "icmpv6 type", size: 1, load: payload(expr.PayloadBaseTransportHeader, 0), keyType: nftables.TypeICMP6Type},
	ir.FieldICMPv6Code: {name: "icmpv6 code", size: 1, load: payload(expr.PayloadBaseTransportHeader, 1), keyType: nftables.TypeICMPV6Code},
	ir.FieldMark:       {name: "meta mark", size: 4, load: meta(expr.MetaKeyMARK), keyType: nftables.TypeMark, hostOrder: true},
	ir.FieldCtMark:     {name: "ct mark", size: 4, load: func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeyMARK} }, keyType: nftables.TypeMark, hostOrder: true},
	ir.FieldSkuid:      {name: "meta skuid", size: 4, load: meta(expr.MetaKeySKUID), keyType: nftables.TypeUID, hostOrder: true},
	ir.FieldSkgid:      {name: "meta skgid", size: 4, load: meta(expr.MetaKeySKGID), keyType: nftables.TypeGID, hostOrder: true},
	ir.FieldNfproto:    {name: "meta nfproto", size: 1, load: meta(expr.MetaKeyNFPROTO), keyType: nftables.TypeNFProto},
	ir.FieldPkttype:    {name: "meta pkttype", size: 1, load: meta(expr.MetaKeyPKTTYPE), keyType: nftables.TypePktType},
	ir.FieldTCPFlags:   {name: "tcp flags", size: 1, load: payload(expr.PayloadBaseTransportHeader, 13), keyType: nftables.TypeTCPFlag},
	ir.FieldIPProtocol: {name: "ip protocol", size: 1, load: payload(expr.PayloadBaseNetworkHeader, 9), keyType: nftables.TypeInetProto},
	ir.FieldIP6Nexthdr: {name: "ip6 nexthdr", size: 1, load: payload(expr.PayloadBaseNetworkHeader, 6), keyType: nftables.TypeInetProto},
	ir.FieldFibDaddrType: {name: "fib daddr type", size: 4, load: func(uint32) expr.Any {
		return &expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true}
	}, keyType: nftables.TypeFIBAddr, hostOrder: true},
	ir.FieldFibSaddrType: {name: "fib saddr type", size: 4, load: func(uint32) expr.Any {
		return &expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true}
	}, keyType: nftables.TypeFIBAddr, hostOrder: true},
	// nft's own "missing" and "exists": the result is whether the route
	// found leaves by the input interface (NFTA_FIB_F_PRESENT).
	ir.FieldCtDirection: {name: "ct direction", size: 1, load: func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeyDIRECTION} }, keyType: nftables.TypeCTDir},
	ir.FieldFibRPF: {name: "fib saddr . iif oif", size: 4, load: func(uint32) expr.Any {
		return &expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true, FlagPRESENT: true}
	}, keyType: nftables.TypeInteger, hostOrder: true},
	ir.FieldFibDaddrIifType: {name: "fib daddr . iif type", size: 4, load: func(uint32) expr.Any {
		return &expr.Fib{Register: 1, FlagDADDR: true, FlagIIF: true, ResultADDRTYPE: true}
	}, keyType: nftables.TypeFIBAddr, hostOrder: true},
	// nft's "exists" and "missing" again: a route out for the destination.
	ir.FieldFibDaddrOif: {name: "fib daddr oif", size: 4, load: func(uint32) expr.Any {
		return &expr.Fib{Register: 1, FlagDADDR: true, ResultOIF: true, FlagPRESENT: true}
	}, keyType: nftables.TypeInteger, hostOrder: true},
	ir.FieldCtStatus:    {name: "ct status", size: 4, load: func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeySTATUS} }, keyType: nftables.TypeCTStatus, hostOrder: true},
	ir.FieldPriority:    {name: "meta priority", size: 4, load: meta(expr.MetaKeyPRIORITY), keyType: nftables.TypeClassID, hostOrder: true},
	ir.FieldIifgroup:    {name: "meta iifgroup", size: 4, load: meta(expr.MetaKeyIIFGROUP), keyType: nftables.TypeDevGroup, hostOrder: true},
	ir.FieldOifgroup:    {name: "meta oifgroup", size: 4, load: meta(expr.MetaKeyOIFGROUP), keyType: nftables.TypeDevGroup, hostOrder: true},
	ir.FieldMetaLength:  {name: "meta length", size: 4, load: meta(expr.MetaKeyLEN), keyType: integerType(4), hostOrder: true},
	ir.FieldIPTTL:       {name: "ip ttl", size: 1, load: payload(expr.PayloadBaseNetworkHeader, 8), keyType: byteInteger},
	ir.FieldIP6Hoplimit: {name: "ip6 hoplimit", size: 1, load: payload(expr.PayloadBaseNetworkHeader, 7), keyType: byteInteger},
	// The traffic class sits between IPv6's version and flow label.
	ir.FieldIPDSCP:  {name: "ip dscp", size: 1, load: payload(expr.PayloadBaseNetworkHeader, 1), keyType: nftables.TypeDSCP, mask: 0xfc, shift: 2},
	ir.FieldIP6DSCP: {name: "ip6 dscp", size: 2, load: payload(expr.PayloadBaseNetworkHeader, 0), keyType: twoByteDSCP, mask: 0x0fc0, shift: 6},
}

// Header fields at a fixed place load the bytes that hold their bits,
// as nft does: the bits around them cleared, values compared in place.
func init() {
	for level := 1; level <= ir.MaxCgroupLevel; level++ {
		// The id of the socket's cgroup's ancestor at the level: eight
		// bytes in the machine's order.
		fields[ir.CgroupField(level)] = nftField{name: ir.CgroupField(level).String(), size: 8, load: func(uint32) expr.Any {
			return &expr.Socket{Key: expr.SocketKeyCgroupv2, Level: uint32(level), Register: 1}
		}, keyType: nftables.TypeCGroupV2, hostOrder: true}
	}
	for _, f := range ir.AllFields() {
		place := f.Spec().Place
		if _, ok := fields[f]; ok || place.Header == ir.NoHeader {
			continue
		}
		base := map[ir.Header]expr.PayloadBase{ir.NetworkHeader: expr.PayloadBaseNetworkHeader, ir.TransportHeader: expr.PayloadBaseTransportHeader}[place.Header]
		first := uint32(place.Offset / 8)
		end := uint32(place.Offset + place.Width)
		size := (end+7)/8 - first
		row := nftField{name: f.String(), size: size, load: payload(base, first), keyType: integerType(size)}
		if place.Offset%8 != 0 || place.Width%8 != 0 {
			row.shift = uint8(size*8 - (end - first*8))
			row.mask = uint32(1<<place.Width-1) << row.shift
		}
		fields[f] = row
	}
	mergedPairs = findMergedPairs()
}

// integerType is nft's type for a set of numbers of n bytes.
func integerType(n uint32) nftables.SetDatatype {
	t := nftables.SetDatatype{Name: "integer", Bytes: n}
	t.SetNFTMagic(nftables.TypeInteger.GetNFTMagic())
	return t
}

// twoByteDSCP is the key type of a set of ip6 dscp values: nft's dscp,
// two bytes long as the IPv6 header's bits are loaded.
var twoByteDSCP = func() nftables.SetDatatype {
	t := nftables.SetDatatype{Name: "dscp", Bytes: 2}
	t.SetNFTMagic(nftables.TypeDSCP.GetNFTMagic())
	return t
}()

// loads loads the field into register 1, and clears the bits around a
// field of fewer bits.
func (f nftField) loads() []expr.Any {
	if f.mask == 0 {
		return []expr.Any{f.load(f.size)}
	}
	return []expr.Any{f.load(f.size), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: f.size,
		Mask: ir.NumberSpan(f.mask, 0).Lo.Bytes(int(f.size)), Xor: make([]byte, f.size)}}
}

// maskedLoads loads the field and clears the bits a match's mask
// ("ip frag-off & 0x1fff") leaves out; a mask of 0 is none.
func (f nftField) maskedLoads(mask uint32) []expr.Any {
	if mask == 0 {
		return f.loads()
	}
	bits := mask << f.shift
	if f.mask != 0 {
		bits &= f.mask
	}
	return []expr.Any{f.load(f.size), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: f.size,
		Mask: ir.NumberSpan(bits, 0).Lo.Bytes(int(f.size)), Xor: make([]byte, f.size)}}
}

// byteInteger is nft's type for a set of one-byte numbers (ip ttl): an
// integer one byte long.
var byteInteger = integerType(1)

// keyType is the set key type of values of kind k: that of its first
// field.
func keyType(k ir.Kind) nftables.SetDatatype {
	for _, f := range ir.AllFields() {
		if f.Spec().Kind == k {
			return fields[f].keyType
		}
	}
	panic("nft: no field holds " + k.String())
}

func meta(key expr.MetaKey) func(uint32) expr.Any {
	return func(uint32) expr.Any { return &expr.Meta{Key: key, Register: 1} }
}

func payload(base expr.PayloadBase, offset uint32) func(uint32) expr.Any {
	return func(n uint32) expr.Any {
		return &expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: n}
	}
}
