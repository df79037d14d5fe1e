package kernel

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
)

// A Snapshot is what a rollback puts back: the tables an apply is about to
// replace, as they were before it. It covers only those tables, so that a
// rollback leaves alone what other programs add or change meanwhile, and
// it never covers a table another program owns (flags owner), which ksc
// can neither replace nor restore.
type Snapshot struct {
	ns       netns.NsHandle    // the namespace, held open: a name could be reused
	replaces map[TableRef]bool // the policy's tables
	existed  map[TableRef]bool // every table there was
	scope    map[TableRef]bool // what the rollback deletes and puts back
	before   []*nft.LiveTable  // the tables of scope that existed, as they were
	// rawBefore are the rules of before as the kernel lists them: what a
	// restore sends, and what it is proved against.
	rawBefore map[TableRef]rawRules
}

// Replaces lists the tables an apply of b replaces.
func Replaces(b *nft.Batch) []TableRef {
	refs := make([]TableRef, len(b.Tables))
	for i, t := range b.Tables {
		refs[i] = RefOf(t.Table)
	}
	return refs
}

// TakeSnapshot reads, in the namespace at nsPath, the tables that an apply
// replacing the tables replaces (and, with flushRuleset, every table but
// other programs' owner tables) would change. It proves in a scratch
// namespace that they can be put back exactly, flags and set elements
// included, before anything is changed.
func TakeSnapshot(nsPath string, replaces []TableRef, flushRuleset bool) (*Snapshot, error) {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return nil, err
	}
	live, err := readHandle(h)
	if err != nil {
		h.Close()
		return nil, err
	}
	s := &Snapshot{ns: h, replaces: map[TableRef]bool{}, existed: map[TableRef]bool{}, scope: map[TableRef]bool{},
		rawBefore: map[TableRef]rawRules{}}
	for _, r := range replaces {
		s.replaces[r], s.scope[r] = true, true
	}
	for _, t := range live.Tables {
		ref := RefOf(t.Table)
		s.existed[ref] = true
		if flushRuleset && t.Table.Flags&TableOwner == 0 {
			s.scope[ref] = true
		}
		if s.scope[ref] {
			s.before = append(s.before, t)
			if s.rawBefore[ref], err = readRawRules(handlePath(h), t.Table); err != nil {
				h.Close()
				return nil, err
			}
		}
	}
	if err := s.checkRestorable(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close lets go of the namespace.
func (s *Snapshot) Close() { s.ns.Close() }

func readHandle(h netns.NsHandle) (*nft.Ruleset, error) {
	c, err := dialHandle(h)
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	return Read(c, handlePath(h))
}

// Tables lists the tables a rollback puts back, as "family name".
func (s *Snapshot) Tables() []TableRef {
	refs := make([]TableRef, len(s.before))
	for i, t := range s.before {
		refs[i] = RefOf(t.Table)
	}
	return refs
}

// checkRestorable puts the snapshot back in an empty scratch namespace and
// compares what it reads back. A table holding something ksc cannot replay
// (another program's exotic expressions, say) fails here.
func (s *Snapshot) checkRestorable() error {
	if err := refuseUnrestorable(s.before); err != nil {
		return err
	}
	scratch, err := scratchNamespace()
	if err != nil {
		return err
	}
	defer scratch.Close()
	c, closeConn, err := dialRestoring(int(scratch), s.before)
	if err != nil {
		return err
	}
	defer closeConn()
	for _, t := range s.before {
		if err := queueTable(c, t, s.rawBefore[RefOf(t.Table)]); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("the current ruleset cannot be restored: %w", err)
	}
	back, err := readHandle(scratch)
	if err != nil {
		return err
	}
	if got, want := exactFingerprint(back.Tables), exactFingerprint(s.before); !slices.Equal(got, want) {
		return fmt.Errorf("the current ruleset holds something ksc cannot restore exactly (%s)", firstDifference(got, want))
	}
	for _, t := range s.before {
		ref := RefOf(t.Table)
		got, err := readRawRules(handlePath(scratch), t.Table)
		if err != nil {
			return err
		}
		if diff := firstRuleDifference(ref, got.chains, s.rawBefore[ref].chains); diff != "" {
			return fmt.Errorf("the current ruleset holds something ksc cannot restore exactly: %s", diff)
		}
	}
	return nil
}

// rawElementsText writes elements as the kernel lists them, in hex and
// sorted: a hash lists its elements in an order of its own.
func rawElementsText(elems [][]byte) string {
	texts := make([]string, len(elems))
	for i, e := range elems {
		texts[i] = fmt.Sprintf("%x", e)
	}
	sort.Strings(texts)
	return strings.Join(texts, ",")
}

// refuseUnrestorable names the first table that holds what a restore
// cannot put back.
func refuseUnrestorable(tables []*nft.LiveTable) error {
	for _, t := range tables {
		if len(t.Unrestorable) > 0 {
			return fmt.Errorf("the current ruleset cannot be restored: table %s holds %s, which ksc cannot put back", nft.TableName(t.Table), strings.Join(t.Unrestorable, ", "))
		}
	}
	return nil
}

// exactFingerprint is Ruleset.Fingerprint with what a restore must also
// keep: table flags and user data (nft's comment), what defines each
// chain (the devices of its hook, say), stateful objects, and named sets
// with their elements
// and every attribute the kernel lists of them (their size limits what
// other programs may add; their user data is how nft writes it).
func exactFingerprint(tables []*nft.LiveTable) []string {
	lines := (&nft.Ruleset{Tables: tables}).Fingerprint(nil)
	for _, t := range tables {
		lines = append(lines, fmt.Sprintf("flags %s %#x userdata=%x", nft.TableName(t.Table), t.Table.Flags&^TableOwner, t.UserData))
		for _, ch := range t.Chains {
			lines = append(lines, fmt.Sprintf("chain %s %s attrs=%x", nft.TableName(t.Table), ch.Chain.Name, ch.Attrs))
		}
		for _, o := range t.Objects {
			lines = append(lines, fmt.Sprintf("object %s %s type=%d %x", nft.TableName(t.Table), o.Name, o.Type, o.Attrs))
		}
		for name, set := range t.Sets {
			if !set.Set.Anonymous {
				lines = append(lines, fmt.Sprintf("set %s %s attrs=%x %s", nft.TableName(t.Table), name, set.Attrs, t.SetFingerprint(name)))
				if set.RawElements != nil {
					lines = append(lines, fmt.Sprintf("set %s %s elements=%s", nft.TableName(t.Table), name, rawElementsText(set.RawElements)))
				}
			}
		}
	}
	sort.Strings(lines)
	return lines
}

func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return differingPart(want[i], got[i])
		}
	}
	return fmt.Sprintf("%d lines became %d", len(want), len(got))
}

