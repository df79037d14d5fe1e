package lang

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// ruleHint says what a rule is made of, for errors inside one.
const ruleHint = "a rule is matches (iifname, ip daddr, tcp dport, ct state, ...), then counter and log, then accept, drop, reject, jump CHAIN, goto CHAIN or return"

// statementWords are the words that start something other than a match.
var statementWords = []string{"counter", "log", "limit", "comment", "accept", "drop", "reject", "jump", "goto", "return", "masquerade", "snat", "dnat", "redirect", "add", "update"}

// word returns the term's bare word, or "".
func (t *Term) word() string {
	if t.Value != nil && t.Value.Word != nil {
		return *t.Value.Word
	}
	return ""
}

func (t *Term) span() (ir.Pos, ir.Pos) { return endPos(t.Pos, t.EndPos) }

// ruleStage is how far a rule has got: matches, then statements, then the verdict.
type ruleStage int

const (
	matching ruleStage = iota
	acting
	decided
)

// ruleBuilder reads one rule's terms from left to right.
type ruleBuilder struct {
	*builder
	terms   []*Term
	i       int
	enabled bool
	out     *ir.Rule
	stage   ruleStage
}

// rule builds one rule. Rules of disabled options are built and checked
// all the same, so that enabling an option later cannot reveal a mistake.
func (b *builder) rule(r *Rule, enabled bool, option string) *ir.Rule {
	rb := &ruleBuilder{builder: b, terms: r.Terms, enabled: enabled,
		out: &ir.Rule{Pos: convertPos(r.Pos), Option: option}}
	for rb.i < len(rb.terms) {
		if !rb.clause() {
			break // one error a rule: what follows an unknown word means nothing
		}
	}
	return rb.out
}

func (rb *ruleBuilder) next() *Term {
	if rb.i >= len(rb.terms) {
		return nil
	}
	t := rb.terms[rb.i]
	rb.i++
	return t
}

func (rb *ruleBuilder) peek() *Term {
	if rb.i >= len(rb.terms) {
		return nil
	}
	return rb.terms[rb.i]
}

// clause reads one match, statement or verdict. It returns false after an
// error that leaves the rest of the rule unreadable.
func (rb *ruleBuilder) clause() bool {
	t := rb.peek()
	pos, end := t.span()
	word := t.word()
	if word == "comment" {
		rb.next()
		c := rb.next()
		if c == nil || c.Value == nil || c.Value.String == nil {
			rb.errorf(pos, end, "comment needs a quoted text").Hint = `write comment "why this rule exists"`
			return false
		}
		rb.out.Comment = strings.Trim(*c.Value.String, `"`)
		return true
	}
	if rb.stage == decided {
		rb.errorf(pos, end, "nothing but a comment may follow the verdict").Hint = "start a new line for a new rule"
		return false
	}
	switch {
	case word == "counter":
		rb.next()
		rb.out.Statements = append(rb.out.Statements, &ir.Counter{Pos: pos})
		rb.stage = acting
		return true
	case word == "log":
		rb.next()
		rb.out.Statements = append(rb.out.Statements, rb.log(pos))
		rb.stage = acting
		return true
	case word == "limit":
		rb.next()
		l := rb.limit(pos, end)
		if l == nil {
			return false
		}
		rb.out.Statements = append(rb.out.Statements, l)
		rb.stage = acting
		return true
	case word == "add" || word == "update":
		rb.next()
		op := map[string]ir.SetOp{"add": ir.SetAdd, "update": ir.SetUpdate}[word]
		l := rb.meter(op, pos, end)
		if l == nil {
			return false
		}
		rb.out.Statements = append(rb.out.Statements, l)
		rb.stage = acting
		return true
	case word == "jump" || word == "goto":
		rb.next()
		rb.out.Verdict, _ = ir.ParseVerdict(word)
		rb.stage = decided
		target := rb.next()
		if target == nil || target.word() == "" {
			rb.errorf(pos, end, "%s needs the name of a chain", word).Hint = word + " NAME, where NAME is a chain of this table without a hook"
			return false
		}
		tpos, tend := target.span()
		rb.targets = append(rb.targets, chainRef{rule: rb.out, name: target.word(), pos: tpos, end: tend})
		return true
	case word == "masquerade":
		rb.next()
		rb.out.Verdict, rb.out.NAT = ir.Translate, &ir.NAT{Pos: pos, Kind: ir.Masquerade}
		rb.stage = decided
		return true
	case word == "snat" || word == "dnat" || word == "redirect":
		rb.next()
		var n *ir.NAT
		if word == "redirect" {
			n = rb.redirect(pos)
		} else {
			n = rb.nat(map[string]ir.NATKind{"snat": ir.SNAT, "dnat": ir.DNAT}[word], pos, end)
		}
		if n == nil {
			return false
		}
		rb.out.Verdict, rb.out.NAT = ir.Translate, n
		rb.stage = decided
		return true
	case word == "accept" || word == "drop" || word == "reject" || word == "return":
		rb.next()
		rb.out.Verdict, _ = ir.ParseVerdict(word)
		rb.stage = decided
		if t := rb.peek(); word == "reject" && t != nil && t.word() == "with" {
			return rb.rejectWith()
		}
		return true
	}
	sel, n := selectorAt(rb.terms[rb.i:])
	if sel == nil {
		rb.unknown(t)
		return false
	}
	if (sel.Field == ir.FieldMark || sel.Field == ir.FieldCtMark) && rb.i+n < len(rb.terms) && rb.terms[rb.i+n].word() == "set" {
		rb.i += n + 1
		st := rb.markSet(sel.Field, pos, end)
		if st == nil {
			return false
		}
		rb.out.Statements = append(rb.out.Statements, st)
		rb.stage = acting
		return true
	}
	if rb.stage == acting {
		rb.errorf(pos, end, "matches must come before counter and log").Hint = "nft would count or log packets that this match then rejects"
		return false
	}
	rb.i += n
	return rb.match(sel, pos)
}

