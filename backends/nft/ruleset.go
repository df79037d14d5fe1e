package nft

import (
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Ruleset is a ruleset as read back from the kernel.
type Ruleset struct {
	Tables []*LiveTable
}

// LiveTable is a table with its chains and its sets (anonymous ones too).
type LiveTable struct {
	Table  *nftables.Table
	Chains []*LiveChain
	Sets   map[string]*LiveSet // by kernel name, e.g. "__set0"
	// SetNames are the names of Sets in the order the kernel lists them,
	// which is the order they were made in, and nft lists them in.
	SetNames []string
	// Objects are the table's stateful objects (named counters, quotas,
	// ...), which ksc writes none of.
	Objects []LiveObject
	// Unrestorable says what the table holds that a restore cannot put
	// back ("flowtable ft"), so that a snapshot of it is refused.
	Unrestorable []string
	// UserData is the table's user data as the kernel keeps it (nft's
	// comment), which google/nftables does not read.
	UserData []byte
	// Runtime names the sets whose elements are not compared: those the
	// policy declares, which other programs may change (see MarkRuntime).
	Runtime map[string]bool
	// setPrints remembers SetFingerprint, by set name: each rule that
	// looks a large set up would write all of its elements out again.
	setPrints map[string]string
}

// MarkRuntime marks, in the tables b writes, the sets b declares (see
// BatchSet.Runtime): their fingerprints leave the elements out.
func (r *Ruleset) MarkRuntime(b *Batch) {
	for _, bt := range b.Tables {
		t := r.Table(bt.Table.Family, bt.Table.Name)
		if t == nil {
			continue
		}
		for _, s := range bt.Sets {
			if s.Runtime {
				if t.Runtime == nil {
					t.Runtime = map[string]bool{}
				}
				t.Runtime[s.Set.Name] = true
				t.setPrints = nil
			}
		}
	}
}

// LiveObject is a stateful object as the kernel keeps it.
type LiveObject struct {
	Name string
	Type uint32 // NFT_OBJECT_*
	// Attrs are its data and user data as netlink attributes, which a
	// restore sends back as they are.
	Attrs []byte
}

// LiveChain is a chain and its rules.
type LiveChain struct {
	Chain *nftables.Chain
	Rules []*nftables.Rule
	// Attrs are the netlink attributes that define the chain, as the
	// kernel lists them: its hook with its priority and devices, type,
	// policy, flags and user data (nft's comment), of which
	// google/nftables reads only part. A restore sends them back.
	Attrs []byte
	// Binding marks an anonymous chain (nft's jump { ... }): the rule that
	// jumps to it binds it, after which no rule can be added to it.
	Binding bool
}

// LiveSet is a set and its elements.
type LiveSet struct {
	Set      *nftables.Set
	Elements Elements
	// RawElements are, for a map of objects (whose elements google/nftables
	// can neither read nor write whole), each element's attributes as the
	// kernel lists them, for a restore to send back; nil for other sets.
	RawElements [][]byte
	// Attrs are the netlink attributes that define the set, as the kernel
	// lists them: its flags, types, size, policy, timeouts, per-element
	// expressions and user data (nft's byte order of keys and data, its
	// typeof), of which google/nftables reads only part. A restore sends
	// them back as they are.
	Attrs []byte
}

// Fingerprint lists the ruleset as canonical lines, one for each table,
// chain and rule, with anonymous sets written out in place and counter
// values left out: two rulesets that behave the same have equal
// fingerprints. Tables that keep returns false for are skipped. Tables
// and chains are in the order of their names, not the kernel's: that
// order is the order they were made in, which means nothing for a packet
// and differs after a replacement in place (see kernel.transition).
func (r *Ruleset) Fingerprint(keep func(*nftables.Table) bool) []string {
	var lines []string
	tables := slices.Clone(r.Tables)
	slices.SortStableFunc(tables, func(a, b *LiveTable) int { return strings.Compare(TableName(a.Table), TableName(b.Table)) })
	for _, t := range tables {
		if keep != nil && !keep(t.Table) {
			continue
		}
		lines = append(lines, "table "+TableName(t.Table))
		chains := slices.Clone(t.Chains)
		slices.SortStableFunc(chains, func(a, b *LiveChain) int { return strings.Compare(a.Chain.Name, b.Chain.Name) })
		for _, ch := range chains {
			lines = append(lines, "chain "+TableName(t.Table)+" "+ch.Chain.Name+" "+ChainSpec(ch.Chain))
			for _, rule := range ch.Rules {
				lines = append(lines, "rule "+TableName(t.Table)+" "+ch.Chain.Name+" "+t.RuleFingerprint(rule))
			}
		}
	}
	return lines
}

// RuleFingerprint is the canonical form of one rule of t.
func (t *LiveTable) RuleFingerprint(rule *nftables.Rule) string {
	parts := make([]string, 0, len(rule.Exprs)+1)
	for _, e := range rule.Exprs {
		switch e := e.(type) {
		case *expr.Counter:
			parts = append(parts, "counter")
		case *expr.Match, *expr.Target:
			// An xtables extension's info is held behind a pointer, which
			// %+v prints as its address: a rule read twice differed.
			parts = append(parts, xtFingerprint(rule.Table, e))
		case *expr.Lookup:
			parts = append(parts, fmt.Sprintf("lookup(invert=%v %s)", e.Invert, t.SetFingerprint(e.SetName)))
		case *expr.Dynset:
			inner := make([]string, len(e.Exprs))
			for i, x := range e.Exprs {
				inner[i] = fmt.Sprintf("%T%+v", x, x)
			}
			parts = append(parts, fmt.Sprintf("dynset(op=%d key=%d data=%d timeout=%v invert=%v %s [%s])", e.Operation, e.SrcRegKey, e.SrcRegData,
				e.Timeout, e.Invert, t.SetFingerprint(e.SetName), strings.Join(inner, " ")))
		default:
			parts = append(parts, xtFingerprint(rule.Table, e))
		}
	}
	if len(rule.UserData) > 0 {
		parts = append(parts, fmt.Sprintf("userdata=%x", rule.UserData))
	}
	return strings.Join(parts, " ")
}

// xtFingerprint writes an xtables match or target (iptables-nft's rules)
// as the bytes google/nftables sends for it.
func xtFingerprint(t *nftables.Table, e expr.Any) string {
	family := byte(0)
	if t != nil {
		family = byte(t.Family)
	}
	b, err := expr.Marshal(family, e)
	if err != nil {
		return fmt.Sprintf("%T(unencodable: %v)", e, err)
	}
	return fmt.Sprintf("%T(%x)", e, b)
}

// SetFingerprint is the canonical form of t's set name: its key type,
// whether it holds ranges, and its elements in order. It is worked out
// once for each set: a table's sets are not changed once read, but by
// MarkRuntime.
func (t *LiveTable) SetFingerprint(name string) string {
	if p, ok := t.setPrints[name]; ok {
		return p
	}
	p := t.setFingerprint(name)
	if t.setPrints == nil {
		t.setPrints = map[string]string{}
	}
	t.setPrints[name] = p
	return p
}

func (t *LiveTable) setFingerprint(name string) string {
	s := t.Sets[name]
	if s == nil {
		return "missing set " + name
	}
	if s.Set.Dynamic {
		// Its elements come and go with the traffic.
		return fmt.Sprintf("%s %s dynamic size=%d timeouts=%v timeout=%v", name, s.Set.KeyType.Name, s.Set.Size, s.Set.HasTimeout, s.Set.Timeout)
	}
	if t.Runtime[name] {
		return fmt.Sprintf("%s %s interval=%v (elements at runtime)", name, s.Set.KeyType.Name, s.Set.Interval)
	}
	elems := elementTexts(&s.Elements)
	sort.Strings(elems)
	label := name
	if s.Set.Anonymous {
		label = "anonymous"
	}
	kind := s.Set.KeyType.Name
	if s.Set.IsMap {
		kind = fmt.Sprintf("%s : %s/%d", kind, s.Set.DataType.Name, s.Set.DataType.Bytes)
	}
	return fmt.Sprintf("%s %s interval=%v {%s}", label, kind, s.Set.Interval, strings.Join(elems, ","))
}

func TableName(t *nftables.Table) string {
	return FamilyName(t.Family) + " " + t.Name
}

// FamilyName names every table family, including those ksc never writes
// but may find in a live ruleset.
func FamilyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family-%d", f)
}

