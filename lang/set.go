package lang

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ksc-project/ksc/ir"
)

const setHint = "e.g. set VPN_SERVERS { type ipv4_addr; flags interval; elements = { 192.0.2.1 } }, or set ssh4 { type ipv4_addr; flags dynamic; timeout 10m }"

// setDecl builds "set NAME { type T; flags dynamic[,timeout]; size N;
// timeout T }" of addresses of one family as a set declared in the
// kernel, and any other set or map as a constant of the policy.
func (b *builder) setDecl(d *SetDecl) (*ir.TableSet, *constSet) {
	out := &ir.TableSet{Pos: convertPos(d.Pos), Name: d.Name}
	var typeAttr *SetAttr
	for _, a := range d.Attrs {
		if a.Key == "type" || a.Key == "typeof" {
			if typeAttr != nil {
				pos, end := endPos(a.Pos, a.EndPos)
				b.errorf(pos, end, "set %s has two types", d.Name).Hint = setHint
				return nil, nil
			}
			typeAttr = a
		}
	}
	if typeAttr == nil {
		b.errorf(out.Pos, ir.Pos{}, "%s %s needs a type", map[bool]string{true: "map", false: "set"}[d.Map], d.Name).Hint = setHint
		return nil, nil
	}
	tpos, tend := endPos(typeAttr.Pos, typeAttr.EndPos)
	keys, data, ok := b.keyTypes(typeAttr, tpos, tend)
	if !ok {
		return nil, nil
	}
	if d.Map || data != "" || len(keys) != 1 || !slices.Contains(ir.SetKinds(), keys[0].kind) {
		return nil, b.constDecl(d, keys, data)
	}
	out.Kind = keys[0].kind
	seen := map[string]bool{}
	var elements *SetAttr
	for _, a := range d.Attrs {
		pos, end := endPos(a.Pos, a.EndPos)
		if seen[a.Key] {
			b.errorf(pos, end, "set %s has %s twice", d.Name, a.Key)
			ok = false
			continue
		}
		seen[a.Key] = true
		switch {
		case a.Key == "type" || a.Key == "typeof" || a.Key == "auto-merge" || a.Key == "policy" || a.Key == "comment":
			continue // auto-merge: ksc merges the elements itself
		case (a.Key == "elements") != (a.Elements != nil):
			b.errorf(pos, end, "set %s: write elements = { ... }, and the other attributes without '='", d.Name).Hint = setHint
			ok = false
		case a.Key == "elements":
			elements = a // read once the type is known
		case len(a.Values) == 0:
			b.errorf(pos, end, "set %s: %s needs a value", d.Name, a.Key).Hint = setHint
			ok = false
		case a.Key != "flags" && len(a.Values) > 1:
			b.errorf(pos, end, "set %s: %s takes one value, not %d", d.Name, a.Key, len(a.Values)).Hint = setHint
			ok = false
		default:
			ok = b.setAttr(out, a.Key, a.Values, pos, end) && ok
		}
	}
	if !seen["flags"] && !out.Dynamic {
		// nft's plain set holds single addresses; ksc declares every
		// address set it looks up with intervals, which hold them too.
		out.Interval = true
	}
	if ok && elements != nil {
		ok = b.setElements(out, elements.Elements)
	}
	if !ok {
		return nil, nil
	}
	return out, nil
}

// setElements reads "elements = VALUE": a set, a $NAME or a file(), of
// addresses of the set's type.
func (b *builder) setElements(s *ir.TableSet, v *Value) bool {
	elems, ok := b.resolve(v, true)
	if !ok {
		return false
	}
	sel := &ir.Selector{Words: "set " + s.Name}
	rb := &ruleBuilder{builder: b, enabled: true, out: &ir.Rule{}}
	before := len(b.ds)
	values, ok := rb.addresses(sel, s.Kind, elems)
	for i := range b.ds[before:] {
		if d := &b.ds[before+i]; strings.HasPrefix(d.Hint, "use ip") { // the hint for a match of the other family
			d.Hint = "a set holds one family: declare another set, of type " + otherFamily(s.Kind).Spec().TypeName + ", for the others"
		}
	}
	s.Elements = values
	return ok
}

