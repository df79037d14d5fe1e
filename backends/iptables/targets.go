package iptables

// Targets and the matches that gate them: marks, log, nat, limit, reject.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// MaxLogPrefix is the longest --log-prefix iptables accepts.
const MaxLogPrefix = 29

// markTarget is a mark statement as iptables-save writes it: MARK and
// CONNMARK, with the masks iptables-save lists. --set-xmark V/M makes
// (mark & ~M) ^ V, so a mark's own bits kept and flipped are one target;
// --save-mark and --restore-mark copy the other mark's bits under a mask
// and flip none.
func markTarget(s *ir.MarkSet) ([]string, *ir.Diagnostic) {
	hex := func(v uint32) string { return fmt.Sprintf("%#x", v) }
	all := hex(^uint32(0))
	switch {
	case s.From == 0 && s.Target == ir.FieldCtMark:
		return []string{"-j", "CONNMARK", "--set-xmark", hex(s.Value) + "/" + all}, nil
	case s.From == 0:
		return []string{"-j", "MARK", "--set-xmark", hex(s.Value) + "/" + all}, nil
	case s.From == s.Target && s.Target == ir.FieldCtMark:
		return []string{"-j", "CONNMARK", "--set-xmark", hex(s.Value) + "/" + hex(^s.Keep())}, nil
	case s.From == s.Target:
		return []string{"-j", "MARK", "--set-xmark", hex(s.Value) + "/" + hex(^s.Keep())}, nil
	case s.Value != 0:
		return nil, &ir.Diagnostic{Pos: s.Pos, Message: "the iptables target cannot express " + s.Text() + ": CONNMARK copies a mark's bits under a mask and flips none",
			Hint: "flip the bits in a rule of its own after the copy (" + s.Target.String() + " set " + s.Target.String() + " xor ...), or use the nft target"}
	case s.From == ir.FieldMark: // ct mark set meta mark: ct = (ct & ~ctmask) ^ (mark & nfmask)
		return []string{"-j", "CONNMARK", "--save-mark", "--nfmask", hex(s.Keep()), "--ctmask", all}, nil
	}
	// meta mark set ct mark: mark = (mark & ~nfmask) ^ (ct & ctmask)
	return []string{"-j", "CONNMARK", "--restore-mark", "--nfmask", all, "--ctmask", hex(s.Keep())}, nil
}

// mssTarget is TCPMSS as iptables-save writes it.
func mssTarget(s *ir.MSSSet) []string {
	if s.Size == 0 {
		return []string{"-j", "TCPMSS", "--clamp-mss-to-pmtu"}
	}
	return []string{"-j", "TCPMSS", "--set-mss", strconv.Itoa(int(s.Size))}
}

// holdsOnlyForSYN reports a tcp flags match that only a packet with SYN
// set passes, as TCPMSS asks of its rule.
func holdsOnlyForSYN(m *ir.Match) bool {
	for v := range uint32(256) {
		if m.Holds(ir.Packet{Protocol: ir.TCP, TCPFlags: uint8(v)}) && v&0x02 == 0 {
			return false
		}
	}
	return true
}

// logTarget is a log statement as iptables-save writes it: NFLOG for a
// group, else LOG with its options in iptables-save's order.
func logTarget(s *ir.Log) []string {
	if s.ToGroup {
		target := []string{"-j", "NFLOG"}
		if s.Prefix != "" {
			target = append(target, "--nflog-prefix", s.Prefix)
		}
		return append(target, "--nflog-group", strconv.Itoa(int(s.Group)))
	}
	target := []string{"-j", "LOG"}
	if s.Prefix != "" {
		target = append(target, "--log-prefix", s.Prefix)
	}
	if s.Level != ir.LogDefault && s.Level != ir.LogWarn {
		target = append(target, "--log-level", strconv.Itoa(s.Level.Syslog()))
	}
	for _, f := range []struct {
		flag   ir.LogFlags
		option string
	}{{ir.LogTCPSequence, "--log-tcp-sequence"}, {ir.LogTCPOptions, "--log-tcp-options"}, {ir.LogIPOptions, "--log-ip-options"},
		{ir.LogUID, "--log-uid"}, {ir.LogEther, "--log-macdecode"}} {
		if s.Flags&f.flag != 0 {
			target = append(target, f.option)
		}
	}
	return target
}