// selectorWords holds the words of each of ir.Selectors.
var selectorWords = func() [][]string {
	out := make([][]string, len(ir.Selectors))
	for i, s := range ir.Selectors {
		out[i] = strings.Fields(s.Words)
	}
	return out
}()

// selectorAt finds the longest selector whose words start terms.
func selectorAt(terms []*Term) (*ir.Selector, int) {
	var best *ir.Selector
	bestLen := 0
	for i := range ir.Selectors {
		s := &ir.Selectors[i]
		words := selectorWords[i]
		if len(words) <= bestLen || len(words) > len(terms) {
			continue
		}
		matched := true
		for j, w := range words {
			matched = matched && terms[j].word() == w
		}
		if matched {
			best, bestLen = s, len(words)
		}
	}
	return best, bestLen
}

// unknown reports a term that starts no clause, with the likeliest fix.
func (rb *ruleBuilder) unknown(t *Term) {
	pos, end := t.span()
	word := t.word()
	switch {
	case t.Neq:
		rb.errorf(pos, end, "'!=' must follow a field").Hint = "write the field first: oifname != $VPN_DEV"
		return
	case t.Comma:
		rb.errorf(pos, end, "unexpected ','").Hint = "a set of values is written in braces: { a, b }"
		return
	case t.Eq || t.Amp || t.Paren != "":
		rb.errorf(pos, end, "a mask must follow a field that takes one").Hint = "e.g. meta mark and 0xff == 0x1"
		return
	case word == "":
		rb.errorf(pos, end, "a value must follow a field").Hint = ruleHint
		return
	}
	// A known first word ("ip") with an unknown second one ("ip src").
	var completions []string
	for _, s := range ir.Selectors {
		if first, rest, ok := strings.Cut(s.Words, " "); ok && first == word {
			completions = append(completions, rest)
		}
	}
	if len(completions) > 0 && rb.i+1 < len(rb.terms) {
		next := rb.terms[rb.i+1]
		at, to := next.span()
		d := rb.errorf(at, to, "unknown %s field %q", word, next.word())
		d.Hint = fmt.Sprintf("%s is followed by one of: %s", word, strings.Join(completions, ", "))
		if best, near := closest(next.word(), completions); near {
			d.Hint = fmt.Sprintf("did you mean %s %s?", word, best)
		}
		return
	}
	if len(completions) > 0 {
		rb.errorf(pos, end, "%s needs a field name", word).Hint = fmt.Sprintf("%s is followed by one of: %s", word, strings.Join(completions, ", "))
		return
	}
	d := rb.errorf(pos, end, "unknown match or statement %q", word)
	d.Hint = ruleHint
	var names []string
	for _, s := range ir.Selectors {
		names = append(names, s.Words)
	}
	if best, near := closest(word, append(names, statementWords...)); near {
		d.Hint = fmt.Sprintf("did you mean %s?", best)
	}
}

