package lang_test

import (
	"fmt"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chain wraps rules in a table and an input chain, so that cases stay short;
// the rules start on line 3, column 1.
func chain(rules string) string {
	return "table inet t {\nchain c hook input {\n" + rules + "\n}\n}\n"
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		cfg  lang.Config
		want []string // each diagnostic's Error() and, after " | ", its hint
	}{
		{"syntax: stray closing brace", "table t {\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: unexpected "}"`}},
		{"syntax: unterminated string", chain(`iifname "lo accept`), lang.Config{},
			[]string{`t.ks:3:9: unterminated string | strings end with '"' on the same line`}},
		{"syntax: unknown clause", chain(`iifname lo allow`), lang.Config{},
			[]string{`t.ks:3:12: unknown match or statement "allow" | a rule is matches (iifname, ip daddr, tcp dport, ct state, ...), then counter and log, then accept, drop, reject, jump CHAIN, goto CHAIN or return`}},
		{"syntax: missing brace", "table t {\nchain c hook input {\n", lang.Config{},
			[]string{`t.ks:3:1: unexpected end of file | a '{' is not closed`}},
		{"syntax: NUL byte", "define A = 1\x00", lang.Config{},
			[]string{`t.ks:1:13: policy text has a NUL byte`}},
		{"undefined name with hint", "define VPN_SERVERS = 192.0.2.1\n" + chain(`ip daddr $VPN_SERVER accept`), lang.Config{},
			[]string{`t.ks:4:10: $VPN_SERVER is not defined | did you mean $VPN_SERVERS?`}},
		{"undefined name without near match", chain(`ip daddr $NOPE accept`), lang.Config{},
			[]string{`t.ks:3:10: $NOPE is not defined | add: define NOPE = VALUE`}},
		{"address where a port belongs", "define VPN = 192.0.2.1\n" + chain(`tcp dport $VPN accept`), lang.Config{},
			[]string{`t.ks:4:11: tcp dport needs ports, $VPN holds an address (192.0.2.1) | use a number from 0 to 65535, a range of them, or a name such as ssh: e.g. tcp dport { 22, 8000-8080 }`}},
		{"port where an address belongs", chain(`ip daddr 22 accept`), lang.Config{},
			[]string{`t.ks:3:10: expected an address, found a number (22)`}},
		{"port out of range (the article's 71234)", "define FORWARDED_PORT = 71234\n" + chain(`th dport $FORWARDED_PORT accept`), lang.Config{},
			[]string{`t.ks:1:25: th dport: 71234 is out of range 0-65535`}},
		{"port out of range via -D", "define P\n" + chain(`tcp dport $P accept`),
			lang.Config{Defines: []lang.Override{{Name: "P", Value: "{ 22, 65536 }"}}},
			[]string{`-D P:1:7: tcp dport: 65536 is out of range 0-65535`}},
		{"empty port range", chain(`tcp dport 2000-1000 accept`), lang.Config{},
			[]string{`t.ks:3:11: tcp dport: range 2000-1000 is empty: its first value is above its last | did you mean 1000-2000?`}},
		{"malformed address", chain(`ip daddr 192.0.2.300 accept`), lang.Config{},
			[]string{`t.ks:3:10: malformed address "192.0.2.300" | ksc takes addresses, not host names: nothing may be resolved outside the tunnel`}},
		{"malformed prefix", chain(`ip daddr 192.0.2.0/33 accept`), lang.Config{},
			[]string{`t.ks:3:10: malformed prefix "192.0.2.0/33" | write a prefix as ADDRESS/LENGTH, e.g. 192.0.2.0/24 or 2001:db8::/32`}},
		{"prefix with host bits", chain(`ip daddr 192.0.2.1/24 accept`), lang.Config{},
			[]string{`t.ks:3:10: prefix 192.0.2.1/24 has host bits set | did you mean 192.0.2.0/24?`}},
		{"IPv4 address in an IPv6 match", chain(`ip6 daddr { 2001:db8::1, 192.0.2.1 } accept`), lang.Config{},
			[]string{`t.ks:3:26: ip6 daddr needs IPv6 addresses, found an address (192.0.2.1) | use ip saddr / ip daddr for IPv4 addresses`}},
		{"IPv6 match in an ip table", "table ip t {\nchain c hook input {\nip6 daddr 2001:db8::1 accept\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: this ip6 match can never hold in table ip t | an ip table only sees ip packets`}},
		{"IPv4 and IPv6 in one rule", chain(`ip saddr 192.0.2.1 ip6 daddr 2001:db8::1 accept`), lang.Config{},
			[]string{`t.ks:3:20: ip6 daddr 2001:db8::1 contradicts ip saddr 192.0.2.1 at t.ks:3:1: no packet is both ip6 and ip | split it into one rule for each family`}},
		{"duplicate table", "table t {\n}\ntable inet t {\n}\n", lang.Config{},
			[]string{`t.ks:3:1: table inet t is declared twice | the first declaration is at t.ks:1:1`}},
		{"duplicate chain", "table t {\nchain c hook input {\n}\nchain c hook output {\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:1: chain c is declared twice in table inet t | the first declaration is at t.ks:2:1`}},
		{"unknown hook", "table t {\nchain c hook inptu {\n}\n}\n", lang.Config{},
			[]string{`t.ks:2:9: unknown hook "inptu" | did you mean input?`}},
		{"jump without a chain", chain("tcp dport 22 jump"), lang.Config{},
			[]string{`t.ks:3:14: jump needs the name of a chain | jump NAME, where NAME is a chain of this table without a hook`}},
		{"jump to a chain the table lacks", "table inet t {\nchain c hook input {\njump admin\n}\nchain admins {\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:6: table inet t has no chain admin | did you mean admins?`}},
		{"jump to a base chain", "table inet t {\nchain c hook input {\njump d\n}\nchain d hook output {\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:6: chain d has a hook: only regular chains can be jumped to | move the rules into a chain without type, hook and policy, and jump there from each base chain`}},
		{"jumps that loop", "table inet t {\nchain c hook input {\njump a\n}\nchain a {\ngoto b\n}\nchain b {\ntcp dport 22 jump a\n}\n}\n", lang.Config{},
			[]string{`t.ks:9:1: jump a makes a loop: a -> b -> a | the kernel refuses a ruleset in which a chain can reach itself`}},
		{"a regular chain sees the hooks of the chains that jump to it", "table inet t {\nchain c hook input {\njump a\n}\nchain a {\noifname eth0 accept\n}\n}\n", lang.Config{},
			[]string{`t.ks:6:1: oifname never holds in chain a: packets at hook input have no output interface (chain a is reached from chain c) | match iifname in prerouting, input, forward and postrouting chains, oifname in forward, output and postrouting chains`}},
		{"reject in a regular chain reached from postrouting", "table inet t {\nchain c hook postrouting {\njump a\n}\nchain a {\nreject\n}\n}\n", lang.Config{},
			[]string{`t.ks:6:1: reject cannot be used in a postrouting chain (chain a is reached from chain c) | use drop here, or reject in the output or forward chain`}},
		{"snat outside a nat chain", chain("iifname eth0 masquerade"), lang.Config{},
			[]string{`t.ks:3:14: masquerade in chain c, which is not a nat chain | move it to a chain of type nat hook postrouting priority srcnat`}},
		{"a nat chain at input", "table inet t {\nchain c type nat hook input priority 100 {\n}\n}\n", lang.Config{},
			[]string{`t.ks:2:1: nat chain c is on hook input; ksc writes nat chains at postrouting (masquerade, snat), prerouting and output (dnat, redirect) | use hook postrouting priority srcnat, or hook prerouting priority dstnat`}},
		{"a nat chain that filters", "table inet t {\nchain c type nat hook postrouting priority srcnat {\noifname eth0 drop\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: drop in nat chain c: a nat chain rewrites and filters nothing | decide packets' fates in a filter chain; here use masquerade, snat, dnat, redirect, accept or return`}},
		{"one run: a nat chain's drop and a misspelt field elsewhere", "table inet t {\nchain n type nat hook postrouting priority srcnat {\noifname eth0 drop\n}\nchain c hook input {\nip daddress 192.0.2.1 accept\n}\n}\n", lang.Config{},
			[]string{
				`t.ks:6:4: unknown ip field "daddress" | ip is followed by one of: saddr, daddr, protocol, ttl, dscp`,
				`t.ks:3:1: drop in nat chain n: a nat chain rewrites and filters nothing | decide packets' fates in a filter chain; here use masquerade, snat, dnat, redirect, accept or return`,
			}},
		{"one run: a jump to a missing chain is said once", chain("jump nowhere\nip daddr 192.0.2.300 accept"), lang.Config{},
			[]string{
				`t.ks:3:6: table inet t has no chain nowhere | declare it in this table: chain nowhere { ... }, without type, hook or policy`,
				`t.ks:4:10: malformed address "192.0.2.300" | ksc takes addresses, not host names: nothing may be resolved outside the tunnel`,
			}},
		{"concatenation: overlapping tuples", chain("ip saddr . tcp dport { 192.0.2.0/24 . 22, 192.0.2.7 . 1-100 } drop"), lang.Config{},
			[]string{`t.ks:3:43: this element of the concatenation overlaps the one at t.ks:3:24 | a packet must match one key at most: split or merge ip saddr's keys`}},
		{"concatenation: a limit over several tuples", chain("ip saddr . tcp dport { 192.0.2.1 . 22, 192.0.2.2 . 22 } limit rate 3/minute accept"), lang.Config{},
			[]string{`t.ks:3:57: a limit in a rule of several tuples would keep a rate for each tuple | limit in a rule of its own, or one tuple a rule`}},
		{"concatenation: a tuple too short", chain("ip saddr . tcp dport { 192.0.2.1 . 22, 192.0.2.2 } accept"), lang.Config{},
			[]string{`t.ks:3:40: this key has 1 of the 2 values of the concatenation | join them with spaces around the '.': 198.51.100.1 . 22`}},
		{"concatenation: a named set", chain("ip saddr . tcp dport @pairs accept"), lang.Config{},
			[]string{`t.ks:3:22: ksc does not declare sets of concatenations yet | write the tuples in the rule: { VALUE . VALUE, ... }`}},
		{"vmap: overlapping keys", chain("ip saddr vmap { 192.0.2.0/24 : accept, 192.0.2.7 : drop }"), lang.Config{},
			[]string{`t.ks:3:40: this key of the verdict map overlaps the one at t.ks:3:17 | a packet must match one key at most: split or merge ip saddr's keys`}},
		{"vmap: jump on a mark the chain may set", "table inet t {\nchain c hook input {\nmeta mark vmap { 1 : jump j }\n}\nchain j {\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:22: jump in a verdict map on meta mark: the chain may set meta mark, and the map would then be read again | use goto, which does not come back, or one rule a key: meta mark KEY jump CHAIN`}},
		{"vmap: no colon", chain("ct state vmap { established accept }"), lang.Config{},
			[]string{`t.ks:3:17: each element of a verdict map is KEY : VERDICT, with spaces around the ':' | write FIELD vmap { KEY : VERDICT, ... }, e.g. ct state vmap { established : accept, related : accept, invalid : drop }`}},
		{"vmap: a named map", chain("ct state vmap @states"), lang.Config{},
			[]string{`t.ks:3:15: ksc does not declare named verdict maps yet | write the map in the rule: write FIELD vmap { KEY : VERDICT, ... }, e.g. ct state vmap { established : accept, related : accept, invalid : drop }`}},
		{"vmap: reject is no map verdict", chain("tcp dport vmap { 22 : reject }"), lang.Config{},
			[]string{`t.ks:3:23: "reject" is not a verdict a verdict map can hold | use accept, drop, return, jump CHAIN or goto CHAIN`}},
		{"vmap: counter before it", chain("counter ct state vmap { new : accept }"), lang.Config{},
			[]string{`t.ks:3:18: a verdict map decides the rule's fate, and counter, log and limit before it would act on packets no key matches | count or log in a rule of its own before this one`}},
		{"vmap: a key of the wrong kind, and the rest of the file", chain("ct state vmap { established : accept, open : drop }\nip daddr 192.0.2.300 accept"), lang.Config{},
			[]string{
				`t.ks:3:39: ct state needs conntrack states, found a name (open) | use one of: invalid, established, related, new, untracked`,
				`t.ks:4:10: malformed address "192.0.2.300" | ksc takes addresses, not host names: nothing may be resolved outside the tunnel`,
			}},
		{"delete table of another program", "delete table ip x\ntable inet t {\n}\n", lang.Config{},
			[]string{`t.ks:1:1: delete table ip x: the policy declares no table ip x after this line | ksc replaces each table it declares whole, so this line may go; it would only change a table of another program`}},
		{"flush table after the table", "table inet t {\n}\nflush table inet t\n", lang.Config{},
			[]string{`t.ks:3:1: flush table inet t: the policy declares no table inet t after this line | ksc replaces each table it declares whole, so this line may go; it would only change a table of another program`}},
		{"a table without a body, alone", "table ip x\ntable inet t {\n}\n", lang.Config{},
			[]string{`t.ks:1:1: table ip x has no body, and the policy declares it nowhere after | write its sets and chains in braces: table ip x { ... }`}},
		{"flush chain", "flush chain inet t c\ntable inet t {\n}\n", lang.Config{},
			[]string{`t.ks:1:1: flush chain inet t c is not a statement ksc takes | write "flush ruleset" to own the whole ruleset; without it ksc replaces only the tables the policy declares, each whole`}},
		{"a mark set that changes nothing", chain("meta mark set meta mark"), lang.Config{},
			[]string{`t.ks:3:1: meta mark set meta mark changes nothing | give a bit operation: meta mark set meta mark and 0xff00 or 0x1`}},
		{"a mark operation without its number", chain("meta mark set meta mark and"), lang.Config{},
			[]string{`t.ks:3:25: meta mark set needs a value | a 32-bit number, or a mark: meta mark set ct mark, meta mark set meta mark and 0xff00 or 0x1`}},
		{"mss of what may not be TCP", chain("tcp option maxseg size set 1400"), lang.Config{},
			[]string{`t.ks:3:1: tcp option maxseg size set 1400 needs a rule that holds for TCP only | add the SYN match it is meant for: tcp flags syn tcp option maxseg size set 1400`}},
		{"mss of the route before routing", chain("tcp flags syn tcp option maxseg size set rt mtu"), lang.Config{},
			[]string{`t.ks:3:15: tcp option maxseg size set rt mtu in chain c: at hook input the packet has no route, and so no MTU | clamp in a forward, output or postrouting chain`}},
		{"another tcp option", chain("tcp flags syn tcp option window size set 1"), lang.Config{},
			[]string{`t.ks:3:26: ksc writes one TCP option, the maximum segment size | tcp option maxseg size set rt mtu, or tcp option maxseg size set 1400`}},
		{"a slash without flags", chain("tcp flags syn / bogus drop"), lang.Config{},
			[]string{`t.ks:3:17: the mask after '/' is flags joined by ',' | e.g. tcp flags syn / syn,rst`}},
		{"meter without a name", chain("meter { ip saddr limit rate 3/minute } accept"), lang.Config{},
			[]string{`t.ks:3:1: meter needs a name | e.g. meter ssh { ip saddr limit rate 3/minute } accept`}},
		{"meter named as a set", "table inet t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\nmeter s { ip saddr limit rate 3/minute } accept\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:7: meter s: the table already has a set s, at t.ks:2:1 | give the meter a name of its own`}},
		{"meter without a key", chain("meter m { limit rate 3/minute } accept"), lang.Config{},
			[]string{`t.ks:3:11: meter m needs a key first: ip saddr, ip daddr, ip6 saddr or ip6 daddr | e.g. meter ssh { ip saddr limit rate 3/minute } accept`}},
		{"snat to an address of the other family", "table inet t {\nchain c type nat hook postrouting priority srcnat {\nsnat ip6 to 192.0.2.1\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:13: snat ip6 to 192.0.2.1: the address is not ip6's | snat to 192.0.2.1, or in an inet table snat ip to 192.0.2.1 / snat ip6 to 2001:db8::1`}},
		{"snat to a network", "table inet t {\nchain c type nat hook postrouting priority srcnat {\nsnat ip to 192.0.2.0/24\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:12: snat to needs one address, found a prefix (192.0.2.0/24) | snat to 192.0.2.1, or in an inet table snat ip to 192.0.2.1 / snat ip6 to 2001:db8::1`}},
		{"snat contradicting the rule's family", "table inet t {\nchain c type nat hook postrouting priority srcnat {\nip6 saddr 2001:db8::/32 snat ip to 192.0.2.1\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:25: snat ip to 192.0.2.1 contradicts ip6 saddr 2001:db8::/32 at t.ks:3:1: no packet is both ip and ip6 | split it into one rule for each family`}},
		{"missing hook", "table t {\nchain c policy drop {\n}\n}\n", lang.Config{},
			[]string{`t.ks:2:1: chain c has no hook | add one of: hook prerouting, hook input, hook forward, hook output, hook postrouting; or, for a chain that only jump and goto reach, leave out type, priority and policy too`}},
		{"unknown table family", "table bridge t {\n}\n", lang.Config{},
			[]string{`t.ks:1:1: unknown table family "bridge" | use inet (IPv4 and IPv6), ip or ip6`}},
		{"negated comma list of states", chain(`ct state != established,related drop`), lang.Config{},
			[]string{`t.ks:3:1: ct state != with a comma list holds for every packet in nft, which compares the state with all of them at once | for a state that is none of these, write them in braces: ct state != { established, related }`}},
		{"interface name too long", chain(`iifname "averyveryverylong0" accept`), lang.Config{},
			[]string{`t.ks:3:9: interface name "averyveryverylong0" is 18 bytes long; the kernel allows at most 15`}},
		{"interface name with a quote", "define DEV\n" + chain(`iifname $DEV accept`),
			lang.Config{Defines: []lang.Override{{Name: "DEV", Value: `"eth0;"`}}},
			[]string{`t.ks:4:9: interface name "eth0;" has the character ';', which interface names cannot contain`}},
		{"address where an interface belongs", "define DEV = 192.0.2.1\n" + chain(`oifname $DEV accept`), lang.Config{},
			[]string{`t.ks:4:9: oifname needs interface names, $DEV holds an address (192.0.2.1)`}},
		{"log prefix too long", chain(`log prefix "` + string(make([]byte, 0)) + `0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" drop`), lang.Config{},
			[]string{`t.ks:3:1: log prefix "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" is 130 bytes long; at most 127 are allowed`}},
		{"log prefix with a backslash", chain(`log prefix "a\" drop`), lang.Config{},
			[]string{`t.ks:3:1: log prefix "a\\" has the character '\\'; use printable ASCII without '"' or '\'`}},
		{"log prefix with a $", chain(`log prefix "a$b" drop`), lang.Config{},
			[]string{`t.ks:3:1: log prefix "a$b" has a '$', which nft would read as a variable | leave the '$' out`}},
		{"th port without protocol", chain(`th dport 22 accept`), lang.Config{},
			[]string{`t.ks:3:1: th dport needs the transport protocol | write meta l4proto { tcp, udp } before it, or use tcp dport / udp dport`}},
		{"contradicting protocols", chain(`meta l4proto udp tcp dport 22 accept`), lang.Config{},
			[]string{`t.ks:3:18: this rule can never match: tcp dport 22 (which implies meta l4proto tcp) contradicts meta l4proto udp at t.ks:3:1 | a rule holds only where all its matches hold; for any of several values write one set: meta l4proto { A, B }`}},
		{"duplicate set element", chain(`ip daddr { 192.0.2.1, 192.0.2.1 } accept`), lang.Config{},
			[]string{`t.ks:3:23: warning: 192.0.2.1 appears twice in this set | the first is at t.ks:3:12`}},
		{"overlapping set elements", chain(`ip daddr { 192.0.2.0/24, 192.0.2.7 } accept`), lang.Config{},
			[]string{`t.ks:3:26: warning: 192.0.2.7 overlaps 192.0.2.0/24 in the same set | ksc merges them; write the set without the overlap`}},
		{"overlapping set elements out of order", chain(`ip daddr { 192.0.2.7, 192.0.2.0/24 } accept`), lang.Config{},
			[]string{`t.ks:3:12: warning: 192.0.2.7 overlaps 192.0.2.0/24 in the same set | ksc merges them; write the set without the overlap`}},
		{"set elements out of order, apart", chain(`ip daddr { 192.0.2.9, 192.0.2.1, 192.0.2.8 } accept`), lang.Config{}, nil},
		{"match after counter", chain(`counter ip daddr 192.0.2.1 accept`), lang.Config{},
			[]string{`t.ks:3:9: matches must come before counter and log | nft would count or log packets that this match then rejects`}},
		{"two rules on one line", chain(`accept drop`), lang.Config{},
			[]string{`t.ks:3:8: nothing but a comment may follow the verdict | start a new line for a new rule`}},
		{"define without value used by an enabled rule", "define PORT\n" + chain(`tcp dport $PORT accept`), lang.Config{},
			[]string{`t.ks:4:11: $PORT has no value | give it one with -D PORT=VALUE, or in its define at t.ks:1:1`}},
		{"define defined twice", "define A = 1\ndefine A = 2\n" + chain(`tcp dport $A accept`), lang.Config{},
			[]string{`t.ks:2:1: $A is defined twice | the first definition is at t.ks:1:1`}},
		{"self-reference", "define A = { 1, $A }\n" + chain(`tcp dport $A accept`), lang.Config{},
			[]string{`t.ks:1:17: $A refers to itself`}},
		{"-D of an unknown name", "define INET_DEV = eth0\n" + chain(`iifname $INET_DEV accept`),
			lang.Config{Defines: []lang.Override{{Name: "INET_DEVICE", Value: "wlan0"}}},
			[]string{`-D INET_DEVICE: the policy does not define INET_DEVICE | did you mean INET_DEV?`}},
		{"-e of an unknown option", chain(`option lan { accept }`), lang.Config{Enable: []string{"lam"}},
			[]string{`-e lam: the policy has no option "lam" | did you mean lan? the options are: lan`}},
		{"reject where the kernel cannot", "table t {\nchain c hook postrouting {\nreject\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: reject cannot be used in a postrouting chain | use drop here, or reject in the output or forward chain`}},
		{"unknown protocol", chain(`meta l4proto sctp accept`), lang.Config{},
			[]string{`t.ks:3:14: meta l4proto needs protocols, found a name (sctp) | did you mean tcp? or use one of: tcp, udp, icmp, ipv6-icmp, icmpv6`}},
		{"unknown ct state", chain(`ct state established,relatd accept`), lang.Config{},
			[]string{`t.ks:3:22: ct state needs conntrack states, found a name (relatd) | did you mean related? or use one of: invalid, established, related, new, untracked`}},
		{"flush of something else", "flush table\n", lang.Config{},
			[]string{`t.ks:1:1: flush table is not a statement ksc takes | write "flush ruleset" to own the whole ruleset; without it ksc replaces only the tables the policy declares, each whole`}},
		{"ipv6 openvpn with a global prefix", "ipv6 openvpn block 2001:db8::2/64 2001:db8::1\n", lang.Config{},
			[]string{`t.ks:1:20: "2001:db8::2/64" is not a ULA address with a prefix length of at most 64 | use an address in fd00::/8 with its prefix, e.g. fd15:53b6:dead::2/64`}},
		{"an empty option is only a warning", chain(`option nothing { }`), lang.Config{},
			[]string{`t.ks:3:1: warning: option nothing has no rules: enabling it changes nothing`}},
		{"unused define is only a warning", "define UNUSED = 1\n", lang.Config{},
			[]string{`t.ks:1:1: warning: $UNUSED is defined but never used`}},
		{"a define used only by a disabled option counts as used", "define P = 22\n" + chain(`option ssh { tcp dport $P accept }`), lang.Config{},
			nil},
		{"a disabled option is still checked", chain(`option ssh { tcp dport 99999 accept }`), lang.Config{},
			[]string{`t.ks:3:24: tcp dport: 99999 is out of range 0-65535`}},
		{"a contradiction in a disabled option is still an error", chain(`option x { udp dport 53 meta l4proto tcp accept }`), lang.Config{},
			[]string{`t.ks:3:25: this rule can never match: meta l4proto tcp contradicts udp dport 53 (which implies meta l4proto udp) at t.ks:3:12 | a rule holds only where all its matches hold; for any of several values write one set: meta l4proto { A, B }`}},

		// One meaning: a rule is the AND of its matches, whatever their order.
		{"two interfaces in one rule", "table t {\nchain c hook output {\n" + `oifname "tun0" oifname "eth0" accept` + "\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:16: this rule can never match: oifname "eth0" contradicts oifname "tun0" at t.ks:3:1 | a rule holds only where all its matches hold; for any of several values write one set: oifname { A, B }`}},
		{"disjoint addresses", chain(`ip daddr 192.0.2.0/25 ip daddr 192.0.2.128/25 accept`), lang.Config{},
			[]string{`t.ks:3:23: this rule can never match: ip daddr 192.0.2.128/25 contradicts ip daddr 192.0.2.0/25 at t.ks:3:1 | a rule holds only where all its matches hold; for any of several values write one set: ip daddr { A, B }`}},
		{"tcp and udp ports", chain(`tcp dport 22 udp sport 53 accept`), lang.Config{},
			[]string{`t.ks:3:14: this rule can never match: udp sport 53 (which implies meta l4proto udp) contradicts tcp dport 22 (which implies meta l4proto tcp) at t.ks:3:1 | a rule holds only where all its matches hold; for any of several values write one set: meta l4proto { A, B }`}},
		{"a port with icmp", chain(`meta l4proto icmp th dport 22 accept`), lang.Config{},
			[]string{`t.ks:3:19: th dport cannot match protocol icmp, which has no ports | ports are tcp's and udp's: leave icmp out of the protocol match at t.ks:3:1`}},
		{"a port with a negated protocol", chain(`meta l4proto != icmp th dport 22 accept`), lang.Config{},
			[]string{`t.ks:3:22: th dport needs the protocols with ports, but meta l4proto != icmp at t.ks:3:1 allows others | write meta l4proto { tcp, udp }`}},
		{"a negation that excludes everything", chain(`ct state new ct state != new accept`), lang.Config{},
			[]string{`t.ks:3:14: this rule can never match: ct state != new contradicts ct state new at t.ks:3:1 | a rule holds only where all its matches hold; for any of several values write one set: ct state { A, B }`}},
		{"a repeat that narrows is a warning", chain(`ip saddr 192.0.2.0/24 ip saddr 192.0.2.0/25 accept`), lang.Config{},
			[]string{`t.ks:3:23: warning: ip saddr is matched more than once in this rule: it holds only where all hold, ip saddr 192.0.2.0/25 | write one match`}},
		{"a wildcard cut by a negation", chain(`iifname "eth*" iifname != "eth0" accept`), lang.Config{},
			[]string{`t.ks:3:16: the iifname matches at t.ks:3:1 and t.ks:3:16 cannot be written as one match | a negation that cuts a wildcard in two ("eth*" but not "eth0") has no single-match form on every target; list the names instead`}},

		{"a negation of every value", chain(`ip daddr != 0.0.0.0/0 accept`), lang.Config{},
			[]string{`t.ks:3:1: this rule can never match: ip daddr != 0.0.0.0/0 holds for no packet | a negation of every value matches nothing; leave the match out to match everything`}},

		// Context: what a chain can see.
		{"iifname in an output chain", "table t {\nchain c hook output {\n" + `iifname "eth0" accept` + "\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: iifname never holds in chain c: packets at hook output have no input interface | match iifname in prerouting, input, forward and postrouting chains, oifname in forward, output and postrouting chains`}},
		{"oifname in an input chain", chain(`oifname "eth0" accept`), lang.Config{},
			[]string{`t.ks:3:1: oifname never holds in chain c: packets at hook input have no output interface | match iifname in prerouting, input, forward and postrouting chains, oifname in forward, output and postrouting chains`}},
		{"ct state before conntrack", "table t {\nchain c hook prerouting priority raw {\n" + `ct state invalid drop` + "\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: ct state in chain c never sees a conntrack state: the chain runs at priority -300, before conntrack (-200) | give the chain a priority above -200 (mangle is -150, filter 0)`}},
		{"iptables' wildcard", chain(`iifname "tun+" accept`), lang.Config{},
			[]string{`t.ks:3:9: interface name "tun+" has the character '+', which interface names cannot contain | the wildcard is '*', as in nft: "tun*" matches every interface whose name starts with "tun"`}},

		// The vocabulary past the article: ICMP, marks, owners.
		{"misspelt ICMP type", chain(`icmp type echo-requst accept`), lang.Config{},
			[]string{`t.ks:3:11: icmp type needs ICMP types, found a name (echo-requst) | did you mean echo-request?`}},
		{"a socket owner on input", chain(`meta skuid 0 accept`), lang.Config{},
			[]string{`t.ks:3:1: meta skuid never holds in chain c: packets at hook input have no local socket that sent them | match the sending user or group in output and postrouting chains`}},
		{"two masks on one field", chain(`meta mark and 0xf == 1 meta mark and 0xff == 1 accept`), lang.Config{},
			[]string{`t.ks:3:24: meta mark is matched under two masks in this rule (0xf and 0xff): ksc cannot write that as one match | use one mask for the field in a rule`}},
		{"an unknown user", "table t {\nchain c hook output {\n" + `meta skuid nosuchuser-ksc accept` + "\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:12: meta skuid: no user "nosuchuser-ksc" on this machine | names are looked up when the policy is compiled, on the machine that compiles it; or give the number`}},
		{"a mask where none is taken", chain(`ct state and 0x1 == 1 accept`), lang.Config{},
			[]string{`t.ks:3:10: ct state takes no mask | masks are for meta mark and ct mark`}},
		{"a range of marks", chain(`meta mark 1-5 accept`), lang.Config{},
			[]string{`t.ks:3:11: meta mark needs marks, found a range (1-5) | use a number from 0 to 0xffffffff (e.g. meta mark 0x1); ranges are not supported`}},
		{"ICMP with a port", chain(`icmp type echo-request tcp dport 22 accept`), lang.Config{},
			[]string{`t.ks:3:24: this rule can never match: tcp dport 22 (which implies meta l4proto tcp) contradicts icmp type echo-request (which implies meta l4proto icmp) at t.ks:3:1 | a rule holds only where all its matches hold; for any of several values write one set: meta l4proto { A, B }`}},

		{"a TCP reset for more than TCP", chain(`meta l4proto { tcp, udp } reject with tcp reset`), lang.Config{},
			[]string{`t.ks:3:1: reject with tcp reset needs a rule that holds for TCP only | add meta l4proto tcp (or a tcp dport match) to the rule`}},
		{"an ICMP answer in both families", chain(`reject with icmp host-prohibited`), lang.Config{},
			[]string{`t.ks:3:1: reject with icmp answers IPv4 packets only, and this rule holds for IPv6 too | add an ip match (or meta nfproto ipv4), or use reject with icmpx`}},
		{"a misspelt reject code", chain(`reject with icmpx admin-prohibitd`), lang.Config{},
			[]string{`t.ks:3:19: unknown icmpx code "admin-prohibitd" | did you mean admin-prohibited?`}},

		{"a set without a type", "table inet t {\nset s { flags dynamic }\n}\n", lang.Config{},
			[]string{`t.ks:2:1: set s needs a type | e.g. set VPN_SERVERS { type ipv4_addr; flags interval; elements = { 192.0.2.1 } }, or set ssh4 { type ipv4_addr; flags dynamic; timeout 10m }`}},
		{"a set of ports", "table inet t {\nset s { type inet_service; flags dynamic }\n}\n", lang.Config{},
			[]string{`t.ks:2:9: set s has type "inet_service"; ksc declares sets of ipv4_addr or ipv6_addr | e.g. set VPN_SERVERS { type ipv4_addr; flags interval; elements = { 192.0.2.1 } }, or set ssh4 { type ipv4_addr; flags dynamic; timeout 10m }`}},
		{"a constant set", "table inet t {\nset s { type ipv4_addr; flags constant }\n}\n", lang.Config{},
			[]string{`t.ks:2:25: set s has flag "constant"; ksc declares sets with flags interval, or flags dynamic (with timeout if it has one) | e.g. set VPN_SERVERS { type ipv4_addr; flags interval; elements = { 192.0.2.1 } }, or set ssh4 { type ipv4_addr; flags dynamic; timeout 10m }`}},
		{"a timeout nft cannot read", "table inet t {\nset s { type ipv4_addr; flags dynamic; timeout 10x }\n}\n", lang.Config{},
			[]string{`t.ks:2:40: set s: timeout needs a time such as 90s, 10m, 1h or 1d, not "10x" | e.g. set VPN_SERVERS { type ipv4_addr; flags interval; elements = { 192.0.2.1 } }, or set ssh4 { type ipv4_addr; flags dynamic; timeout 10m }`}},
		{"an undeclared set", "table inet t {\nset ssh4 { type ipv4_addr; flags dynamic }\nchain c hook input {\nupdate @ssh { ip saddr limit rate 1/second } drop\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:8: this table declares no set ssh | did you mean @ssh4?`}},
		{"a meter without a key", "table inet t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\nupdate @s { limit rate 1/second } drop\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:13: update @s needs a key first: ip saddr, ip daddr, ip6 saddr or ip6 daddr | e.g. update @ssh4 { ip saddr limit rate over 3/minute burst 5 packets } drop`}},
		{"a meter without a limit", "table inet t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\nadd @s { ip saddr counter } drop\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:19: add @s { ip saddr ... } needs a limit: ksc keeps sets for rate limits | e.g. add @ssh4 { ip saddr limit rate over 3/minute burst 5 packets } drop`}},
		{"a meter keyed by the wrong family", "table inet t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\nupdate @s { ip6 saddr limit rate 1/second } drop\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:1: update @s { ip6 saddr limit rate 1/second }: set s holds ipv4_addr keys, not ip6 saddr | key it by a field of the set's type, or declare the set with the key's type`}},
		{"a set filled by two rules", "table inet t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\nupdate @s { ip saddr limit rate 1/second } drop\nadd @s { ip saddr limit rate 2/second } drop\n}\n}\n", lang.Config{},
			[]string{`t.ks:5:1: set s is already filled by the rule at t.ks:4:1; each dynamic set serves one rule | declare a set for each rule`}},
		{"a meter against the rule's family", "table inet t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\nip6 saddr 2001:db8::1 update @s { ip saddr limit rate 1/second } drop\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:23: update @s { ip saddr limit rate 1/second } contradicts ip6 saddr 2001:db8::1 at t.ks:4:1: no packet is both ip and ip6 | key the limit by the family's own address field`}},
		{"a lookup of an undeclared set", "table inet t {\nset VPN { type ipv4_addr; flags interval }\nchain c hook output {\nip daddr @VPNS accept\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:10: this table declares no set VPNS | did you mean @VPN?`}},
		{"a lookup of the other family", "table inet t {\nset VPN { type ipv4_addr; flags interval }\nchain c hook output {\nip6 daddr @VPN accept\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:11: set VPN holds ipv4_addr, and ip6 daddr needs IPv6 addresses`}},
		{"a lookup of a dynamic set", "table inet t {\nset s { type ipv4_addr; flags dynamic }\nchain c hook input {\nip saddr @s drop\nupdate @s { ip saddr limit rate 1/second } accept\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:10: set s is dynamic: ksc fills dynamic sets for per-key limits and does not look them up | look up a set with flags interval instead`}},
		{"a set without flags", "table inet t {\nset s { type ipv4_addr; elements = { 192.0.2.1 } }\nchain c hook output {\nip daddr @s accept\n}\n}\n", lang.Config{},
			[]string{`t.ks:2:1: set s needs flags interval (ksc writes address sets so, to hold prefixes and ranges) or flags dynamic | add "flags interval" for a set that rules look up as @s; "flags dynamic" for one that a per-key limit fills`}},
		{"an element of the other family", "table inet t {\nset s { type ipv4_addr; flags interval; elements = { 2001:db8::1 } }\n}\n", lang.Config{},
			[]string{`t.ks:2:54: set s needs IPv4 addresses, found an address (2001:db8::1) | a set holds one family: declare another set, of type ipv6_addr, for the others`}},
		{"dnat with a port and no protocol", "table inet t {\nchain p type nat hook prerouting priority dstnat {\ndnat ip to 192.0.2.10:8080\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: dnat ip to 192.0.2.10:8080 rewrites the port, and this rule holds for protocols without ports | add meta l4proto tcp (or a tcp dport match), or { tcp, udp }`}},
		{"dnat at postrouting", "table inet t {\nchain p type nat hook postrouting priority srcnat {\ntcp dport 80 dnat ip to 192.0.2.10\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:14: dnat in nat chain p on hook postrouting: it rewrites the destination, which the kernel does at prerouting or output | move it to a nat chain on hook prerouting or output`}},
		{"masquerade at prerouting", "table inet t {\nchain p type nat hook prerouting priority dstnat {\nmasquerade\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:1: masquerade in nat chain p on hook prerouting: it rewrites the source, which the kernel does at postrouting | move it to a nat chain on hook postrouting`}},
		{"dnat in a filter chain", chain(`tcp dport 80 dnat to 192.0.2.10`), lang.Config{},
			[]string{`t.ks:3:14: dnat ip to 192.0.2.10 in chain c, which is not a nat chain | move it to a chain of type nat hook prerouting priority dstnat`}},
		{"redirect without a port", "table inet t {\nchain p type nat hook prerouting priority dstnat {\ntcp dport 80 redirect to 8080\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:26: redirect to needs a port: redirect to :8080 | or redirect alone, to keep the port`}},
		{"dnat to the other family", "table inet t {\nchain p type nat hook prerouting priority dstnat {\ntcp dport 80 dnat ip6 to 192.0.2.10:80\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:26: dnat ip6 to 192.0.2.10: the address is not ip6's | dnat to 192.0.2.10, dnat to 192.0.2.10:8080, or in an inet table dnat ip to 192.0.2.10:8080 / dnat ip6 to [2001:db8::10]:8080`}},
		{"a route chain at input", "table inet t {\nchain r type route hook input priority mangle {\n}\n}\n", lang.Config{},
			[]string{`t.ks:2:1: route chain r is on hook input: the kernel routes again only what this machine sends, at output | use hook output priority mangle, or a filter chain`}},
		{"a priority name nft takes on another hook only", "table inet t {\nchain c type nat hook output priority dstnat {\n}\n}\n", lang.Config{},
			[]string{`t.ks:2:30: priority dstnat names a priority at hook prerouting only, as nft has it; chain c is on hook output | write the number: priority -100`}},
		{"a limit without a unit", chain(`limit rate 5 accept`), lang.Config{},
			[]string{`t.ks:3:12: limit rate needs N/UNIT, not "5" | N from 1, UNIT one of second, minute, hour, day; e.g. limit rate 5/minute burst 10 packets`}},
		{"a burst without packets", chain(`limit rate 5/minute burst 10 accept`), lang.Config{},
			[]string{`t.ks:3:30: limit burst counts packets: write "burst 10 packets"`}},
		{"log group with a level", chain(`log group 2 level info accept`), lang.Config{},
			[]string{`t.ks:3:1: log group sends the packet to nfnetlink_log: it takes no level and no flags | drop the level and flags, or the group`}},
		{"an unknown log flag", chain(`log flags tcp window accept`), lang.Config{},
			[]string{`t.ks:3:11: unknown log flag "tcp window" | log flags are tcp sequence,options, ip options, skuid, ether or all`}},
		{"a log group past 16 bits", chain(`log group 70000 accept`), lang.Config{},
			[]string{`t.ks:3:11: log group needs a number 0-65535, not "70000"`}},

		// Selectors come from ir.Selectors, and so do their hints.
		{"unknown ip field", chain(`ip src 192.0.2.1 accept`), lang.Config{},
			[]string{`t.ks:3:4: unknown ip field "src" | ip is followed by one of: saddr, daddr, protocol, ttl, dscp`}},
		{"misspelt ip field", chain(`ip saddrr 192.0.2.1 accept`), lang.Config{},
			[]string{`t.ks:3:4: unknown ip field "saddrr" | did you mean ip saddr?`}},
		{"misspelt selector", chain(`iifnme "lo" accept`), lang.Config{},
			[]string{`t.ks:3:1: unknown match or statement "iifnme" | did you mean iifname?`}},
		{"a stray !=", chain(`!= lo accept`), lang.Config{},
			[]string{`t.ks:3:1: '!=' must follow a field | write the field first: oifname != $VPN_DEV`}},
		{"nft's header after a rule", "table inet t {\nchain c {\ntcp dport 22 accept\ntype filter hook input priority 0; policy drop;\n}\n}\n", lang.Config{},
			[]string{`t.ks:4:1: a chain's type comes before its rules | write the header first: type filter hook input priority 0; policy drop;`,
				`t.ks:4:36: a chain's policy comes before its rules | write the header first: type filter hook input priority 0; policy drop;`}},
		{"nft's header, twice", "table inet t {\nchain c hook input {\ntype filter hook input priority 0; policy drop;\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:13: chain c has hook twice`}},
		{"nft's header with a stray word", "table inet t {\nchain c {\ntype filter hook input priority 0 drop;\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:35: a chain header line is type T hook H priority P, or policy V | e.g. type filter hook input priority 0; policy drop;`}},
		{"a priority offset past the kernel's range", "table inet t {\nchain c {\ntype filter hook input priority raw - 2147483647;\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:24: priority raw-2147483647 is outside the kernel's range, -2147483648 to 2147483647`}},
		{"a set where a statement takes one value", "define M = { 0x1, 0x2 }\n" + chain(`meta mark set $M`), lang.Config{},
			[]string{`t.ks:4:15: $M holds 2 values; one is needed here | define it as one value: define NAME = VALUE`}},
		{"an undefined port in redirect", "table inet t {\nchain c type nat hook prerouting {\ntcp dport 1 redirect to :$P\n}\n}\n", lang.Config{},
			[]string{`t.ks:3:26: $P is not defined | add: define P = VALUE`}},
		{"a field without a value", chain(`iifname`), lang.Config{},
			[]string{`t.ks:3:1: iifname needs a value | e.g. oifname "tun0"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := lang.Load("t.ks", []byte(tt.src), tt.cfg)
			assert.Equal(t, tt.want, render(ds))
		})
	}
}

func render(ds ir.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		s := d.Error()
		if d.Hint != "" {
			s += " | " + d.Hint
		}
		out = append(out, s)
	}
	return out
}

// A value counts each define once, however often it names it: defines
// that double at every level ({ $A, $A }), or grow as Fibonacci numbers
// through two names, expand to what they hold, not to millions.
func TestRepeatedDefinesExpandOnce(t *testing.T) {
	doubling := "define A0 = { 192.0.2.1, 192.0.2.2 }\n"
	fibonacci := "define A0 = { 192.0.2.1 }\ndefine B0 = { 192.0.2.2 }\n"
	for i := 1; i <= 40; i++ {
		doubling += fmt.Sprintf("define A%d = { $A%d, $A%d }\n", i, i-1, i-1)
		fibonacci += fmt.Sprintf("define A%d = { $A%d, $B%d }\ndefine B%d = { $A%d, $B%d, 192.0.2.%d }\n", i, i-1, i-1, i, i-1, i-1, i+2)
	}
	for name, src := range map[string]string{"doubling": doubling, "fibonacci": fibonacci} {
		t.Run(name, func(t *testing.T) {
			src += "table t {\nchain c hook input {\nip saddr $A40 drop\n}\n}\n"
			p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
			require.False(t, ds.HasErrors(), "%v", ds)
			m := p.Tables[0].Chains[0].Rules[0].Matches[0]
			want := map[string]string{"doubling": "192.0.2.1-192.0.2.2", "fibonacci": "192.0.2.1-192.0.2.41"}[name]
			require.Len(t, ir.Addrs(ir.KindIPv4, m.Values.Joined()), 1)
			assert.Equal(t, want, ir.Addrs(ir.KindIPv4, m.Values.Joined())[0].String())
		})
	}
}
