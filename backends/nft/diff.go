package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/internal/linediff"
)

// DiffLine is one line of a ruleset diff: Op is ' ' (in both), '-' (only
// live, applying removes it) or '+' (applying adds it).
type DiffLine struct {
	Op   byte
	Text string
}

// Diff compares the live ruleset of the namespace at nsPath with the one
// applying b would leave. The desired side is b applied in a scratch
// namespace and read back, so both sides are compared as the kernel holds
// them. When b owns only its tables, other tables are left out.
func Diff(b *Batch, nsPath string) ([]DiffLine, error) {
	live, desired, err := liveAndDesired(b, nsPath)
	if err != nil {
		return nil, err
	}
	keep := func(t *nftables.Table) bool { return b.FlushRuleset || b.table(t) != nil }
	want := lines(desired, keep, b)
	known := map[string]string{}
	for _, l := range want {
		known[l.key] = l.text
	}
	have := lines(live, keep, nil)
	for i := range have {
		if text, ok := known[have[i].key]; ok {
			have[i].text = text
		}
	}
	return diffLines(have, want), nil
}

// Changed reports whether a diff has any change.
func Changed(d []DiffLine) bool {
	for _, l := range d {
		if l.Op != ' ' {
			return true
		}
	}
	return false
}

func (b *Batch) table(t *nftables.Table) *BatchTable {
	for _, bt := range b.Tables {
		if bt.Table.Name == t.Name && bt.Table.Family == t.Family {
			return bt
		}
	}
	return nil
}

// liveAndDesired reads the namespace's ruleset and the one b would leave,
// the latter applied in a scratch namespace so that both are read back
// from the kernel alike.
func liveAndDesired(b *Batch, nsPath string) (live, desired *Ruleset, err error) {
	if live, err = ReadNamespace(nsPath); err != nil {
		return nil, nil, err
	}
	if desired, err = applyInScratch(b); err != nil {
		return nil, nil, err
	}
	return live, desired, nil
}

// Verify applies b in a fresh, empty namespace that is then thrown away:
// the kernel's own judgement of the batch, with no effect on any ruleset.
// Refusals come back as for Apply.
func Verify(b *Batch) error {
	_, err := applyInScratch(b)
	return err
}

// applyInScratch applies b in a fresh namespace and reads it back.
func applyInScratch(b *Batch) (*Ruleset, error) {
	scratch, err := scratchNamespace()
	if err != nil {
		return nil, err
	}
	defer scratch.Close()
	c, err := dialHandle(scratch)
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	if err := queue(c, b, -1); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, locateRefusal(b, err)
	}
	return Read(c)
}

type line struct{ key, text string }

// lines lists a ruleset for display: the fingerprint as the key, and as the
// text the policy's own rule when b is given, or a decompiled rule.
func lines(r *Ruleset, keep func(*nftables.Table) bool, b *Batch) []line {
	var out []line
	for _, t := range r.Tables {
		if !keep(t.Table) {
			continue
		}
		var bt *BatchTable
		if b != nil {
			bt = b.table(t.Table)
		}
		name := tableName(t.Table)
		out = append(out, line{"table " + name, "table " + name})
		for ci, ch := range t.Chains {
			out = append(out, line{"chain " + name + " " + ch.Chain.Name + " " + chainSpec(ch.Chain), "  chain " + ch.Chain.Name + " " + describeChain(ch.Chain)})
			for ri, rule := range ch.Rules {
				text := describeRule(t, rule)
				if bt != nil && ci < len(bt.Chains) && ri < len(bt.Chains[ci].Rules) {
					r := bt.Chains[ci].Rules[ri]
					text = r.Text + "  # " + r.Pos.String()
				}
				out = append(out, line{"rule " + name + " " + ch.Chain.Name + " " + t.RuleFingerprint(rule), "    " + text})
			}
		}
	}
	return out
}

// diffLines diffs the lines by key, showing their texts.
func diffLines(a, b []line) []DiffLine {
	var out []DiffLine
	for _, e := range linediff.Diff(len(a), len(b), func(i, j int) bool { return a[i].key == b[j].key }) {
		switch e.Op {
		case '-':
			out = append(out, DiffLine{'-', a[e.A].text})
		default:
			out = append(out, DiffLine{e.Op, b[e.B].text})
		}
	}
	return out
}

func describeChain(c *nftables.Chain) string {
	if c.Hooknum == nil {
		return "(regular chain)"
	}
	hooks := map[nftables.ChainHook]string{
		*nftables.ChainHookPrerouting: "prerouting", *nftables.ChainHookInput: "input", *nftables.ChainHookForward: "forward",
		*nftables.ChainHookOutput: "output", *nftables.ChainHookPostrouting: "postrouting",
	}
	policy := "accept"
	if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
		policy = "drop"
	}
	prio := 0
	if c.Priority != nil {
		prio = int(*c.Priority)
	}
	return fmt.Sprintf("{ type %s hook %s priority %d; policy %s; }", c.Type, hooks[*c.Hooknum], prio, policy)
}