// match reads the operator and values after a selector.
func (rb *ruleBuilder) match(sel *ir.Selector, pos ir.Pos) bool {
	op := ir.Eq
	var mask uint32
	exact := false // "==" without a mask: tcp flags compares all bits
	if t := rb.peek(); t != nil && (t.Amp || t.word() == "and") {
		var ok bool
		if mask, op, ok = rb.mask(sel); !ok {
			return false
		}
		exact = true
	} else if t != nil && t.Neq {
		rb.next()
		op, exact = ir.Neq, true
	} else if t != nil && t.Eq && sel.Field.Spec().Kind.Spec().Shape == ir.ShapeFlags {
		rb.next()
		exact = true
	}
	kind := sel.Field.Spec().Kind
	var values []*Value
	for {
		t := rb.next()
		if t == nil || t.Value == nil {
			at, to := pos, ir.Pos{}
			if t != nil {
				at, to = t.span()
			}
			rb.errorf(at, to, "%s needs a value", sel.Words).Hint = "e.g. " + kind.Spec().Example
			return false
		}
		values = append(values, t.Value)
		// Only states and flags are listed with bare commas, as in nft.
		if next := rb.peek(); !listsWithCommas(kind) || next == nil || !next.Comma {
			break
		}
		rb.next()
	}
	last := values[len(values)-1]
	m := &ir.Match{Pos: pos, End: convertPos(last.EndPos), Field: sel.Field, Op: op, Protocol: sel.Protocol, Mask: mask}
	if len(values) == 1 && values[0].Word != nil && strings.HasPrefix(*values[0].Word, "@") {
		if rb.setLookup(m, &Term{Pos: values[0].Pos, EndPos: values[0].EndPos, Value: values[0]}) {
			rb.out.Matches = append(rb.out.Matches, m)
		}
		return true
	}
	var elems []elem
	ok := true
	for i, v := range values {
		es, resolved := rb.resolve(v, rb.enabled)
		if i == 0 {
			elems = es // a file's elements are shared, not copied: a blocklist has a million
		} else {
			elems = append(slices.Clip(elems), es...)
		}
		ok = ok && resolved
	}
	if !ok {
		return true // reported; the rest of the rule is still worth reading
	}
	if len(elems) == 0 {
		return true // a define without a value, in a disabled rule
	}
	set, valid := rb.values(sel, kind, elems)
	if !valid {
		return true
	}
	m.Values = set
	flags := kind.Spec().Shape == ir.ShapeFlags
	if flags && len(values) == 1 && rb.braced(values[0]) && len(elems) > 1 {
		// "tcp flags { syn, syn|ack }": the flags are exactly one of these
		// values, as nft means a set (a lookup of the whole byte). nft
		// reads a set of one, "{ syn }", as "syn": any of its flags.
		exact = true
	}
	if flags && !exact {
		// "tcp flags syn,ack": any of the flags is set, as nft means it.
		var any uint32
		for _, v := range ir.Numbers(set) {
			any |= v
		}
		m.Mask, m.Op, m.Values = any, ir.Neq, ir.NumberSet(0)
	}
	if kind.Spec().Shape == ir.ShapeAddr {
		m.SetName = fileSetName(values, elems)
	}
	if !rb.spell(m, values, elems) {
		return true
	}
	rb.out.Matches = append(rb.out.Matches, m)
	return true
}

