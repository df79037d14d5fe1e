package kernel_test

import (
	"fmt"
	"testing"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nftForms are rules written as nft users write them, each in a chain of
// the given type and hook of an inet table. The language is nft's own
// syntax, so each must load through ksc exactly as nft loads its text.
var nftForms = []struct{ chain, rule string }{
	{"filter input", `icmp type { echo-request, destination-unreachable } accept`},
	{"filter input", `icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept`},
	{"filter input", `icmp type destination-unreachable icmp code port-unreachable drop`},
	{"filter input", `meta mark { 0x1, 0x20 } accept`},
	{"filter input", `ct mark and 0xff == 0x1 accept`},
	{"filter input", `ct mark { 0x32, 0x2222, 0x42de3 } drop`},
	{"filter output", `meta skuid { 0, 1000 } accept`},
	{"filter output", `meta skgid != 100 drop`},
	{"filter input", `meta pkttype { broadcast, multicast } drop`},
	{"filter input", `meta nfproto ipv6 accept`},
	{"filter input", `fib daddr type { broadcast, multicast } drop`},
	{"filter input", `fib daddr type != local drop`},
	{"filter input", `iifname != "wg0" ip daddr 192.0.2.2 fib saddr type != local drop`},
	{"filter input", `fib saddr type { unicast, local } accept`},
	{"filter input", `tcp flags syn,ack drop`},
	{"filter input", `tcp flags & (syn|ack) == syn accept`},
	{"filter input", `ip protocol tcp accept`},
	{"filter input", `meta l4proto 33 accept`},
	{"filter input", `ip protocol { 33, tcp } drop`},
	{"filter input", `meta l4proto != 47 accept`},
	{"filter input", `ip6 nexthdr udp accept`},
	{"filter input", `ip protocol { icmp, esp, ah, comp, udp, udplite, tcp, dccp, sctp } accept`},
	{"filter input", `ip6 nexthdr != esp accept`},
	{"filter input", `ip6 nexthdr 33-44 drop`},
	{"filter input", `meta l4proto != 33-45 drop`},
	{"filter input", `ip ttl 1 drop`},
	{"filter input", `ip ttl != 64 drop`},
	{"filter input", `ip ttl 2-10 drop`},
	{"filter input", `ip ttl { 1, 255 } drop`},
	{"filter input", `icmpv6 type nd-neighbor-solicit ip6 hoplimit 255 accept`},
	{"filter input", `ip6 hoplimit != { 1, 255 } drop`},
	{"filter input", `iif "lo" accept`},
	{"filter output", `meta oif != "lo" drop`},
	{"filter input", `ip dscp cs1 accept`},
	{"filter input", `ip dscp != ef drop`},
	{"filter input", `ip dscp { cs0, af41, ef } accept`},
	{"filter input", `ip dscp 0x08-0x10 accept`},
	{"filter input", `ip6 dscp cs1 accept`},
	{"filter input", `ip6 dscp != { lephb, af41 } drop`},
	{"filter input", `ip6 dscp 8-16 accept`},
	{"filter input", `icmp type 0-3 accept`},
	{"filter input", `ip length 20-576 drop`},
	{"filter input", `ip id != { 33, 55 } drop`},
	{"filter input", `ip frag-off & 0x1fff != 0 drop`},
	{"filter input", `ip checksum 13172 drop`},
	{"filter input", `ip version 4 ip hdrlength 5 accept`},
	{"filter input", `ip hdrlength { 0-4, 6 } drop`},
	{"filter input", `ip6 flowlabel { 33, 55 } accept`},
	{"filter input", `ip6 flowlabel != 0 drop`},
	{"filter input", `ip6 length 0-1280 accept`},
	{"filter input", `tcp sequence 0 tcp ackseq != 1 drop`},
	{"filter input", `tcp doff 8 tcp window 22222 accept`},
	{"filter input", `tcp urgptr != 0 tcp checksum { 1, 2 } drop`},
	{"filter input", `udp length 50-65 udp checksum != 0 accept`},
	{"filter input", `icmp checksum 11-343 icmp gateway 22 drop`},
	{"filter input", `icmp mtu { 33, 1280 } accept`},
	{"filter input", `icmpv6 checksum != 2222 icmpv6 mtu 1280 accept`},
	{"filter input", `icmpv6 max-delay 33-45 accept`},
	{"filter input", `icmp id 22 accept`},
	{"filter input", `meta length 1000 accept`},
	{"filter output", `ct status expected`},
	{"filter output", `ct status != seen-reply`},
	{"filter output", `ct status {expected, seen-reply, assured, confirmed}`},
	{"filter output", `ct status expected,seen-reply,assured,confirmed,snat,dnat,dying`},
	{"filter forward", `iifname "eth0" ct status dnat accept`},
	{"filter input", `meta priority root accept`},
	{"filter input", `meta priority 0x87654321 accept`},
	{"filter output", `meta priority != bcad:dada-bcad:dadc drop`},
	{"filter output", `meta priority {bcad:dada, bcad:dadc, aaaa:bbbb} accept`},
	{"filter output", `meta priority { none, 1:10 } accept`},
	{"filter input", `meta iifgroup { default, 11 } accept`},
	{"filter input", `iifgroup != {11-33, 44-55} drop`},
	{"filter output", `meta oifgroup "default" accept`},
	{"filter input", `meta length != 33-45 drop`},
	{"filter input", `meta length { 33, 55 } accept`},
	{"filter input", `meta length { 33-55, 67-88 } accept`},
	{"filter input", `meta length != { 33-55, 66-88 } drop`},
	{"filter output", `meta skuid 3001-3005 accept`},
	{"filter output", `meta skgid != { 2001-2005, 3001-3005 } accept`},
	{"filter output", `meta skuid "root" accept`},
	{"filter input", `ct mark 0x32-0x45 accept`},
	{"filter input", `meta mark and 0xff == 0x10-0x20 accept`},
	{"filter input", `ip id 5 ip ttl 1 ip frag-off 7 accept`},
	{"filter input", `udp length 21 ip saddr 192.0.2.1 udp dport 53 accept`},
	{"filter input", `ip6 hoplimit 1 ip6 saddr ::1 ip6 nexthdr udp accept`},
	{"filter input", `icmp type echo-request icmp id 1 icmp sequence 2 accept`},
	{"filter input", `icmpv6 id != { 33, 55 } accept`},
	{"filter input", `icmpv6 sequence 2-4 drop`},
	{"filter input", `icmpv6 type { 1-4, echo-request } accept`},
	{"filter input", `ip saddr 192.0.2.0/24 tcp dport { 22, 443 } ct state new accept`},
	{"filter input", `limit rate over 10/second burst 20 packets drop`},
	{"filter input", `limit rate 400/week`},
	{"filter input", `limit rate 1 kbytes/second`},
	{"filter input", `limit rate 1 mbytes / second`},
	{"filter input", `limit rate over 1025 kbytes/second burst 1023 kbytes drop`},
	{"filter input", `limit rate 1025 bytes/second burst 512 bytes accept`},
	{"filter input", `limit rate over 10230 mbytes/second burst 1023 mbytes`},
	{"filter input", `log prefix "in: " level info flags tcp sequence,options`},
	{"filter input", `log group 2`},
	{"filter input", `meta nfproto ipv4 reject`},
	{"filter input", `ip saddr 203.0.113.0/24 reject with icmp host-prohibited`},
	{"filter input", `tcp dport 23 reject with tcp reset`},
	{"filter input", `reject with icmpx admin-prohibited`},
	{"filter input", `tcp dport 22 reject with icmp port-unreachable`},
	{"filter input", `reject with icmpv6 admin-prohibited`},
	{"filter output", `meta mark set ct mark`},
	{"filter output", `ct mark set 0x1`},
	{"filter output", `meta mark set meta mark and 0xff00 or 0x1`},
	{"filter output", `meta mark set mark or 0x100`},
	{"filter output", `ct mark set meta mark and 0xffff`},
	{"filter output", `meta mark set ct mark and 0xff00ffff xor 0x40000`},
	{"filter output", `ct mark set ct mark & 0xff`},
	{"filter output", `meta mark set 0xffffffc8 xor 0x16`},
	{"filter output", `meta mark set 0x16 and 0x16`},
	{"filter output", `ct mark set 0x11 xor 0x1331`},
	{"nat postrouting", `oifname "wg0" masquerade`},
	{"nat postrouting", `tcp dport 81 snat ip to 192.0.2.1`},
	{"nat prerouting", `iifname "eth0" tcp dport 443 dnat ip6 to [2001:db8::10]:4443`},
	{"nat prerouting", `meta l4proto { tcp, udp } th dport 53 dnat ip to 192.0.2.10`},
	{"nat prerouting", `tcp dport 22 redirect to :2222`},
	{"nat output", `udp dport 53 redirect`},
	{"nat postrouting", `udp dport 53 masquerade random,persistent,fully-random`},
	{"nat postrouting", `masquerade persistent`},
	{"nat postrouting", `tcp dport 81 snat ip to 192.0.2.1 fully-random,persistent`},
	{"nat prerouting", `tcp dport 80 redirect to :8080 random`},
	{"nat prerouting", `tcp dport 80 dnat ip to 192.0.2.9:80 random`},
	{"route output", `meta skuid 1000 meta mark set 0x1`},
	{"filter forward", `tcp flags syn tcp option maxseg size set rt mtu`},
	{"filter forward", `oifname "ppp0" tcp flags & (syn|rst) == syn tcp option maxseg size set 1400`},
	{"filter output", `tcp flags syn tcp option maxseg size set rt mtu counter accept`},
	// Matches list in the order they are written, as nft keeps them;
	// nft itself puts neighbouring header fields in header order.
	{"filter input", `tcp dport 81 ip saddr 192.0.2.1 accept`},
	{"filter input", `tcp flags syn tcp dport 22 ct state new accept`},
	{"filter input", `udp dport 53 udp sport 1000 accept`},
	// nft loads a pair of one-value ports (or an ICMP type and code) at
	// once wherever they are in the rule, and lists them together.
	{"filter output", `udp sport 68 ip daddr 255.255.255.255 udp dport 67 accept`},
	{"filter input", `udp dport 67 ip daddr 192.0.2.1 udp sport 68 accept`},
	{"filter input", `tcp sport 1000 ct state new tcp dport 22 accept`},
	{"filter input", `icmp type destination-unreachable ip daddr 192.0.2.1 icmp code host-unreachable accept`},
	{"filter input", `udp dport 53 udp sport != 1000 accept`},
	{"filter input", `icmp code port-unreachable icmp type destination-unreachable accept`},
	{"filter input", `ct state new meta l4proto { tcp, udp } th dport 53 ip6 daddr 2001:db8::1 accept`},
	// Two spellings of one meaning that nft loads and lists apart.
	{"filter input", `ip saddr 198.51.100.0-198.51.100.255 accept`},
	{"filter input", `ip daddr != 203.0.113.0-203.0.113.127 drop`},
	{"filter input", `ip6 saddr 2001:db8::-2001:db8::ffff accept`},
	{"filter input", `ip saddr 192.0.2.1-192.0.2.1 accept`},
	{"filter input", `tcp dport 22-22 accept`},
	{"filter input", `ct state { new, established } accept`},
	{"filter input", `ct state { invalid } drop`},
	{"filter input", `ct state != { established, related } drop`},
	{"filter input", `meta nfproto { ipv4, ipv6 } tcp dport 22 accept`},
	// Sets of whole tcp flags values, and a set of one, which nft reads
	// as that one's flags.
	{"filter input", `tcp flags { syn, syn|ack } accept`},
	{"filter input", `tcp flags & (fin|syn|rst|psh|ack|urg) == { fin, ack, psh|ack } accept`},
	{"filter input", `tcp flags != { fin, urg } drop`},
	{"filter input", `tcp flags { syn } accept`},
	{"filter input", `tcp flags syn / syn,rst accept`},
	{"filter input", `tcp flags syn,ack / syn,ack,rst accept`},
	{"filter input", `tcp flags & (fin | syn | rst | ack) syn accept`},
	{"filter input", `tcp flags & (syn | ack) == (syn | ack) accept`},
	{"filter input", `tcp flags & (fin | syn | rst | psh | ack | urg | ecn | cwr) == fin | syn | rst | psh | ack | urg | ecn | cwr`},
	{"filter input", `tcp flags != syn / fin,syn drop`},
	{"filter input", `icmpv6 type { mld-listener-query, mld-listener-report } ip6 saddr fe80::/10 accept`},
	{"filter input", `icmpv6 type echo-request ip6 saddr fe80::/10 accept`},
	{"filter input", `icmp type echo-request ip saddr 192.0.2.0/24 accept`},
	{"filter input", `iif "lo" accept`},
	{"filter prerouting", `fib saddr . iif oif missing drop`},
	{"filter input", `fib saddr . iif oif exists accept`},
	{"filter forward", `fib saddr . iif oif != missing accept`},
	{"filter prerouting", `iifname != "lo" fib saddr . iif oif missing counter drop`},
	{"filter input", `ct direction reply ct state established accept`},
	{"filter output", `ct direction != original drop`},
	{"filter output", `ct direction { reply, original }`},
}

// nftSetForms are rules on sets the table declares (sets, then the rule).
var nftSetForms = []struct{ chain, sets, rule string }{
	{"filter input", "set blackhole { type ipv4_addr; flags dynamic,timeout; size 65536; }", `ct state new tcp dport 443 add @blackhole { ip saddr timeout 1m } drop`},
	{"filter input", "set seen { type ipv6_addr; flags dynamic; }", `update @seen { ip6 saddr } accept`},
	{"filter input", "set seen { type ipv4_addr; size 1024; flags dynamic,timeout; timeout 5m; }", `ip saddr != @seen add @seen { ip saddr } accept`},
	{"filter input", "set flood { type ipv4_addr; size 128000; flags dynamic,timeout; timeout 10s; }", `add @flood { ip saddr limit rate over 10/second burst 5 packets } drop`},
	{"filter input", "set conns { type ipv4_addr; size 65535; flags dynamic; }", `tcp dport 22 ct state new add @conns { ip saddr ct count over 3 } reject with tcp reset`},
	{"filter input", "set conns { type ipv6_addr; size 65535; flags dynamic; }", `add @conns { ip6 saddr ct count 20 } accept`},
	{"filter input", "", `tcp dport 80 ct count over 100 drop`},
	{"filter input", "", `ct count 10 accept`},
}

// Each form lists the same in nft whether nft loads it as written, ksc
// loads it through its netlink batch, or nft loads ksc's text of it: one
// meaning, and one form, on all three.
func TestNftFormsListAsNftLoadsThem(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "forms")
	for _, f := range nftForms {
		t.Run(f.rule, func(t *testing.T) { checkForm(t, ns, f.chain, "", f.rule) })
	}
	for _, f := range nftSetForms {
		t.Run(f.rule, func(t *testing.T) { checkForm(t, ns, f.chain, f.sets, f.rule) })
	}
}

