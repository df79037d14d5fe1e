package ir_test

import (
	"net/netip"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
)

func elem(s string) ir.AddrElem {
	if p, err := netip.ParsePrefix(s); err == nil {
		last := p.Addr().AsSlice()
		for i := p.Bits(); i < len(last)*8; i++ {
			last[i/8] |= 0x80 >> (i % 8)
		}
		to, _ := netip.AddrFromSlice(last)
		return ir.AddrElem{From: p.Addr(), To: to, Prefix: p}
	}
	for i := range s {
		if s[i] == '-' {
			return ir.AddrElem{From: netip.MustParseAddr(s[:i]), To: netip.MustParseAddr(s[i+1:])}
		}
	}
	a := netip.MustParseAddr(s)
	return ir.AddrElem{From: a, To: a}
}

func TestMergeRanges(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"disjoint stay apart, sorted", []string{"198.51.100.7", "192.0.2.1"}, []string{"192.0.2.1", "198.51.100.7"}},
		{"duplicates merge", []string{"192.0.2.1", "192.0.2.1"}, []string{"192.0.2.1"}},
		{"a prefix swallows what it covers", []string{"192.0.2.0/24", "192.0.2.7", "192.0.2.8-192.0.2.9"}, []string{"192.0.2.0/24"}},
		{"adjacent halves become one prefix", []string{"192.0.2.128/25", "192.0.2.0/25"}, []string{"192.0.2.0/24"}},
		{"adjacent addresses become a range", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, []string{"192.0.2.1-192.0.2.3"}},
		{"overlapping ranges", []string{"192.0.2.10-192.0.2.20", "192.0.2.15-192.0.2.30"}, []string{"192.0.2.10-192.0.2.30"}},
		{"up to the top of the space", []string{"255.255.255.0/24", "255.255.255.255"}, []string{"255.255.255.0/24"}},
		{"IPv6", []string{"2001:db8::/33", "2001:db8:8000::/33", "2001:db8:1::5"}, []string{"2001:db8::/32"}},
	}
	for _, tt := range tests {
		var in []ir.AddrElem
		for _, s := range tt.in {
			in = append(in, elem(s))
		}
		var got []string
		for _, e := range ir.MergeRanges(in) {
			got = append(got, e.String())
		}
		assert.Equal(t, tt.want, got, tt.name)
	}
}

func TestJoinedMatchesMergeRanges(t *testing.T) {
	a := netip.MustParseAddr
	elems := []ir.AddrElem{
		{From: a("192.0.2.0"), To: a("192.0.2.127")}, {From: a("192.0.2.128"), To: a("192.0.2.255")},
		{From: a("198.51.100.7"), To: a("198.51.100.7")}, {From: a("198.51.100.9"), To: a("198.51.100.20")},
		{From: a("198.51.100.8"), To: a("198.51.100.8")}, {From: a("255.255.255.255"), To: a("255.255.255.255")},
	}
	assert.Equal(t, ir.MergeRanges(elems), ir.Addrs(ir.KindIPv4, ir.AddrSet(elems).Joined()))
}