func ChainSpec(c *nftables.Chain) string {
	spec := fmt.Sprintf("type %s", c.Type)
	if c.Hooknum != nil {
		spec += fmt.Sprintf(" hook %d", *c.Hooknum)
	}
	if c.Priority != nil {
		spec += fmt.Sprintf(" priority %d", *c.Priority)
	}
	if c.Policy != nil {
		spec += fmt.Sprintf(" policy %d", *c.Policy)
	}
	return spec
}

// Table returns the live table of that family and name, or nil.
func (r *Ruleset) Table(family nftables.TableFamily, name string) *LiveTable {
	for _, t := range r.Tables {
		if t.Table.Family == family && t.Table.Name == name {
			return t
		}
	}
	return nil
}

// Rules returns the batch's rules in the order they are sent.
func (b *Batch) Rules() []*BatchRule {
	var rules []*BatchRule
	for _, t := range b.Tables {
		for _, ch := range t.Chains {
			rules = append(rules, ch.Rules...)
		}
	}
	return rules
}

func (b *Batch) Table(t *nftables.Table) *BatchTable {
	for _, bt := range b.Tables {
		if bt.Table.Name == t.Name && bt.Table.Family == t.Family {
			return bt
		}
	}
	return nil
}

// Owns says whether t is one of b's tables.
func (b *Batch) Owns(t *nftables.Table) bool { return b.Table(t) != nil }