// differingPart shows where two fingerprint lines part: the start of the
// line, which names what it is (a rule's table and chain), and each line
// from a little before the first byte they differ in. A rule's line runs
// to thousands of bytes, and its first 200 told nothing.
func differingPart(want, got string) string {
	const head, before, after = 40, 40, 120
	at := 0
	for at < min(len(want), len(got)) && want[at] == got[at] {
		at++
	}
	from := max(at-before, 0)
	if from <= head {
		return fmt.Sprintf("%q became %q", clip(want, 0, from+before+after), clip(got, 0, from+before+after))
	}
	return fmt.Sprintf("%q, at %q became %q", clip(want, 0, head), clip(want, from, from+before+after), clip(got, from, from+before+after))
}

// clip is s[from:to], within s, marked with "…" where it was cut.
func clip(s string, from, to int) string {
	from, to = min(from, len(s)), min(to, len(s))
	out := s[from:to]
	if from > 0 {
		out = "…" + out
	}
	if to < len(s) {
		out += "…"
	}
	return out
}

// A RollbackReport says what a rollback found that other programs did
// while the apply waited.
type RollbackReport struct {
	Kept     []TableRef // tables added by other programs, left in place
	Replaced []TableRef // tables other programs re-created after a flush, put back as they were before
	Skipped  []TableRef // tables another program now owns, which ksc may not touch
}

// Rollback puts the snapshot back, closed at every instant (see
// transition): the tables the apply added are deleted, and those that
// existed before are put back in place, flags included. Tables outside
// the snapshot are left as they are.
func (s *Snapshot) Rollback() (RollbackReport, error) {
	var report RollbackReport
	now, err := readHandle(s.ns)
	if err != nil {
		return report, err
	}
	owned := map[TableRef]bool{}
	for _, t := range now.Tables {
		ref := RefOf(t.Table)
		switch {
		case t.Table.Flags&TableOwner != 0 && s.scope[ref]:
			owned[ref] = true
			report.Skipped = append(report.Skipped, ref)
		case !s.scope[ref] && !s.existed[ref]:
			report.Kept = append(report.Kept, ref)
		case s.scope[ref] && !s.replaces[ref]:
			report.Replaced = append(report.Replaced, ref)
		}
	}
	for _, refs := range [][]TableRef{report.Kept, report.Replaced, report.Skipped} {
		sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	}
	var wanted []*wantedTable
	for _, t := range s.before {
		ref := RefOf(t.Table)
		if owned[ref] {
			continue
		}
		w := &wantedTable{table: t.Table, dormant: t.Table.Flags&TableDormant != 0,
			queue: func(c batchConn) error { return queueTable(c, t, s.rawBefore[ref]) }}
		for _, ch := range t.Chains {
			w.chains = append(w.chains, shapeOfChain(ch.Chain, ch.Attrs))
		}
		wanted = append(wanted, w)
	}
	tr := &transition{
		nsFd: int(s.ns),
		dial: func(fixes ...func(*netlink.Message)) (batchConn, func(), error) {
			return dialRestoring(int(s.ns), s.before, fixes...)
		},
		wanted: wanted,
		gone:   func(ref TableRef, _ uint32) bool { return s.scope[ref] && !owned[ref] },
	}
	return report, tr.run()
}
