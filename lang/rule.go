package lang

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// ruleHint says what a rule is made of, for errors inside one.
const ruleHint = "a rule is matches (iifname, ip daddr, tcp dport, ct state, ...), then counter and log, then accept, drop, reject, jump CHAIN, goto CHAIN or return"

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
	// branches replace out when the rule ends in a verdict map.
	branches []*ir.Rule
	// alternatives are the tuples of a concatenation's set: the rule is
	// written once for each, with its matches added.
	alternatives [][]*ir.Match
	// mapped are, for a mark map, the mark each alternative sets, and
	// mappedBy the statement that sets it.
	mapped   []uint32
	mappedBy *ir.MarkSet
}

// rule builds one rule. Rules of disabled options are built and checked
// all the same, so that enabling an option later cannot reveal a mistake.
func (b *builder) rule(r *Rule, enabled bool, option string) []*ir.Rule {
	rb := &ruleBuilder{builder: b, terms: r.Terms, enabled: enabled,
		out: &ir.Rule{Pos: convertPos(r.Pos), Option: option}}
	errorsBefore := len(b.ds)
	for rb.i < len(rb.terms) {
		if !rb.clause() {
			break // one error a rule: what follows an unknown word means nothing
		}
	}
	if b.keepUnread && len(b.ds) > errorsBefore {
		return []*ir.Rule{rb.unread(errorsBefore)}
	}
	if rb.alternatives != nil && rb.branches == nil && rb.expandable() {
		for k, alt := range rb.alternatives {
			out := *rb.out
			out.Matches = append(cloneMatches(rb.out.Matches), alt...)
			if rb.mapped != nil {
				out.Statements = withMark(out.Statements, rb.mappedBy, rb.mapped[k])
			}
			rb.branches = append(rb.branches, &out)
		}
		rb.retarget()
	}
	if rb.branches != nil {
		for _, br := range rb.branches {
			br.Comment = rb.out.Comment // read after the map
		}
		return rb.branches
	}
	return []*ir.Rule{rb.out}
}

// unread is the rule as far as it was read before its first error (the
// diagnostics from errorsBefore on, which it takes back): its matches,
// which must all hold for the rule to, and what stopped it, which may do
// anything. Matches come before statements, so those read are all the
// rule's first ones.
func (rb *ruleBuilder) unread(errorsBefore int) *ir.Rule {
	why := rb.ds[errorsBefore].Message
	rb.ds = rb.ds[:errorsBefore]
	return &ir.Rule{Pos: rb.out.Pos, Matches: rb.out.Matches, Unread: &ir.Unread{Why: why, Acts: true}}
}

// xt reads what iptables-nft leaves of an iptables match or target nft
// cannot list ("xt match recent", "xt target TTL"): a match only decides
// whether the rule holds; a target may do anything.
func (rb *ruleBuilder) xt(pos, end ir.Pos) bool {
	kind, name := rb.next(), rb.next()
	if kind == nil || name == nil || kind.word() != "match" && kind.word() != "target" {
		rb.errorf(pos, end, "xt must be followed by match NAME or target NAME")
		return false
	}
	why := "iptables " + kind.word() + " " + name.word() + ", which nft lists only by name"
	u := rb.out.Unread
	if u == nil {
		u = &ir.Unread{}
		rb.out.Unread = u
	} else {
		why = u.Why + "; " + why
	}
	u.Why, u.Acts = why, u.Acts || kind.word() == "target"
	return true
}