// natTarget is a nat rule's rewrite as iptables-save lists it, with its
// flags (natFlagsRefused says which a target cannot take).
func natTarget(n *ir.NAT) []string {
	target := natTargetPlain(n)
	for _, f := range []struct {
		flag ir.NATFlags
		opt  string
	}{{ir.NATRandom, "--random"}, {ir.NATFullyRandom, "--random-fully"}, {ir.NATPersistent, "--persistent"}} {
		if n.Flags&f.flag != 0 {
			target = append(target, f.opt)
		}
	}
	return target
}

// natFlagsRefused names a flag the nat kind's iptables target does not
// take: MASQUERADE has no --persistent, DNAT no --random-fully, REDIRECT
// only --random.
func natFlagsRefused(n *ir.NAT) string {
	switch {
	case n.Kind == ir.Masquerade && n.Flags&ir.NATPersistent != 0:
		return "persistent"
	case n.Kind == ir.DNAT && n.Flags&ir.NATFullyRandom != 0:
		return "fully-random"
	case n.Kind == ir.Redirect && n.Flags&ir.NATFullyRandom != 0:
		return "fully-random"
	case n.Kind == ir.Redirect && n.Flags&ir.NATPersistent != 0:
		return "persistent"
	}
	return ""
}

func natTargetPlain(n *ir.NAT) []string {
	to := n.Target()
	if n.Addr.Is6() && n.AddrLast.IsValid() && n.Port != 0 {
		// ip6tables brackets the range whole, nft each address.
		ports := to[strings.LastIndex(to, "]:")+2:]
		to = "[" + n.Addr.String() + "-" + n.AddrLast.String() + "]:" + ports
	}
	switch n.Kind {
	case ir.Masquerade, ir.Redirect:
		target := []string{"-j", strings.ToUpper(n.Kind.String())}
		if n.Port != 0 {
			target = append(target, "--to-ports", strings.TrimPrefix(to, ":"))
		}
		return target
	case ir.DNAT:
		return []string{"-j", "DNAT", "--to-destination", to}
	case ir.SNAT:
		return []string{"-j", "SNAT", "--to-source", to}
	}
	panic(fmt.Sprintf("iptables: writing nat kind %d, which Validate refuses", n.Kind))
}

// limitMatch is a limit as iptables' limit match, for a rule whose limit
// gates limited of its iptables rules, written for each of alts
// alternatives. Each iptables rule keeps its own rate, so a limit is
// refused where it would gate more than one; and what iptables-legacy
// cannot hold is refused for the iptables target as a whole. A per-key
// limit may be written in several alternatives, which no packet matches
// two of: hashlimit rules of one name share one table of buckets
// (TestMeterSharedByTheRulesOfOneLimit). It may not gate several rules a
// packet goes through: each would take a token of the packet's bucket.
func limitMatch(l *ir.Limit, limited, alts int) ([]string, *ir.Diagnostic) {
	refuse := func(why string) *ir.Diagnostic {
		return &ir.Diagnostic{Pos: l.Pos, Message: fmt.Sprintf("the iptables target cannot express %s: %s", l.Text(), why),
			Hint: "use the nft target, which keeps one rate for the whole rule"}
	}
	switch {
	case l.Bytes:
		return nil, refuse("iptables' limit counts packets (hashlimit's byte mode rounds rates to its own steps)")
	case l.Conns != 0 && limited*alts > 1:
		return nil, refuse(fmt.Sprintf("it would become %d iptables rules, each counting connections of its own", limited*alts))
	case l.Conns != 0:
		return connlimitMatch(l), nil
	case l.Meter != nil && limited > 1:
		return nil, refuse(fmt.Sprintf("each packet would go through %d iptables rules, and take a token of its key's bucket in each", limited))
	case l.Meter != nil:
		return hashlimitMatch(l)
	case limited*alts > 1:
		return nil, refuse(fmt.Sprintf("it would become %d iptables rules, each with a rate of its own", limited*alts))
	case l.Over:
		return nil, refuse("iptables' limit match passes the packets under a rate, never those over it")
	case l.Unit == ir.PerWeek:
		return nil, refuse("iptables' limit match counts per second, minute, hour or day")
	}
	// As xt_limit keeps it: the time between packets in 1/10000 s, times
	// the burst, in 32 bits.
	interval := 10000 * l.Unit.Seconds() / l.Rate
	switch {
	case interval == 0:
		return nil, refuse("iptables' limit goes up to 10000/second")
	case interval*uint64(l.EffectiveBurst()) > math.MaxUint32:
		return nil, refuse("iptables-legacy's limit overflows at so low a rate with this burst")
	}
	args := []string{"-m", "limit", "--limit", fmt.Sprintf("%d/%s", l.Rate, map[ir.RateUnit]string{
		ir.PerSecond: "sec", ir.PerMinute: "min", ir.PerHour: "hour", ir.PerDay: "day"}[l.Unit])}
	if b := l.EffectiveBurst(); b != ir.DefaultBurst {
		args = append(args, "--limit-burst", strconv.Itoa(int(b)))
	}
	return args, nil
}

