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
}

var fields = map[ir.Field]nftField{
	ir.FieldIifname:  {"iifname", 16, meta(expr.MetaKeyIIFNAME), nftables.TypeIFName},
	ir.FieldOifname:  {"oifname", 16, meta(expr.MetaKeyOIFNAME), nftables.TypeIFName},
	ir.FieldIPSaddr:  {"ip saddr", 4, payload(expr.PayloadBaseNetworkHeader, 12), nftables.TypeIPAddr},
	ir.FieldIPDaddr:  {"ip daddr", 4, payload(expr.PayloadBaseNetworkHeader, 16), nftables.TypeIPAddr},
	ir.FieldIP6Saddr: {"ip6 saddr", 16, payload(expr.PayloadBaseNetworkHeader, 8), nftables.TypeIP6Addr},
	ir.FieldIP6Daddr: {"ip6 daddr", 16, payload(expr.PayloadBaseNetworkHeader, 24), nftables.TypeIP6Addr},
	ir.FieldL4Proto:  {"meta l4proto", 1, meta(expr.MetaKeyL4PROTO), nftables.TypeInetProto},
	ir.FieldSport:    {"th sport", 2, payload(expr.PayloadBaseTransportHeader, 0), nftables.TypeInetService},
	ir.FieldDport:    {"th dport", 2, payload(expr.PayloadBaseTransportHeader, 2), nftables.TypeInetService},
	ir.FieldCtState: {"ct state", 4, func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeySTATE} },
		nftables.TypeCTState},
	ir.FieldICMPType:   {"icmp type", 1, payload(expr.PayloadBaseTransportHeader, 0), nftables.TypeICMPType},
	ir.FieldICMPCode:   {"icmp code", 1, payload(expr.PayloadBaseTransportHeader, 1), nftables.TypeICMPCode},
	ir.FieldICMPv6Type: {"icmpv6 type", 1, payload(expr.PayloadBaseTransportHeader, 0), nftables.TypeICMP6Type},
	ir.FieldICMPv6Code: {"icmpv6 code", 1, payload(expr.PayloadBaseTransportHeader, 1), nftables.TypeICMPV6Code},
	ir.FieldMark:       {"meta mark", 4, meta(expr.MetaKeyMARK), nftables.TypeMark},
	ir.FieldCtMark: {"ct mark", 4, func(uint32) expr.Any { return &expr.Ct{Register: 1, Key: expr.CtKeyMARK} },
		nftables.TypeMark},
	ir.FieldSkuid:      {"meta skuid", 4, meta(expr.MetaKeySKUID), nftables.TypeUID},
	ir.FieldSkgid:      {"meta skgid", 4, meta(expr.MetaKeySKGID), nftables.TypeGID},
	ir.FieldNfproto:    {"meta nfproto", 1, meta(expr.MetaKeyNFPROTO), nftables.TypeNFProto},
	ir.FieldPkttype:    {"meta pkttype", 1, meta(expr.MetaKeyPKTTYPE), nftables.TypePktType},
	ir.FieldTCPFlags:   {"tcp flags", 1, payload(expr.PayloadBaseTransportHeader, 13), nftables.TypeTCPFlag},
	ir.FieldIPProtocol: {"ip protocol", 1, payload(expr.PayloadBaseNetworkHeader, 9), nftables.TypeInetProto},
	ir.FieldIP6Nexthdr: {"ip6 nexthdr", 1, payload(expr.PayloadBaseNetworkHeader, 6), nftables.TypeInetProto},
	ir.FieldFibDaddrType: {"fib daddr type", 4, func(uint32) expr.Any {
		return &expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true}
	}, nftables.TypeFIBAddr},
}

func meta(key expr.MetaKey) func(uint32) expr.Any {
	return func(uint32) expr.Any { return &expr.Meta{Key: key, Register: 1} }
}

func payload(base expr.PayloadBase, offset uint32) func(uint32) expr.Any {
	return func(n uint32) expr.Any {
		return &expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: n}
	}
}