// setLookup reads "@NAME" as the value of a match: the table's declared
// set of that name, which must hold the field's kind of value.
func (rb *ruleBuilder) setLookup(m *ir.Match, t *Term) bool {
	at, to := t.span()
	name := strings.TrimPrefix(t.word(), "@")
	set := rb.sets[name]
	kind := m.Field.Spec().Kind
	switch {
	case set == nil && rb.refusedSets[name]:
		return false
	case set == nil:
		d := rb.errorf(at, to, "this table declares no set %s", name)
		d.Hint = "declare it first: set " + name + " { type " + kind.Spec().TypeName + "; flags interval; elements = { ... } }"
		if best, near := closest(name, slices.Sorted(maps.Keys(rb.sets))); near {
			d.Hint = "did you mean @" + best + "?"
		}
		return false
	case set.Kind != kind:
		rb.errorf(at, to, "set %s holds %s, and %s needs %s", name, set.TypeName(), m.Field, kind)
		return false
	}
	m.Set, m.SetName, m.Values = set, name, set.Elements
	return true
}

// otherFamily is the address kind of the other family.
func otherFamily(k ir.Kind) ir.Kind {
	for _, other := range ir.SetKinds() {
		if other != k {
			return other
		}
	}
	return k
}

func (b *builder) setAttr(s *ir.TableSet, key string, values []string, pos, end ir.Pos) bool {
	switch key {
	case "flags":
		for _, f := range values {
			switch f {
			case "dynamic":
				s.Dynamic = true
			case "interval":
				s.Interval = true
			case "timeout":
				s.Timeouts = true
			default:
				b.errorf(pos, end, "set %s has flag %q; ksc declares sets with flags interval, or flags dynamic (with timeout if it has one)", s.Name, f).Hint = setHint
				return false
			}
		}
		return true
	case "size":
		n, err := strconv.ParseUint(values[0], 10, 32)
		if err == nil && n > 0 {
			s.Size = uint32(n)
			return true
		}
		b.errorf(pos, end, "set %s: size needs a number of keys from 1, not %q", s.Name, values[0]).Hint = setHint
	case "timeout":
		d, ok := ir.ParseTimeout(values[0])
		if ok {
			s.Timeout, s.Timeouts = d, true
			return true
		}
		b.errorf(pos, end, "set %s: timeout needs a time such as 90s, 10m, 1h or 1d, not %q", s.Name, values[0]).Hint = setHint
	}
	return false
}

// setStatement reads "add|update @SET { KEY [timeout T] [limit rate
// ...] }": with a limit, a rate limit for each key, kept in a dynamic set
// of the table (a meter); without, the key written into the set, which
// other rules look up.
func (rb *ruleBuilder) setStatement(op ir.SetOp, pos, end ir.Pos) ir.Statement {
	hint := fmt.Sprintf("e.g. %s @ssh4 { ip saddr limit rate over 3/minute burst 5 packets } drop, or %s @blackhole { ip saddr timeout 1m }", op, op)
	ref := rb.next()
	if ref == nil || !strings.HasPrefix(ref.word(), "@") {
		rb.errorf(pos, end, "%s needs a set: @NAME", op).Hint = hint
		return nil
	}
	at, to := ref.span()
	name := strings.TrimPrefix(ref.word(), "@")
	set := rb.sets[name]
	if set == nil && rb.refusedSets[name] {
		return nil
	}
	if set == nil {
		d := rb.errorf(at, to, "this table declares no set %s", name)
		d.Hint = "declare it first: set " + name + " { type ipv4_addr; flags dynamic }"
		if best, near := closest(name, slices.Sorted(maps.Keys(rb.sets))); near {
			d.Hint = "did you mean @" + best + "?"
		}
		return nil
	}
	body, ok := rb.keyedBody(set, op.String()+" @"+name, at, to, hint, true)
	if !ok {
		return nil
	}
	if body.limit == nil {
		return &ir.SetWrite{Pos: pos, Op: op, Set: set, Key: body.key, Timeout: body.timeout}
	}
	if body.timeout != 0 && body.timeout != set.Timeout {
		rb.errorf(body.timeoutAt, body.timeoutTo, "%s: a rate limit's keys expire after the set's timeout", op.String()+" @"+name).Hint =
			"give set " + name + " timeout " + ir.FormatTimeout(body.timeout) + ", and leave it out here"
		return nil
	}
	return rb.meterLimit(op, set, body, pos)
}

