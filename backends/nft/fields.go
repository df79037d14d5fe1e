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
}

var fields = map[ir.Field]nftField{
	ir.FieldIifname:  {"iifname", 16, meta(expr.MetaKeyIIFNAME), nftables.TypeIFName, false},
	ir.FieldOifname:  {"oifname", 16, meta(expr.MetaKeyOIFNAME), nftables.TypeIFName, false},
	ir.FieldIPSaddr:  {"ip saddr", 4, payload(expr.PayloadBaseNetworkHeader, 12), nftables.TypeIPAddr, false},
	ir.FieldIPDaddr:  {"ip daddr", 4, payload(expr.PayloadBaseNetworkHeader, 16), nftables.TypeIPAddr, false},
	ir.FieldIP6Saddr: {"ip6 saddr", 16, payload(expr.PayloadBaseNetworkHeader, 8), nftables.TypeIP6Addr, false},
	ir.FieldIP6Daddr: {"ip6 daddr", 16, payload(expr.PayloadBaseNetworkHeader, 24), nftables.TypeIP6Addr, false},
	ir.FieldL4Proto:  {"meta l4proto", 1, meta(expr.MetaKeyL4PROTO), nftables.TypeInetProto, false},
	ir.FieldSport:    {"th sport", 2, payload(expr.PayloadBaseTransportHeader, 0), nftables.TypeInetService, false},
	ir.FieldDport:    {"th dport", 2, payload(expr.PayloadBaseTransportHeader, 2), nftables.TypeInetService, false},
	ir.FieldCtState: {"ct state", 4, func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeySTATE} },
		nftables.TypeCTState, true},
	ir.FieldICMPType:   {"icmp type", 1, payload(expr.PayloadBaseTransportHeader, 0), nftables.TypeICMPType, false},
	ir.FieldICMPCode:   {"icmp code", 1, payload(expr.PayloadBaseTransportHeader, 1), nftables.TypeICMPCode, false},
	ir.FieldICMPv6Type: {"icmpv6 type", 1, payload(expr.PayloadBaseTransportHeader, 0), nftables.TypeICMP6Type, false},
	ir.FieldICMPv6Code: {"icmpv6 code", 1, payload(expr.PayloadBaseTransportHeader, 1), nftables.TypeICMPV6Code, false},
	ir.FieldMark:       {"meta mark", 4, meta(expr.MetaKeyMARK), nftables.TypeMark, true},
	ir.FieldCtMark: {"ct mark", 4, func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeyMARK} },
		nftables.TypeMark, true},
	ir.FieldSkuid:      {"meta skuid", 4, meta(expr.MetaKeySKUID), nftables.TypeUID, true},
	ir.FieldSkgid:      {"meta skgid", 4, meta(expr.MetaKeySKGID), nftables.TypeGID, true},
	ir.FieldNfproto:    {"meta nfproto", 1, meta(expr.MetaKeyNFPROTO), nftables.TypeNFProto, false},
	ir.FieldPkttype:    {"meta pkttype", 1, meta(expr.MetaKeyPKTTYPE), nftables.TypePktType, false},
	ir.FieldTCPFlags:   {"tcp flags", 1, payload(expr.PayloadBaseTransportHeader, 13), nftables.TypeTCPFlag, false},
	ir.FieldIPProtocol: {"ip protocol", 1, payload(expr.PayloadBaseNetworkHeader, 9), nftables.TypeInetProto, false},
	ir.FieldIP6Nexthdr: {"ip6 nexthdr", 1, payload(expr.PayloadBaseNetworkHeader, 6), nftables.TypeInetProto, false},
	ir.FieldFibDaddrType: {"fib daddr type", 4, func(uint32) expr.Any {
		return &expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true}
	}, nftables.TypeFIBAddr, true},
	ir.FieldIPTTL:       {"ip ttl", 1, payload(expr.PayloadBaseNetworkHeader, 8), byteInteger, false},
	ir.FieldIP6Hoplimit: {"ip6 hoplimit", 1, payload(expr.PayloadBaseNetworkHeader, 7), byteInteger, false},
}

// byteInteger is nft's type for a set of one-byte numbers (ip ttl): an
// integer one byte long.
var byteInteger = func() nftables.SetDatatype {
	t := nftables.SetDatatype{Name: "integer", Bytes: 1}
	t.SetNFTMagic(nftables.TypeInteger.GetNFTMagic())
	return t
}()

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
