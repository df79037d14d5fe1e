package nft

import "slices"

// keywords are the words nft's parser (v1.0.6) takes for keywords where a
// table, chain or set name goes: "chain fwd", "table inet nat" and "jump
// counter" are syntax errors there, and nft has no quoting for names. A
// ruleset holding such a name loads through netlink but cannot be read
// back by nft (nft list ruleset > file; nft -f file), so the nft targets
// refuse it. TestKeywordsAreRefusedByNft holds the list against nft.
var keywords = []string{
	"accept", "add", "ah", "all", "arp", "auto-merge", "bridge", "cgroup", "chain", "comment", "comp",
	"constant", "continue", "counter", "cpu", "create", "ct", "day", "dccp", "define", "delete",
	"describe", "device", "devices", "dnat", "drop", "dst", "dup", "dynamic", "ecn", "element",
	"elements", "esp", "ether", "exists", "expires", "export", "exthdr", "fib", "flags", "flow",
	"flowtable", "flush", "frag", "fwd", "gc-interval", "get", "goto", "handle", "hbh", "hook",
	"hour", "ibriport", "ibrname", "icmp", "icmpv6", "igmp", "iif", "iifgroup", "iifname", "iiftype",
	"import", "include", "index", "inet", "insert", "interval", "ip", "ip6", "ipsec", "jhash", "jump",
	"limit", "list", "log", "map", "mark", "masquerade", "meta", "meter", "mh", "missing", "monitor",
	"netdev", "nftrace", "notrack", "numgen", "obriport", "obrname", "offload", "oif", "oifgroup",
	"oifname", "oiftype", "osf", "pkttype", "policy", "position", "priority", "queue", "quota",
	"random", "redefine", "redirect", "reject", "rename", "replace", "reset", "return", "rt", "rt0",
	"rt2", "rtclassid", "rule", "ruleset", "sctp", "secmark", "set", "size", "skgid", "skuid", "snat",
	"socket", "srh", "symhash", "synproxy", "table", "tcp", "th", "time", "timeout", "tproxy", "type",
	"typeof", "udp", "udplite", "undefine", "update", "vlan", "vmap", "xt",
}

// setKeywords are the further words nft refuses after "@" and "set".
var setKeywords = []string{"ll", "nh"}

// isKeyword reports whether nft cannot read name where a table or chain
// name goes (set, for a set's name).
func isKeyword(name string, set bool) bool {
	return slices.Contains(keywords, name) || set && slices.Contains(setKeywords, name)
}