// keyedBody is what the braces of add, update and meter hold.
type keyedBody struct {
	key                  ir.Field
	timeout              time.Duration
	timeoutAt, timeoutTo ir.Pos
	limit                *ir.Limit
}

// keyedBody reads "{ KEY [timeout T] [limit rate ...] }", the body of
// add, update and meter; the limit is required unless bare.
func (rb *ruleBuilder) keyedBody(set *ir.TableSet, what string, at, to ir.Pos, hint string, bare bool) (keyedBody, bool) {
	var out keyedBody
	body := rb.next()
	if body == nil || body.Value == nil || body.Value.Set == nil {
		rb.errorf(at, to, "%s needs { KEY ... }", what).Hint = hint
		return out, false
	}
	var terms []*Term
	for _, v := range body.Value.Set.Values() {
		terms = append(terms, &Term{Pos: v.Pos, EndPos: v.EndPos, Value: v})
	}
	inner := &ruleBuilder{builder: rb.builder, terms: terms, enabled: rb.enabled, out: rb.out}
	sel, n := selectorAt(terms)
	if sel == nil || !slices.Contains(ir.MeterKeys, sel.Field) {
		bat, bto := body.Value.Pos, body.Value.EndPos
		if len(terms) > 0 {
			bat, bto = terms[0].Pos, terms[0].EndPos
		}
		rb.errorf(convertPos(bat), convertPos(bto), "%s needs a key first: ip saddr, ip daddr, ip6 saddr or ip6 daddr", what).Hint = hint
		return out, false
	}
	out.key = sel.Field
	inner.i = n
	if t := inner.peek(); t != nil && t.word() == "timeout" {
		inner.next()
		v := inner.next()
		out.timeoutAt, out.timeoutTo = t.span()
		d, ok := time.Duration(0), false
		if v != nil {
			_, out.timeoutTo = v.span()
			d, ok = ir.ParseTimeout(v.word())
		}
		if !ok {
			rb.errorf(out.timeoutAt, out.timeoutTo, "%s: timeout needs a time such as 90s, 10m, 1h or 1d", what).Hint = hint
			return out, false
		}
		out.timeout = d
	}
	lt := inner.next()
	if lt == nil && bare {
		return out, true
	}
	if lt != nil && lt.word() == "ct" && inner.peek() != nil && inner.peek().word() == "count" {
		inner.next()
		lpos, lend := lt.span()
		if out.limit = inner.connCount(lpos, lend); out.limit == nil {
			return out, false
		}
		return out, inner.nothingAfter(what, hint)
	}
	if lt == nil || lt.word() != "limit" {
		at, to := terms[len(terms)-1].span()
		if lt != nil {
			at, to = lt.span()
		}
		what := fmt.Sprintf("%s { %s ... }", what, sel.Words)
		if bare {
			rb.errorf(at, to, "%s holds a key, a timeout and a limit (limit rate or ct count), and nothing else", what).Hint = hint
		} else {
			rb.errorf(at, to, "%s needs a limit: a meter keeps a rate for each key", what).Hint = hint
		}
		return out, false
	}
	lpos, lend := lt.span()
	if out.limit = inner.limit(lpos, lend); out.limit == nil {
		return out, false
	}
	return out, inner.nothingAfter(what, hint)
}

// nothingAfter refuses anything after the limit inside the braces.
func (rb *ruleBuilder) nothingAfter(what, hint string) bool {
	if extra := rb.peek(); extra != nil {
		at, to := extra.span()
		rb.errorf(at, to, "%s: nothing may follow the limit inside the braces", what).Hint = hint
		return false
	}
	return true
}

// meterLimit makes body's limit one for each key, kept in set.
func (rb *ruleBuilder) meterLimit(op ir.SetOp, set *ir.TableSet, body keyedBody, pos ir.Pos) *ir.Limit {
	l := body.limit
	l.Pos = pos
	l.Meter = &ir.Meter{Op: op, Set: set, Key: body.key}
	if set.Kind == 0 {
		set.Kind = body.key.Spec().Kind // a meter's set takes its key's
	}
	return l
}