// spell records how the match's values were written where nft lists two
// spellings of one meaning differently (see ir.Spelling), and refuses a
// negated list of conntrack states, which nft reads as no state at all.
func (rb *ruleBuilder) spell(m *ir.Match, values []*Value, elems []elem) bool {
	braced := len(values) == 1 && rb.braced(values[0])
	kind := m.Field.Spec().Kind
	switch kind.Spec().Shape {
	case ir.ShapeStates:
		if m.Op == ir.Neq && len(values) > 1 {
			rb.errorf(m.Pos, m.End, "ct state != with a comma list holds for every packet in nft, which compares the state with all of them at once").Hint =
				"for a state that is none of these, write them in braces: " + m.Field.String() + " != { " + strings.Join(ir.ValueStrings(kind, m.Values), ", ") + " }"
			return false
		}
		if braced && len(ir.Numbers(m.Values)) > 1 {
			m.Spelling = ir.AsSet // nft tests one state's bit, in braces or not
		}
	case ir.ShapeAddr, ir.ShapeNumber:
		if kind.Spec().Ranges && len(elems) == 1 && !braced && !elems[0].fromFile && writtenAsRange(kind, elems[0].text) {
			m.Spelling = ir.AsRange
		}
	}
	return true
}

// writtenAsRange reports a value written as "lo-hi": not a name that
// holds a dash (echo-request).
func writtenAsRange(kind ir.Kind, text string) bool {
	if _, named := kind.ValueOf(text); named {
		return false
	}
	return strings.Contains(text, "-")
}

// listsWithCommas reports kinds whose values nft lists with bare commas:
// states and flags.
func listsWithCommas(k ir.Kind) bool {
	shape := k.Spec().Shape
	return shape == ir.ShapeStates || shape == ir.ShapeFlags
}

// braced reports a value written in braces, directly or as a define's.
func (b *builder) braced(v *Value) bool {
	for depth := 0; v != nil && depth < 100; depth++ { // a cycle is reported elsewhere
		switch {
		case v.Set != nil:
			return true
		case v.Var == nil:
			return false
		}
		d := b.defines[strings.TrimPrefix(*v.Var, "$")]
		if d == nil {
			return false
		}
		v = d.value
	}
	return false
}

// mask reads "and MASK ==" (or "& MASK !=") after a field that takes one.
func (rb *ruleBuilder) mask(sel *ir.Selector) (uint32, ir.Op, bool) {
	and := rb.next()
	pos, end := and.span()
	if !sel.Field.Spec().Maskable {
		rb.errorf(pos, end, "%s takes no mask", sel.Words).Hint = "masks are for meta mark and ct mark"
		return 0, ir.Eq, false
	}
	t := rb.next()
	paren := t != nil && t.Paren == "("
	if paren {
		t = rb.next()
	}
	if t == nil || t.word() == "" {
		rb.errorf(pos, end, "a mask must follow %q", and.word()).Hint = "e.g. " + sel.Words + " and 0xff == 0x1"
		return 0, ir.Eq, false
	}
	mask, err := parseUint32(t.word())
	if v, ok := sel.Field.Spec().Kind.ValueOf(t.word()); ok && sel.Field.Spec().Kind.Spec().Shape == ir.ShapeFlags {
		mask, err = v, nil
	}
	if err != nil || mask == 0 {
		at, to := t.span()
		rb.errorf(at, to, "bad mask %q: want a number from 0x1 to 0xffffffff, or flags such as syn|ack", t.word())
		return 0, ir.Eq, false
	}
	if paren {
		if close := rb.next(); close == nil || close.Paren != ")" {
			rb.errorf(pos, end, "the mask's '(' is not closed").Hint = "e.g. tcp flags & (syn|ack) == syn"
			return 0, ir.Eq, false
		}
	}
	op := rb.next()
	if op == nil || !op.Eq && !op.Neq {
		rb.errorf(pos, end, "a mask must be followed by == or !=").Hint = "e.g. " + sel.Words + " and 0xff == 0x1"
		return 0, ir.Eq, false
	}
	if op.Neq {
		return mask, ir.Neq, true
	}
	return mask, ir.Eq, true
}

// fileSetName names the set when the match is on exactly one $NAME whose
// value is a file: such a match keeps it as one named set.
func fileSetName(values []*Value, elems []elem) string {
	if len(values) != 1 || values[0].Var == nil {
		return ""
	}
	for _, e := range elems {
		if !e.fromFile {
			return ""
		}
	}
	return strings.TrimPrefix(*values[0].Var, "$")
}

// values turns elements into a set of the field's kind, reporting each
// element that is not of that kind at its own position.
func (rb *ruleBuilder) values(sel *ir.Selector, kind ir.Kind, elems []elem) (ir.Set, bool) {
	switch kind.Spec().Shape {
	case ir.ShapeName:
		return rb.interfaces(sel, elems)
	case ir.ShapeAddr:
		return rb.addresses(sel, kind, elems)
	}
	return rb.numbers(sel, kind, elems)
}

