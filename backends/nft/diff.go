package nft

import (
	"fmt"

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
				text := DescribeRule(t, rule)
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
