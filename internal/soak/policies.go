package soak

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
)

// The soak's two kill switches. Both forbid DiscardPort at the far
// destinations, from fw and from the LAN; A also lets EchoPort through,
// B does not, so that a flow A lets start must be closed when B comes
// in. B is built otherwise where a transition can go wrong: a base chain
// of another priority, one whose policy is accept with a last drop rule,
// a declared set, and a chain the other lacks.
const policyA = `flush ruleset
table inet soak {
	chain input hook input policy drop {
		iifname "lo" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
	}
	chain forward hook forward policy drop {
		ct state established,related accept
		iifname "eth1" oifname "tun0" accept
		iifname "eth1" udp dport 7 accept
	}
	chain output hook output policy drop {
		oifname "lo" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		oifname "eth0" ip daddr 198.51.100.1 udp dport 1194 accept
		oifname "tun0" accept
		udp dport 7 accept
	}
}
`

const policyB = `flush ruleset
table inet soak {
	set vpn {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.1, 198.51.100.64/26 }
	}
	chain input hook input policy drop {
		iifname "lo" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
	}
	chain forward hook forward policy accept {
		iifname "eth1" oifname "tun0" accept
		ct state established,related accept
		drop
	}
	chain out hook output priority 10 policy drop {
		oifname "lo" accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ct state established,related jump established
		oifname "eth0" ip daddr @vpn udp dport 1194 accept
		oifname "tun0" accept
	}
	chain established {
		accept
	}
}
`

// Policies are A and B, compiled.
func Policies() (a, b *ir.Policy, err error) {
	if a, err = load("a.ks", policyA); err != nil {
		return nil, nil, err
	}
	b, err = load("b.ks", policyB)
	return a, b, err
}

func load(name, text string) (*ir.Policy, error) {
	p, ds := lang.Load(name, []byte(text), lang.Config{})
	if ds.HasErrors() {
		return nil, fmt.Errorf("%s: %v", name, ds)
	}
	return p, nil
}

// Forbidden4WithPort is Forbidden4 on port.
func Forbidden4WithPort(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(Forbidden4.Addr(), port)
}

// PolicyBFor is B as a target that has no chain priorities writes it:
// its output chain at priority 0.
func PolicyBFor(target string) (*ir.Policy, error) {
	return load("b-"+target+".ks", strings.Replace(policyB, "hook output priority 10", "hook output priority 0", 1))
}
