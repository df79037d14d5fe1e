// Package bench generates large policies for ksc's benchmarks: the Go
// benchmarks (go test -bench . ./bench) and the whole-process comparison
// with nft -f and iptables-restore (bench/run.sh, see bench/README.md).
package bench

import (
	"fmt"
	"net/netip"
	"strings"
)

// RulesPolicy is an output chain with n rules, each with its own address,
// port and interface: the shape of a large generated policy.
func RulesPolicy(n int) string {
	var s strings.Builder
	s.WriteString("flush ruleset\ntable inet generated {\n\tchain OUTPUT hook output policy drop {\n")
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		fmt.Fprintf(&s, "\t\toifname \"eth%d\" ip daddr %s tcp dport %d counter accept\n", i%4, a, 1024+i%60000)
	}
	s.WriteString("\t}\n}\n")
	return s.String()
}

// SetPolicy drops traffic to and from a blocklist read from a file.
const SetPolicy = `flush ruleset
define BLOCKLIST = file("blocklist.txt")
table inet filter {
	chain INPUT hook input policy accept {
		ip saddr $BLOCKLIST counter drop
	}
	chain OUTPUT hook output policy accept {
		ip daddr $BLOCKLIST counter drop
	}
}
`

// InlinePolicy drops traffic to n addresses written inline in one define,
// as a generated policy might: the parser's worst case for one statement.
func InlinePolicy(n int) string {
	var s strings.Builder
	s.WriteString("flush ruleset\ndefine BLOCK = { ")
	for i := 0; i < n; i++ {
		v := uint32(0xc6120000) + uint32(i)*4
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String())
	}
	s.WriteString(" }\ntable inet filter {\n\tchain OUTPUT hook output policy accept {\n\t\tip daddr $BLOCK counter drop\n\t}\n}\n")
	return s.String()
}

// Blocklist returns n entries: mostly single addresses, every tenth a /30,
// spread over 198.18.0.0/15 and beyond (benchmark addresses) so that few merge.
func Blocklist(n int) string {
	var s strings.Builder
	s.WriteString("# generated blocklist\n")
	for i := 0; i < n; i++ {
		v := uint32(0xc6120000) + uint32(i)*4 // 198.18.0.0 upwards, every fourth address
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if i%10 == 0 {
			fmt.Fprintf(&s, "%s/30\n", a)
		} else {
			fmt.Fprintf(&s, "%s\n", a)
		}
	}
	return s.String()
}