// badElement reports an element that did not parse: a malformed value at
// its own position, a value of the wrong kind ("expected ...") at the
// $NAME it came through. It returns true when the caller should stop, so
// that a wrong-kind $NAME is reported once.
func (rb *ruleBuilder) badElement(e elem, msg, hint string) bool {
	p, end := e.pos, e.end()
	if strings.HasPrefix(msg, "expected") {
		p, end = e.where()
	}
	rb.errorf(p, end, "%s", msg).Hint = hint
	return e.use != nil && p == e.use.pos
}

// wrongKind reports an element of the wrong kind; it returns true when
// the caller should stop, so that a wrong-kind $NAME is reported once.
func (rb *ruleBuilder) wrongKind(e elem, format string, args ...any) (*ir.Diagnostic, bool) {
	p, end := e.where()
	return rb.errorf(p, end, format, args...), e.use != nil
}

func (rb *ruleBuilder) interfaces(sel *ir.Selector, elems []elem) (ir.Set, bool) {
	var names []string
	ok := true
	for _, e := range elems {
		if k := e.kind(); k != "a name" && k != "a string" && k != "a number" {
			ok = false
			if _, stop := rb.wrongKind(e, "%s needs interface names, %s", sel.Words, e.describe()); stop {
				break
			}
			continue
		}
		if err := ir.CheckInterfaceName(e.text); err != nil {
			at, end := e.where()
			if e.use == nil || e.fromFile {
				at, end = e.pos, e.end()
			}
			rb.errorf(at, end, "%v", err).Hint = interfaceHint(e.text)
			ok = false
			continue
		}
		if slices.Contains(names, e.text) {
			rb.ds.Warnf(e.pos, "%q appears twice in this set", e.text)
			continue
		}
		names = append(names, e.text)
	}
	return ir.InterfaceSet(names...), ok
}

func interfaceHint(name string) string {
	if strings.Contains(name, "+") {
		return fmt.Sprintf("the wildcard is '*', as in nft: %q matches every interface whose name starts with %q",
			strings.ReplaceAll(name, "+", "")+"*", strings.ReplaceAll(name, "+", ""))
	}
	return ""
}

func (rb *ruleBuilder) addresses(sel *ir.Selector, kind ir.Kind, elems []elem) (ir.Set, bool) {
	family, other := kind.Spec().Family, "ip6"
	if family == ir.IPv6 {
		other = "ip"
	}
	spans := make([]ir.Span, 0, len(elems))
	ok := true
	for _, e := range elems {
		a, msg, hint := parseAddrElem(e)
		if msg != "" {
			ok = false
			if rb.badElement(e, msg, hint) {
				break
			}
			continue
		}
		if a.Family() != family {
			d, _ := rb.wrongKind(e, "%s needs %s, %s", sel.Words, kind, e.describe())
			d.Hint = fmt.Sprintf("use %s saddr / %s daddr for %s", other, other, map[ir.Family]string{ir.IPv4: "IPv6 addresses", ir.IPv6: "IPv4 addresses"}[family])
			ok = false
			continue
		}
		spans = append(spans, ir.Span{Lo: ir.AddrKey(a.From), Hi: ir.AddrKey(a.To)})
	}
	// Only a literal set warns about overlaps (a file set may hold a million
	// elements), and only one whose spans do not already ascend apart: the
	// elements are parsed again then, to name them and their positions.
	if ok && !fromOneFile(elems) && !ascendApart(spans) {
		addrs := make([]ir.AddrElem, len(elems))
		for i, e := range elems {
			addrs[i], _, _ = parseAddrElem(e)
		}
		warnOverlaps(&rb.ds, addrs)
	}
	return ir.OwnSet(spans), ok
}

// ascendApart reports whether each span starts above the end of the one
// before it: then no two overlap.
func ascendApart(spans []ir.Span) bool {
	for i := 1; i < len(spans); i++ {
		if spans[i].Lo.Compare(spans[i-1].Hi) <= 0 {
			return false
		}
	}
	return true
}

func fromOneFile(elems []elem) bool {
	return len(elems) > 0 && elems[0].fromFile && elems[len(elems)-1].fromFile
}

