package kernel

import (
	"cmp"
	"math"
	"slices"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/internal/linediff"
	"github.com/ksc-project/ksc/internal/nsenter"
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
func Diff(b *nft.Batch, nsPath string) ([]DiffLine, error) {
	live, desired, err := liveAndDesired(b, nsPath)
	if err != nil {
		return nil, err
	}
	keep := func(t *nftables.Table) bool { return b.FlushRuleset || b.Table(t) != nil }
	want := lines(desired, keep, b)
	known := map[string]string{}
	for _, l := range want {
		known[l.key] = l.text
	}
	have := lines(orderedLike(live, desired), keep, nil)
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

// liveAndDesired reads the namespace's ruleset and the one b would leave,
// the latter applied in a scratch namespace so that both are read back
// from the kernel alike. The two are independent, and each can take a
// second with a large set: they run at once.
func liveAndDesired(b *nft.Batch, nsPath string) (live, desired *nft.Ruleset, err error) {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return nil, nil, err
	}
	err = resolve(b, h)
	h.Close()
	if err != nil {
		return nil, nil, err
	}
	var desiredErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		desired, desiredErr = applyInScratch(b, false)
	}()
	live, err = ReadNamespace(nsPath)
	<-done
	if err != nil {
		return nil, nil, err
	}
	if desiredErr != nil {
		return nil, nil, desiredErr
	}
	live.MarkRuntime(b)
	desired.MarkRuntime(b)
	return live, desired, nil
}

// Verify applies b in a fresh, empty namespace that is then thrown away:
// the kernel's own judgement of the batch, with no effect on any ruleset.
// Refusals come back as for Apply.
func Verify(b *nft.Batch) error {
	_, err := applyInScratch(b, true)
	return err
}

// applyInScratch applies b in a fresh namespace and reads it back. Named
// sets are not read back: they hold what the batch sent, element for
// element. Unless verify asks the kernel to judge all of b, they are not
// even sent: loading 100,000 elements into a namespace only to throw it
// away made status and diff slower than nft's listing of the live ruleset.
func applyInScratch(b *nft.Batch, verify bool) (*nft.Ruleset, error) {
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
	sent := b
	if !verify {
		sent = b.WithoutSetElements()
	}
	if err := queue(batchConn{Conn: c}, sent, -1); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, locateRefusal(b, err)
	}
	known := func(t *nftables.Table, s *nftables.Set) (nft.Elements, bool) {
		var elems nft.Elements
		bt := b.Table(t)
		if bt == nil || s.Anonymous {
			return elems, false
		}
		for _, bs := range bt.Sets {
			if bs.Set.Name == s.Name {
				elems.Grow(bs.Len(), int(bs.Set.KeyType.Bytes))
				err := bs.Chunks(setChunk, func(chunk []nftables.SetElement) error {
					for _, e := range chunk {
						elems.Add(e.Key, e.IntervalEnd)
					}
					return nil
				})
				return elems, err == nil
			}
		}
		return elems, false
	}
	return readKnowing(c, handlePath(scratch), known)
}

type line struct{ key, text string }

// orderedLike is live with its tables and their chains in desired's
// order, those desired lacks after them in their own: a ruleset replaced
// in place lists new chains last, where a fresh one lists them in the
// policy's order, and the diff compares what the chains hold.
func orderedLike(live, desired *nft.Ruleset) *nft.Ruleset {
	out := &nft.Ruleset{Tables: slices.Clone(live.Tables)}
	slices.SortStableFunc(out.Tables, func(a, b *nft.LiveTable) int {
		return cmp.Compare(rankIn(desired.Tables, a, sameTable), rankIn(desired.Tables, b, sameTable))
	})
	for i, t := range out.Tables {
		want := desired.Table(t.Table.Family, t.Table.Name)
		if want == nil {
			continue
		}
		copied := *t
		copied.Chains = slices.Clone(t.Chains)
		slices.SortStableFunc(copied.Chains, func(a, b *nft.LiveChain) int {
			return cmp.Compare(rankIn(want.Chains, a, sameChain), rankIn(want.Chains, b, sameChain))
		})
		out.Tables[i] = &copied
	}
	return out
}

func sameTable(a, b *nft.LiveTable) bool { return RefOf(a.Table) == RefOf(b.Table) }
func sameChain(a, b *nft.LiveChain) bool { return a.Chain.Name == b.Chain.Name }

// rankIn is where x is in list, or after every place when it is not.
func rankIn[T any](list []T, x T, same func(a, b T) bool) int {
	if i := slices.IndexFunc(list, func(y T) bool { return same(x, y) }); i >= 0 {
		return i
	}
	return math.MaxInt
}

// lines lists a ruleset for display: the fingerprint as the key, and as the
// text the policy's own rule when b is given, or a decompiled rule.
func lines(r *nft.Ruleset, keep func(*nftables.Table) bool, b *nft.Batch) []line {
	var out []line
	for _, t := range r.Tables {
		if !keep(t.Table) {
			continue
		}
		var bt *nft.BatchTable
		if b != nil {
			bt = b.Table(t.Table)
		}
		name := nft.TableName(t.Table)
		out = append(out, line{"table " + name, "table " + name})
		for ci, ch := range t.Chains {
			out = append(out, line{"chain " + name + " " + ch.Chain.Name + " " + nft.ChainSpec(ch.Chain), "  chain " + ch.Chain.Name + " " + nft.DescribeChain(ch.Chain)})
			for ri, rule := range ch.Rules {
				text := nft.DescribeRule(t, rule)
				if bt != nil && ci < len(bt.Chains) && ri < len(bt.Chains[ci].Rules) {
					r := bt.Chains[ci].Rules[ri]
					text = r.Text() + "  # " + r.Pos.String()
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