// meterStatement reads nft's "meter NAME [size N] { KEY limit rate ... }":
// a limit for each key, kept in a dynamic set of that name, which is
// what ksc declares it as ("set NAME { type ...; flags dynamic }" and
// "add @NAME { ... }"). nft lists the same meaning as a meter.
func (rb *ruleBuilder) meterStatement(pos, end ir.Pos) *ir.Limit {
	hint := "e.g. meter ssh { ip saddr limit rate 3/minute } accept"
	nameTerm := rb.next()
	if nameTerm == nil || nameTerm.word() == "" || strings.HasPrefix(nameTerm.word(), "@") || nameTerm.Value.Set != nil {
		rb.errorf(pos, end, "meter needs a name").Hint = hint
		return nil
	}
	at, to := nameTerm.span()
	name := nameTerm.word()
	set := &ir.TableSet{Pos: at, Name: name, Dynamic: true}
	if prev := rb.sets[name]; prev != nil {
		rb.errorf(at, to, "meter %s: the table already has a set %s, at %s", name, name, prev.Pos).Hint = "give the meter a name of its own"
		return nil
	}
	if t := rb.peek(); t != nil && t.word() == "size" {
		rb.next()
		text, sat, sto, ok := rb.glued()
		if !ok {
			return nil
		}
		n, err := strconv.ParseUint(text, 10, 32)
		if err != nil || n == 0 {
			rb.errorf(sat, sto, "meter %s: size needs a number of keys above 0, not %q", name, text).Hint = hint
			return nil
		}
		set.Size = uint32(n)
	}
	body, ok := rb.keyedBody(set, "meter "+name, at, to, hint, false)
	if !ok {
		return nil
	}
	if body.timeout != 0 {
		// nft gives the meter's set the timeout of its keys.
		set.Timeout, set.Timeouts = body.timeout, true
	}
	l := rb.meterLimit(ir.SetAdd, set, body, pos)
	rb.sets[name] = set
	if rb.enabled {
		// A disabled rule's meter is checked, but declares nothing.
		rb.current.Sets = append(rb.current.Sets, set)
	}
	return l
}

// tableSet declares a set or map of the table: one name for one of them.
func (b *builder) tableSet(t *ir.Table, d *SetDecl) {
	s, c := b.setDecl(d)
	switch {
	case s == nil && c == nil:
		b.refusedSets[d.Name] = true // setDecl said why
	case c != nil && b.sets[c.name] != nil:
		b.errorf(c.pos, c.end, "%s: the table already has a set %s, at %s", c.what(), c.name, b.sets[c.name].Pos).Hint = "give each set a name of its own"
	case c != nil && b.consts[c.name] != nil:
		b.errorf(c.pos, c.end, "%s: the table already has a %s, at %s", c.what(), b.consts[c.name].what(), b.consts[c.name].pos).Hint = "give each set a name of its own"
	case c != nil:
		b.consts[c.name] = c
	case s != nil && b.consts[s.Name] != nil:
		b.errorf(s.Pos, ir.Pos{}, "set %s: the table already has a %s, at %s", s.Name, b.consts[s.Name].what(), b.consts[s.Name].pos).Hint = "give each set a name of its own"
	case s != nil:
		t.Sets = append(t.Sets, s) // a second of one name: validation says so
		if _, dup := b.sets[s.Name]; !dup {
			b.sets[s.Name] = s
		}
	}
}

// ParseSetElements reads addresses for set s, as "elements = { ... }"
// would hold them (ksc set add): each text an address, a prefix or a
// range, in s's family. Positions are in source, the texts joined by
// ", " in braces.
func ParseSetElements(source string, s *ir.TableSet, texts []string) (ir.Set, ir.Diagnostics) {
	text := "{ " + strings.Join(texts, ", ") + " }"
	v, ds := ParseValue(source, text)
	if ds.HasErrors() {
		return nil, ds
	}
	b := &builder{seen: map[string]bool{}, defines: map[string]*define{}, enabled: map[string]bool{},
		files: map[string][]elem{}, sizes: map[*Value]int{}}
	target := &ir.TableSet{Name: s.Name, Kind: s.Kind}
	if !b.setElements(target, v) {
		return nil, b.ds
	}
	return target.Elements, b.ds
}