// warnOverlaps warns about elements that repeat or overlap: likely typos,
// though ksc merges them (the kernel refuses overlapping elements).
func warnOverlaps(ds *ir.Diagnostics, sorted []ir.AddrElem) {
	slices.SortStableFunc(sorted, func(a, b ir.AddrElem) int { return a.From.Compare(b.From) })
	var maxElem ir.AddrElem
	for i, e := range sorted {
		if i > 0 && !maxElem.To.Less(e.From) {
			if e.From == maxElem.From && e.To == maxElem.To {
				ds.Warnf(e.Pos, "%s appears twice in this set", e).Hint = "the first is at " + maxElem.Pos.String()
			} else {
				ds.Warnf(e.Pos, "%s overlaps %s in the same set", e, maxElem).Hint = "ksc merges them; write the set without the overlap"
			}
		}
		if i == 0 || maxElem.To.Less(e.To) {
			maxElem = e
		}
	}
}

// rejectWith reads what follows "reject with": "tcp reset", or "icmp",
// "icmpv6" or "icmpx", an optional "type", and a code by name or number.
func (rb *ruleBuilder) rejectWith() bool {
	with := rb.next()
	pos, end := with.span()
	hint := "e.g. reject with tcp reset, reject with icmpx admin-prohibited, reject with icmp host-prohibited"
	kindWord := rb.next()
	if kindWord == nil {
		rb.errorf(pos, end, "reject with what?").Hint = hint
		return false
	}
	at, to := kindWord.span()
	if kindWord.word() == "tcp" {
		if t := rb.next(); t == nil || t.word() != "reset" {
			rb.errorf(at, to, "reject with tcp must be followed by reset").Hint = hint
			return false
		}
		rb.out.RejectWith = ir.RejectWith{Kind: ir.RejectTCPReset}
		return true
	}
	kind, ok := map[string]ir.RejectKind{"icmp": ir.RejectICMP, "icmpv6": ir.RejectICMPv6, "icmpx": ir.RejectICMPX}[kindWord.word()]
	if !ok {
		rb.errorf(at, to, "unknown reject answer %q", kindWord.word()).Hint = hint
		return false
	}
	code := rb.next()
	if code != nil && code.word() == "type" {
		code = rb.next() // nft's older spelling: reject with icmp type host-prohibited
	}
	if code == nil || code.word() == "" {
		rb.errorf(at, to, "reject with %s needs a code", kindWord.word()).Hint = hint
		return false
	}
	var names []string
	for _, n := range kind.Codes() {
		names = append(names, n.Name)
		if n.Name == code.word() {
			rb.out.RejectWith = ir.RejectWith{Kind: kind, Code: uint8(n.Value)}
			return true
		}
	}
	cat, cto := code.span()
	d := rb.errorf(cat, cto, "unknown %s code %q", kindWord.word(), code.word())
	d.Hint = "use one of: " + strings.Join(names, ", ")
	if best, near := closest(code.word(), names); near {
		d.Hint = "did you mean " + best + "?"
	}
	return false
}

// log reads "log [prefix TEXT] [group N] [level LEVEL] [flags FLAGS]...".
func (rb *ruleBuilder) log(pos ir.Pos) *ir.Log {
	l := &ir.Log{Pos: pos}
	seen := map[string]bool{}
	for {
		t := rb.peek()
		key := ""
		if t != nil {
			key = t.word()
		}
		if key != "prefix" && key != "level" && key != "group" && key != "flags" {
			return l
		}
		rb.next()
		at, end := t.span()
		if key == "flags" {
			if !rb.logFlags(l, at, end) {
				return l
			}
			continue
		}
		v := rb.next()
		if v == nil || v.Value == nil || v.Value.String == nil && v.Value.Word == nil {
			rb.errorf(at, end, "log %s needs a value", key).Hint = `e.g. log prefix "drop: " level info`
			return l
		}
		if seen[key] {
			rb.errorf(at, end, "log has %s twice", key)
		}
		seen[key] = true
		if key == "prefix" {
			text := v.Value.Word
			if v.Value.String != nil {
				text = v.Value.String
			}
			l.Prefix = strings.Trim(*text, `"`)
			continue
		}
		if key == "group" {
			n, err := strconv.ParseUint(derefOr(v.Value.Word, ""), 10, 16)
			if err != nil {
				vp, ve := v.span()
				rb.errorf(vp, ve, "log group needs a number 0-65535, not %q", strings.Trim(derefOr(v.Value.String, derefOr(v.Value.Word, "")), `"`))
			}
			l.ToGroup, l.Group = true, uint16(n)
			continue
		}
		name := ""
		if v.Value.Word != nil {
			name = *v.Value.Word
		}
		level, ok := ir.ParseLogLevel(name)
		if !ok {
			vp, ve := v.span()
			d := rb.errorf(vp, ve, "unknown log level %q", strings.Trim(derefOr(v.Value.String, name), `"`))
			d.Hint = fmt.Sprintf("use one of %v", ir.LogLevels)
		}
		l.Level = level
	}
}

