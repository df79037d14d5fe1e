package ir

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// An answer as a family gets it, written by the names nft and the kernel
// give the codes (include/uapi/linux/netfilter/nf_tables.h's
// NFT_REJECT_ICMPX_* against nft_reject_icmp_code and
// nft_reject_icmpv6_code).
func TestRejectInFamily(t *testing.T) {
	code := func(codes []Named, name string) uint8 {
		for _, n := range codes {
			if n.Name == name {
				return uint8(n.Value)
			}
		}
		t.Fatalf("no code %s", name)
		return 0
	}
	icmp := func(name string) RejectWith { return RejectWith{Kind: RejectICMP, Code: code(ICMPCodes, name)} }
	icmpv6 := func(name string) RejectWith { return RejectWith{Kind: RejectICMPv6, Code: code(ICMPv6Codes, name)} }
	icmpx := func(name string) RejectWith { return RejectWith{Kind: RejectICMPX, Code: code(ICMPXCodes, name)} }
	reset := RejectWith{Kind: RejectTCPReset}
	for _, tc := range []struct {
		with       RejectWith
		v4, v6     RejectWith
		v4ok, v6ok bool
	}{
		{RejectWith{}, icmp("port-unreachable"), icmpv6("port-unreachable"), true, true},
		{reset, reset, reset, true, true},
		{icmpx("port-unreachable"), icmp("port-unreachable"), icmpv6("port-unreachable"), true, true},
		{icmpx("no-route"), icmp("net-unreachable"), icmpv6("no-route"), true, true},
		{icmpx("host-unreachable"), icmp("host-unreachable"), icmpv6("addr-unreachable"), true, true},
		{icmpx("admin-prohibited"), icmp("admin-prohibited"), icmpv6("admin-prohibited"), true, true},
		{icmp("host-prohibited"), icmp("host-prohibited"), RejectWith{}, true, false},
		{icmpv6("policy-fail"), RejectWith{}, icmpv6("policy-fail"), false, true},
		{RejectWith{Kind: RejectICMPX, Code: 9}, RejectWith{}, RejectWith{}, false, false},
	} {
		v4, ok := tc.with.InFamily(IPv4)
		assert.Equal(t, tc.v4ok, ok, "%s to IPv4", tc.with.Text())
		if ok {
			assert.Equal(t, tc.v4, v4, "%s to IPv4", tc.with.Text())
		}
		v6, ok := tc.with.InFamily(IPv6)
		assert.Equal(t, tc.v6ok, ok, "%s to IPv6", tc.with.Text())
		if ok {
			assert.Equal(t, tc.v6, v6, "%s to IPv6", tc.with.Text())
		}
	}
}