// withMark is statements with the map's statement (by) setting mark.
func withMark(statements []ir.Statement, by *ir.MarkSet, mark uint32) []ir.Statement {
	out := slices.Clone(statements)
	for i, s := range out {
		if s == ir.Statement(by) {
			c := *by
			c.Value = mark
			out[i] = &c
		}
	}
	return out
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
	if word == "tcp" && rb.i+1 < len(rb.terms) && rb.terms[rb.i+1].word() == "option" {
		rb.i += 2
		return rb.mssSet(pos, end)
	}
	if word == "meta" && rb.i+1 < len(rb.terms) && rb.terms[rb.i+1].word() == "nftrace" || word == "nftrace" {
		if word == "meta" {
			rb.next()
		}
		rb.next()
		return rb.trace(pos, end)
	}
	if word == "ct" && rb.i+1 < len(rb.terms) && rb.terms[rb.i+1].word() == "count" {
		rb.i += 2
		l := rb.connCount(pos, end)
		return l != nil && rb.act(l)
	}
	if word == "xt" && rb.keepUnread {
		rb.next()
		return rb.xt(pos, end)
	}
	if read, ok := clauseReaders[word]; ok {
		rb.next()
		return read(rb, word, pos, end)
	}
	sels, n := selectorsAt(rb.terms[rb.i:])
	if sels == nil {
		rb.unknown(t)
		return false
	}
	sel := sels[0]
	after := ""
	if rb.i+n < len(rb.terms) {
		after = rb.terms[rb.i+n].word()
	}
	if after == "vmap" {
		rb.i += n
		return rb.verdictMap(sels, pos)
	}
	if len(sels) > 1 {
		rb.i += n
		return rb.concatenation(sels, pos, end)
	}
	if (sel.Field == ir.FieldIPDSCP || sel.Field == ir.FieldIP6DSCP) && after == "set" {
		rb.i += n + 1
		return rb.dscpSet(sel, pos, end)
	}
	if slices.Contains(ir.MarkSetTargets, sel.Field) && after == "set" {
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
// selectorsAt finds the selector terms start with, or a concatenation of
// them joined by ".", and how many terms they take; nil when none.
func selectorsAt(terms []*Term) ([]*ir.Selector, int) {
	sel, n := selectorAt(terms)
	if sel == nil {
		return nil, 0
	}
	sels := []*ir.Selector{sel}
	for n+1 < len(terms) && terms[n].word() == "." {
		next, m := selectorAt(terms[n+1:])
		if next == nil {
			break
		}
		sels, n = append(sels, next), n+1+m
	}
	return sels, n
}

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
	case t.Shift:
		rb.errorf(pos, end, "ksc writes no bit shifts (nft's << and >>)").Hint = "set the mark to a value: meta mark set 0x100, or copy it whole: meta mark set ct mark"
		return
	case t.Cmp != 0:
		rb.errorf(pos, end, "a comparison must follow a field").Hint = "write the field first: tcp dport < 1024"
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
	case word == "type" || word == "policy" || word == "hook" || word == "priority":
		rb.errorf(pos, end, "a chain's %s comes before its rules", word).Hint =
			"write the header first: type filter hook input priority 0; policy drop;"
		return
	}
	if word == "meta" && rb.i+1 < len(rb.terms) && rb.terms[rb.i+1].word() == "cgroup" || word == "cgroup" {
		at, to := pos, end
		if word == "meta" {
			at, to = rb.terms[rb.i+1].span()
		}
		rb.errorf(at, to, "ksc matches a cgroup by its path, not by a net_cls class id (meta cgroup)").Hint =
			`write socket cgroupv2 level N "PATH": net_cls is cgroup v1's, which systemd machines no longer mount`
		return
	}
	if word == "socket" {
		rb.errorf(pos, end, "ksc knows one socket field: socket cgroupv2 level N \"PATH\", N from 1 to %d", ir.MaxCgroupLevel).Hint =
			`e.g. socket cgroupv2 level 2 "user.slice/app.slice": the level is how many names the path has`
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
	var cmp *Term // "tcp dport < 1024": the values below, a range
	if t := rb.peek(); t != nil && t.Cmp != 0 && !t.Shift && m0(mask, op) {
		cmp = rb.next()
	}
	kind := sel.Field.Spec().Kind
	flags := kind.Spec().Shape == ir.ShapeFlags
	var values []*Value
	for {
		paren := false
		if t := rb.peek(); flags && t != nil && t.Paren == "(" {
			rb.next()
			paren = true // "== (syn | ack)"
		}
		t := rb.next()
		if flags && t != nil && t.Value != nil && t.Value.Word != nil {
			t = rb.joinFlags(t)
		}
		if paren {
			if close := rb.next(); close == nil || close.Paren != ")" {
				rb.errorf(convertPos(t.Pos), convertPos(t.EndPos), "the flags' '(' is not closed").Hint = "e.g. tcp flags & (syn|ack) == (syn|ack)"
				return false
			}
		}
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
	slashed := false
	if t := rb.peek(); t != nil && t.word() == "/" && flags && mask == 0 {
		// nft's "tcp flags syn,ack / syn,ack,rst": the flags under the
		// mask after the slash are those before it, all of them.
		rb.next()
		slashed = true
		slash, ok := rb.flagList(sel, t)
		if !ok {
			return false
		}
		mask, exact = slash, true
	}
	last := values[len(values)-1]
	m := &ir.Match{Pos: pos, End: convertPos(last.EndPos), Field: sel.Field, Op: op, Protocol: sel.Protocol, Mask: mask}
	if len(values) == 1 && values[0].Word != nil && strings.HasPrefix(*values[0].Word, "@") {
		ref := &Term{Pos: values[0].Pos, EndPos: values[0].EndPos, Value: values[0]}
		if !rb.looksUpConst(ref, kind) {
			if rb.setLookup(m, ref) {
				rb.out.Matches = append(rb.out.Matches, m)
			}
			return true
		}
		c := rb.constLookup(ref, []*ir.Selector{sel}, false, "")
		if c == nil {
			return true
		}
		values = []*Value{c.elements}
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
	if cmp != nil {
		if set, valid = rb.compared(sel, cmp, values, set); !valid {
			return true
		}
	}
	m.Values = set
	if slashed {
		var all uint32
		for _, v := range ir.Numbers(set) {
			all |= v
		}
		m.Values = ir.NumberSet(all)
	}
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

// m0 reports a match with no mask and no "!=" yet, which a comparison
// may follow.
func m0(mask uint32, op ir.Op) bool { return mask == 0 && op == ir.Eq }

// compared is the set a comparison stands for ("< 1024": every value of
// the field's kind below it), of a field whose values take ranges.
func (rb *ruleBuilder) compared(sel *ir.Selector, cmp *Term, values []*Value, set ir.Set) (ir.Set, bool) {
	kind := sel.Field.Spec().Kind
	op := string(cmp.Cmp)
	if cmp.OrEqual {
		op += "="
	}
	at, to := cmp.span()
	if !kind.Spec().Ranges && kind.Spec().Shape != ir.ShapeAddr {
		rb.errorf(at, to, "%s takes no comparison: its %s have no order", sel.Words, kind.Spec().Plural).Hint = "list the values: " + kind.Spec().Example
		return nil, false
	}
	if len(values) != 1 || values[0].Set != nil || len(set) != 1 || set[0].Lo != set[0].Hi {
		rb.errorf(at, to, "%s compares with one value", op).Hint = fmt.Sprintf("e.g. %s %s 1024, or a range: %s 0-1023", sel.Words, op, sel.Words)
		return nil, false
	}
	all := kind.Universe()
	v := set[0].Lo
	from := ir.NewSet(ir.Span{Lo: v, Hi: all[len(all)-1].Hi}).Intersect(all) // >= v
	upTo := ir.NewSet(ir.Span{Lo: all[0].Lo, Hi: v}).Intersect(all)          // <= v
	out := map[string]ir.Set{">=": from, ">": from.Minus(set), "<=": upTo, "<": upTo.Minus(set)}[op]
	if out.IsEmpty() {
		rb.errorf(at, convertPos(values[0].EndPos), "%s %s %s holds for no packet", sel.Words, op, derefOr(values[0].Word, derefOr(values[0].Var, "that value"))).Hint = "compare with a value inside the field's range"
		return nil, false
	}
	return out, true
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

// flagList reads the flags after a slash, "syn,rst", as one mask.
func (rb *ruleBuilder) flagList(sel *ir.Selector, slash *Term) (uint32, bool) {
	kind := sel.Field.Spec().Kind
	var mask uint32
	for {
		t := rb.next()
		v, ok := uint32(0), false
		if t != nil {
			v, ok = kind.ValueOf(t.word())
		}
		if !ok {
			at, to := slash.span()
			if t != nil {
				at, to = t.span()
			}
			rb.errorf(at, to, "the mask after '/' is flags joined by ','").Hint = "e.g. " + sel.Words + " syn / syn,rst"
			return 0, false
		}
		mask |= v
		if next := rb.peek(); next == nil || !next.Comma {
			return mask, true
		}
		rb.next()
	}
}

// mask reads "and MASK ==" (or "& MASK !=") after a field that takes one.
func (rb *ruleBuilder) mask(sel *ir.Selector) (uint32, ir.Op, bool) {
	and := rb.next()
	pos, end := and.span()
	if !sel.Field.Spec().Maskable {
		rb.errorf(pos, end, "%s takes no mask", sel.Words).Hint = "masks are for meta mark and ct mark"
		return 0, ir.Eq, false
	}
	paren := false
	if t := rb.peek(); t != nil && t.Paren == "(" {
		rb.next()
		paren = true
	}
	text, at, to, ok := rb.glued()
	for paren && ok && text != "" {
		// nft reads flags in parentheses spaced too: (syn | ack).
		if t := rb.peek(); t == nil || t.Paren == ")" {
			break
		}
		more, _, moreTo, moreOK := rb.glued()
		if more == "" {
			break
		}
		text, to, ok = text+more, moreTo, moreOK
	}
	switch {
	case !ok:
		return 0, ir.Eq, false
	case text == "":
		rb.errorf(pos, end, "a mask must follow %q", and.word()).Hint = "e.g. " + sel.Words + " and 0xff == 0x1"
		return 0, ir.Eq, false
	}
	mask, err := parseUint32(text)
	if v, ok := sel.Field.Spec().Kind.ValueOf(text); ok && sel.Field.Spec().Kind.Spec().Shape == ir.ShapeFlags {
		mask, err = v, nil
	}
	if err != nil || mask == 0 {
		rb.errorf(at, to, "bad mask %q: want a number from 0x1 to 0xffffffff, or flags such as syn|ack", text)
		return 0, ir.Eq, false
	}
	if paren {
		if close := rb.next(); close == nil || close.Paren != ")" {
			rb.errorf(pos, end, "the mask's '(' is not closed").Hint = "e.g. tcp flags & (syn|ack) == syn"
			return 0, ir.Eq, false
		}
	}
	if t := rb.peek(); t != nil && t.Value != nil && sel.Field.Spec().Kind.Spec().Shape == ir.ShapeFlags {
		return mask, ir.Eq, true // "tcp flags & (syn|ack) syn": nft implies ==
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

// joinFlags reads flags nft spaces around '|' ("syn | ack") as one word,
// from the term t that starts them.
func (rb *ruleBuilder) joinFlags(t *Term) *Term {
	for {
		bar := rb.peek()
		if bar == nil || bar.word() != "|" || rb.i+1 >= len(rb.terms) {
			return t
		}
		next := rb.terms[rb.i+1]
		if next.Value == nil || next.Value.Word == nil {
			return t
		}
		rb.next()
		rb.next()
		joined := *t.Value.Word + "|" + *next.Value.Word
		v := *t.Value
		v.Word, v.EndPos = &joined, next.Value.EndPos
		t = &Term{Pos: t.Pos, EndPos: next.EndPos, Value: &v}
	}
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