// markSet reads what follows "meta mark set" or "ct mark set": a number,
// or the other mark ("ct mark set meta mark").
func (rb *ruleBuilder) markSet(target ir.Field, pos, end ir.Pos) *ir.MarkSet {
	st := &ir.MarkSet{Pos: pos, Target: target}
	if sel, n := selectorAt(rb.terms[rb.i:]); sel != nil && (sel.Field == ir.FieldMark || sel.Field == ir.FieldCtMark) && sel.Field != target {
		rb.i += n
		st.From = sel.Field
		return st
	}
	t := rb.next()
	if t == nil || t.Value == nil || t.Value.Word == nil {
		rb.errorf(pos, end, "%s set needs a value", target).Hint = "a 32-bit number, or the other mark: meta mark set ct mark"
		return nil
	}
	v, err := strconv.ParseUint(*t.Value.Word, 0, 32)
	if err != nil {
		at, to := t.span()
		rb.errorf(at, to, "%s set needs a 32-bit number, not %q", target, *t.Value.Word).Hint = "e.g. 0x6d6f6c65, or the other mark: meta mark set ct mark"
		return nil
	}
	st.Value = uint32(v)
	return st
}

// snat reads "snat [ip|ip6] to ADDRESS" (or $NAME of one address): the
// family word, which nft needs in inet tables, must agree with the
// address.
func (rb *ruleBuilder) nat(kind ir.NATKind, pos, end ir.Pos) *ir.NAT {
	hint := "snat to 192.0.2.1, or in an inet table snat ip to 192.0.2.1 / snat ip6 to 2001:db8::1"
	if kind == ir.DNAT {
		hint = "dnat to 192.0.2.10, dnat to 192.0.2.10:8080, or in an inet table dnat ip to 192.0.2.10:8080 / dnat ip6 to [2001:db8::10]:8080"
	}
	n := &ir.NAT{Pos: pos, Kind: kind}
	family := ir.Inet
	if t := rb.peek(); t != nil && (t.word() == "ip" || t.word() == "ip6") {
		rb.next()
		family = map[string]ir.Family{"ip": ir.IPv4, "ip6": ir.IPv6}[t.word()]
	}
	if t := rb.next(); t == nil || t.word() != "to" {
		rb.errorf(pos, end, "%s needs \"to\" and an address", kind).Hint = hint
		return nil
	}
	t := rb.next()
	if t == nil || t.Value == nil {
		rb.errorf(pos, end, "%s to needs an address", kind).Hint = hint
		return nil
	}
	at, to := t.span()
	elems, ok := rb.resolve(t.Value, rb.enabled)
	if !ok {
		return nil
	}
	if len(elems) != 1 {
		rb.errorf(at, to, "%s rewrites to one address, not %d", kind, len(elems)).Hint = hint
		return nil
	}
	text := elems[0].text
	if ap, err := netip.ParseAddrPort(text); err == nil && kind == ir.DNAT {
		// "192.0.2.10:8080", "[2001:db8::10]:8080"
		if ap.Port() == 0 {
			rb.errorf(at, to, "dnat to %s: port 0 is no port", text).Hint = hint
			return nil
		}
		n.Addr, n.Port = ap.Addr(), ap.Port()
	} else {
		a, msg, _ := parseAddrElem(elems[0])
		if msg != "" || a.From != a.To {
			rb.errorf(at, to, "%s to needs one address, %s", kind, elems[0].describe()).Hint = hint
			return nil
		}
		n.Addr = a.From
	}
	if family != ir.Inet && family != n.Family() {
		rb.errorf(at, to, "%s %s to %s: the address is not %s's", kind, family, n.Addr, family).Hint = hint
		return nil
	}
	return n
}