func checkForm(t *testing.T, ns *labtest.NS, chain, sets, rule string) {
	priority := map[string]string{"filter": "filter", "nat": "0", "route": "mangle"}
	var typ, hook string
	fmt.Sscan(chain, &typ, &hook)
	prio := priority[typ]
	if typ == "nat" {
		prio = map[string]string{"postrouting": "srcnat", "prerouting": "dstnat", "output": "-100"}[hook] // nft names dstnat at prerouting only
	}
	native := fmt.Sprintf("flush ruleset\ntable inet t {\n\t%s\n\tchain c {\n\t\ttype %s hook %s priority %s; policy accept;\n\t}\n}\nadd rule inet t c %s\n", sets, typ, hook, prio, rule)
	out, err := ns.ExecInput(native, "nft", "-f", "-")
	require.NoError(t, err, out)
	want, err := ns.ExecInput("", "nft", "list", "ruleset")
	require.NoError(t, err)

	src := fmt.Sprintf("flush ruleset\ntable inet t {\n\t%s\n\tchain c type %s hook %s priority %s {\n\t\t%s\n\t}\n}\n", sets, typ, hook, prio, rule)
	p, ds := lang.Load("forms.ks", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	b, err := nft.Lower(p)
	require.NoError(t, err)
	require.NoError(t, kernel.Apply(b, nsenter.Path(ns.Name)))
	got, err := ns.ExecInput("", "nft", "list", "ruleset")
	require.NoError(t, err)
	assert.Equal(t, want, got, "through netlink")

	// ksc's own nft text, which nft must read back the same.
	text, err := nft.Render(p, "")
	require.NoError(t, err)
	out, err = ns.ExecInput(string(text), "nft", "-f", "-")
	require.NoError(t, err, "%s\n%s", out, text)
	got, err = ns.ExecInput("", "nft", "list", "ruleset")
	require.NoError(t, err)
	assert.Equal(t, want, got, "through ksc's nft text")
}