func DescribeChain(c *nftables.Chain) string {
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

// elementTexts writes each element as its key in hex and whether it ends
// an interval ("c0000201/false"), and what else it carries (a map's data,
// see appendElementData), into one buffer: a set's fingerprint writes out
// every element, 200,000 for a large blocklist.
func elementTexts(elems *Elements) []string {
	size := 0
	for i := range elems.Len() {
		size += 2*len(elems.Key(i)) + len("/false")
	}
	buf := make([]byte, 0, size)
	ends := make([]int, elems.Len())
	for i := range elems.Len() {
		buf = hex.AppendEncode(buf, elems.Key(i))
		buf = strconv.AppendBool(append(buf, '/'), elems.IntervalEnd(i))
		if elems.whole != nil {
			buf = appendElementData(buf, &elems.whole[i])
		}
		ends[i] = len(buf)
	}
	all := string(buf)
	texts := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		texts[i], start = all[start:end], end
	}
	return texts
}

// appendElementData writes what an element carries besides its key: the
// end of its range, its data or verdict, its timeout and comment. Its
// counter and the time it has left change by themselves and are left out.
func appendElementData(buf []byte, e *nftables.SetElement) []byte {
	if len(e.KeyEnd) > 0 {
		buf = hex.AppendEncode(append(buf, '-'), e.KeyEnd)
	}
	switch {
	case e.VerdictData != nil:
		buf = append(append(buf, " : "...), verdictName(e.VerdictData)...)
	case len(e.Val) > 0:
		buf = hex.AppendEncode(append(buf, " : "...), e.Val)
	}
	if e.Timeout != 0 {
		buf = append(append(buf, " timeout "...), e.Timeout.String()...)
	}
	if e.Comment != "" {
		buf = strconv.AppendQuote(append(buf, " comment "...), e.Comment)
	}
	return buf
}