// describeRule decompiles the expression patterns that nft and ksc write
// back into nft syntax, for rules that did not come from the policy.
// Anything else shows as its expression type.
func describeRule(t *LiveTable, rule *nftables.Rule) string {
	var parts []string
	var subject string // what register 1 holds
	var subjectAddr bool
	for _, e := range rule.Exprs {
		switch e := e.(type) {
		case *expr.Meta:
			subject, subjectAddr = metaSubject(e.Key), false
		case *expr.Payload:
			subject, subjectAddr = payloadSubject(e), e.Base == expr.PayloadBaseNetworkHeader
		case *expr.Ct:
			subject = "ct state"
		case *expr.Bitwise:
			if subject == "ct state" {
				parts = append(parts, "ct state "+ctStates(e.Mask))
				subject = ""
			} else if subjectAddr {
				subject += fmt.Sprintf("&%x", e.Mask)
			}
		case *expr.Cmp:
			if subject == "" || subject == "nfproto" {
				continue
			}
			op := map[expr.CmpOp]string{expr.CmpOpEq: "", expr.CmpOpNeq: "!= ", expr.CmpOpLt: "< ", expr.CmpOpLte: "<= ", expr.CmpOpGt: "> ", expr.CmpOpGte: ">= "}[e.Op]
			parts = append(parts, subject+" "+op+value(subject, e.Data))
		case *expr.Lookup:
			parts = append(parts, subject+" "+t.setValues(subject, e.SetName))
		case *expr.Counter:
			parts = append(parts, "counter")
		case *expr.Log:
			l := "log"
			if len(e.Data) > 0 {
				l += fmt.Sprintf(" prefix %q", e.Data)
			}
			parts = append(parts, l)
		case *expr.Verdict:
			parts = append(parts, verdictName(e))
		case *expr.Reject:
			parts = append(parts, "reject")
		default:
			parts = append(parts, fmt.Sprintf("<%T>", e))
		}
	}
	return strings.Join(parts, " ")
}

func metaSubject(k expr.MetaKey) string {
	switch k {
	case expr.MetaKeyIIFNAME:
		return "iifname"
	case expr.MetaKeyOIFNAME:
		return "oifname"
	case expr.MetaKeyL4PROTO:
		return "meta l4proto"
	case expr.MetaKeyNFPROTO:
		return "nfproto"
	}
	return fmt.Sprintf("meta %d", k)
}

func payloadSubject(p *expr.Payload) string {
	if p.Base == expr.PayloadBaseTransportHeader {
		if p.Offset == 0 {
			return "th sport"
		}
		return "th dport"
	}
	switch p.Offset {
	case 12:
		return "ip saddr"
	case 16:
		return "ip daddr"
	case 8:
		return "ip6 saddr"
	case 24:
		return "ip6 daddr"
	}
	return fmt.Sprintf("payload @%d,%d", p.Offset, p.Len)
}

func value(subject string, data []byte) string {
	switch {
	case subject == "iifname" || subject == "oifname":
		name := string(bytes.TrimRight(data, "\x00"))
		if len(data) < 16 {
			name += "*"
		}
		return fmt.Sprintf("%q", name)
	case subject == "meta l4proto" && len(data) == 1:
		for name, p := range map[string]byte{"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58} {
			if p == data[0] {
				return name
			}
		}
	case strings.HasPrefix(subject, "th ") && len(data) == 2:
		return fmt.Sprint(binary.BigEndian.Uint16(data))
	case strings.HasPrefix(subject, "ip"):
		size := 4
		if strings.HasPrefix(subject, "ip6") {
			size = 16
		}
		full := make([]byte, size)
		copy(full, data)
		if a, ok := netip.AddrFromSlice(full); ok {
			if len(data) < size {
				return netip.PrefixFrom(a, len(data)*8).String()
			}
			return a.String()
		}
	}
	return fmt.Sprintf("0x%x", data)
}

func (t *LiveTable) setValues(subject, name string) string {
	s := t.Sets[name]
	if s == nil {
		return "@" + name
	}
	if !s.Set.Anonymous {
		return "@" + name
	}
	var vals []string
	for _, e := range s.Elements {
		if !e.IntervalEnd {
			vals = append(vals, value(subject, e.Key))
		}
	}
	return "{ " + strings.Join(vals, ", ") + " }"
}

func ctStates(mask []byte) string {
	if len(mask) != 4 {
		return "?"
	}
	m := binary.NativeEndian.Uint32(mask)
	var names []string
	for _, s := range []struct {
		name string
		bit  uint32
	}{{"invalid", 1}, {"established", 2}, {"related", 4}, {"new", 8}, {"untracked", 64}} {
		if m&s.bit != 0 {
			names = append(names, s.name)
		}
	}
	return strings.Join(names, ",")
}

func verdictName(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictJump:
		return "jump " + v.Chain
	case expr.VerdictGoto:
		return "goto " + v.Chain
	case expr.VerdictReturn:
		return "return"
	}
	return fmt.Sprintf("verdict %d", v.Kind)
}