// redirect reads "redirect [to :PORT]".
func (rb *ruleBuilder) redirect(pos ir.Pos) *ir.NAT {
	n := &ir.NAT{Pos: pos, Kind: ir.Redirect}
	if t := rb.peek(); t == nil || t.word() != "to" {
		return n
	}
	rb.next()
	t := rb.next()
	port := ""
	if t != nil {
		port = strings.TrimPrefix(t.word(), ":")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if t == nil || !strings.HasPrefix(t.word(), ":") || err != nil || p == 0 {
		at, to := pos, ir.Pos{}
		if t != nil {
			at, to = t.span()
		}
		rb.errorf(at, to, "redirect to needs a port: redirect to :8080").Hint = "or redirect alone, to keep the port"
		return nil
	}
	n.Port = uint16(p)
	return n
}

// limit reads "limit rate [over] N/UNIT [burst M packets]".
func (rb *ruleBuilder) limit(pos, end ir.Pos) *ir.Limit {
	const example = "e.g. limit rate 5/minute burst 10 packets"
	word := func() (string, ir.Pos, ir.Pos) {
		t := rb.peek()
		if t == nil || t.Value == nil || t.Value.Word == nil {
			return "", end, end
		}
		rb.next()
		at, to := t.span()
		return *t.Value.Word, at, to
	}
	l := &ir.Limit{Pos: pos}
	if w, at, to := word(); w != "rate" {
		rb.errorf(at, to, "limit needs a rate").Hint = example
		return nil
	}
	w, at, to := word()
	if w == "over" {
		l.Over = true
		w, at, to = word()
	}
	n, unit, ok := strings.Cut(w, "/")
	rate, err := strconv.ParseUint(n, 10, 32)
	u, uok := ir.ParseRateUnit(unit)
	if !ok || err != nil || rate == 0 || !uok {
		rb.errorf(at, to, "limit rate needs N/UNIT, not %q", w).Hint = "N from 1, UNIT one of " + strings.Join(ir.RateUnits, ", ") + "; " + example
		return nil
	}
	l.Rate, l.Unit = rate, u
	if t := rb.peek(); t != nil && t.word() == "burst" {
		rb.next()
		b, bat, bto := word()
		burst, err := strconv.ParseUint(b, 10, 32)
		if err != nil || burst == 0 {
			rb.errorf(bat, bto, "limit burst needs a number of packets from 1, not %q", b).Hint = example
			return nil
		}
		if p, pat, pto := word(); p != "packets" {
			rb.errorf(pat, pto, "limit burst counts packets: write \"burst %d packets\"", burst)
			return nil
		}
		l.Burst = uint32(burst)
	}
	return l
}

// logFlags reads what follows "flags": "tcp sequence,options", "ip
// options", "skuid", "ether" or "all".
func (rb *ruleBuilder) logFlags(l *ir.Log, at, end ir.Pos) bool {
	hint := "log flags are tcp sequence,options, ip options, skuid, ether or all"
	t := rb.next()
	if t == nil || t.Value == nil || t.Value.Word == nil {
		rb.errorf(at, end, "log flags needs a flag").Hint = hint
		return false
	}
	group := *t.Value.Word
	var words []string
	if group == "tcp" || group == "ip" {
		for {
			w := rb.next()
			if w == nil || w.Value == nil || w.Value.Word == nil {
				rb.errorf(at, end, "log flags %s needs what to log", group).Hint = hint
				return false
			}
			words = append(words, group+" "+*w.Value.Word)
			if next := rb.peek(); next == nil || !next.Comma {
				break
			}
			rb.next()
		}
	} else {
		words = []string{group}
	}
	for _, w := range words {
		found := false
		for _, f := range ir.LogFlagWords {
			if f.Words == w {
				l.Flags |= f.Flags
				found = true
			}
		}
		if !found {
			tp, te := t.span()
			rb.errorf(tp, te, "unknown log flag %q", w).Hint = hint
			return false
		}
	}
	return true
}

func derefOr(s *string, alt string) string {
	if s != nil {
		return *s
	}
	return alt
}