// connlimitMatch is connlimit for "ct count": one count for the rule
// (mask 0: every address one group), or with a meter, one for each
// source or destination address, in the order iptables-save lists it.
func connlimitMatch(l *ir.Limit) []string {
	dir := "--connlimit-upto"
	if l.Over {
		dir = "--connlimit-above"
	}
	mask, end := "0", "--connlimit-saddr"
	if m := l.Meter; m != nil {
		mask = strconv.Itoa(m.Key.Spec().Kind.Spec().Bits)
		if m.Key == ir.FieldIPDaddr || m.Key == ir.FieldIP6Daddr {
			end = "--connlimit-daddr"
		}
	}
	return []string{"-m", "connlimit", dir, strconv.Itoa(int(l.Conns)), "--connlimit-mask", mask, end}
}

// limitsOfBothFamilies refuses a limit that decides packets' fate in an
// inet table's rule that holds for IPv4 and IPv6 alike: nft keeps one
// bucket for both families, and iptables and ip6tables one each, so the
// iptables target would let twice the rate through (seven IPv4 packets,
// then an IPv6 one, through a "limit rate 5/minute accept": nft drops the
// IPv6 one, iptables passes it). A limit that gates only a log line (the
// common "limit rate 5/minute log") is written: what passes is the same,
// and the log may hold twice the lines, one rate for each family
// (docs/language.md says so). A per-key limit (add @set { ip saddr ... })
// is one family's already.
func limitsOfBothFamilies(p *ir.Policy) ir.Diagnostics {
	var ds ir.Diagnostics
	for _, t := range p.Tables {
		if t.Family != ir.Inet {
			continue
		}
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if l := r.Limit(); l != nil && l.Meter == nil && r.Family() == ir.Inet && decidesFate(r, l) {
					what := "rate"
					if l.Conns != 0 {
						what = "count of connections"
					}
					d := ds.Errorf(l.Pos, "the iptables target cannot express %s in a rule for IPv4 and IPv6: nft keeps one %s for both families, iptables and ip6tables one each", l.Text(), what)
					d.Hint = "write a rule for each family (meta nfproto ipv4 ..., meta nfproto ipv6 ...) with half the " + what + " each if that is meant, or use the nft target"
				}
			}
		}
	}
	return ds
}

// decidesFate reports a rule whose limit gates what happens to the packet
// (its verdict, a mark), not only a log line or a counter.
func decidesFate(r *ir.Rule, l *ir.Limit) bool {
	if r.Verdict != ir.NoVerdict || r.NAT != nil {
		return true
	}
	after := false
	for _, s := range r.Statements {
		switch s.(type) {
		case *ir.Limit:
			after = after || s == ir.Statement(l)
		case *ir.MarkSet, *ir.DSCPSet, *ir.Notrack:
			if after {
				return true
			}
		}
	}
	return false
}

// rejectCodes are iptables' names of the ICMP answers, by family and code;
// icmpx codes (no-route, port, host, admin) map to each family's own.
var rejectCodes = map[ir.Family]map[uint8]string{
	ir.IPv4: {0: "icmp-net-unreachable", 1: "icmp-host-unreachable", 2: "icmp-proto-unreachable", 3: "icmp-port-unreachable",
		9: "icmp-net-prohibited", 10: "icmp-host-prohibited", 13: "icmp-admin-prohibited"},
	ir.IPv6: {0: "icmp6-no-route", 1: "icmp6-adm-prohibited", 3: "icmp6-addr-unreachable", 4: "icmp6-port-unreachable",
		5: "icmp6-policy-fail", 6: "icmp6-reject-route"},
}

// rejectWith is the --reject-with of a reject in one family.
func rejectWith(with ir.RejectWith, family ir.Family) (string, bool) {
	sent, ok := with.InFamily(family)
	if !ok {
		return "", false
	}
	if sent.Kind == ir.RejectTCPReset {
		return "tcp-reset", true
	}
	name, ok := rejectCodes[family][sent.Code]
	return name, ok
}
