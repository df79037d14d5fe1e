package lang

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// A named set of anything but addresses of one family ("set ports { type
// inet_service; elements = { 22, 443 } }"), a set of a concatenation
// ("type ipv4_addr . inet_service") and every map ("map m { type
// inet_proto : verdict; ... }") are constants of the policy: a rule that
// looks one up gets its elements as if they were written in the rule,
// which then reads and checks them as it would there (one rule a key, for
// maps and concatenations). They are not declared in the kernel, so
// nothing outside ksc changes them at runtime; sets of addresses are, for
// that (a VPN client's hook, fail2ban), and are ir.TableSets.
type constSet struct {
	pos, end ir.Pos
	name     string
	isMap    bool
	keys     []keyType // one for each value of a key
	// data is what a map maps to: "verdict", or for a nat map
	// "ipv4_addr" or "ipv6_addr".
	data     string
	elements *Value
}

// mapData are the types a map may map to, and what looks each up.
var mapData = map[string]string{"verdict": "vmap", "ipv4_addr": "snat or dnat", "ipv6_addr": "snat or dnat"}

// keyType is one part of a set's key type: nft's type name ("ifname"),
// or the selector "typeof" names.
type keyType struct {
	kind    ir.Kind
	byIndex bool // iif and oif's iface_index, not ifname
	name    string
}

func (k keyType) accepts(f ir.Field) bool {
	return f.Spec().Kind == k.kind && f.Spec().ByIndex == k.byIndex
}

func (s *constSet) what() string {
	if s.isMap {
		return "map " + s.name
	}
	return "set " + s.name
}

func (s *constSet) typeText() string {
	var names []string
	for _, k := range s.keys {
		names = append(names, k.name)
	}
	return strings.Join(names, " . ")
}

// keyTypes reads the words of "type A . B [: verdict]" or "typeof SEL .
// SEL [: verdict]": the key's parts, and the data type after ':' ("" for
// a set).
func (b *builder) keyTypes(attr *SetAttr, pos, end ir.Pos) ([]keyType, string, bool) {
	words := attr.Values
	data := ""
	if i := slices.Index(words, ":"); i >= 0 {
		if i+2 != len(words) {
			b.errorf(pos, end, "a map's type is KEY : verdict").Hint = "e.g. map ports { type inet_service : verdict; elements = { 22 : accept } }"
			return nil, "", false
		}
		words, data = words[:i], words[i+1]
	}
	var keys []keyType
	for part := range splitWords(words, ".") {
		if len(part) == 0 {
			b.errorf(pos, end, "%s needs a type for each part, joined by ' . '", attr.Key).Hint = setHint
			return nil, "", false
		}
		k, ok := b.keyType(attr.Key, part, pos, end)
		if !ok {
			return nil, "", false
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		b.errorf(pos, end, "%s needs a value", attr.Key).Hint = setHint
		return nil, "", false
	}
	return keys, data, true
}

// keyType reads one part: a type name for "type", a selector for "typeof".
func (b *builder) keyType(key string, words []string, pos, end ir.Pos) (keyType, bool) {
	if key == "typeof" {
		terms := make([]*Term, len(words))
		for i, w := range words {
			terms[i] = &Term{Value: &Value{Word: &w}}
		}
		sel, n := selectorAt(terms)
		if sel == nil || n != len(words) {
			b.errorf(pos, end, "typeof %s: ksc knows no such selector", strings.Join(words, " ")).Hint = "e.g. typeof ip saddr . tcp dport"
			return keyType{}, false
		}
		spec := sel.Field.Spec()
		return keyType{kind: spec.Kind, byIndex: spec.ByIndex, name: sel.Words}, true
	}
	if len(words) == 1 {
		if words[0] == "iface_index" {
			return keyType{kind: ir.KindInterface, byIndex: true, name: words[0]}, true
		}
		for _, k := range ir.AllKinds() {
			if k.Spec().TypeName != "" && k.Spec().TypeName == words[0] {
				return keyType{kind: k, name: words[0]}, true
			}
		}
	}
	var names []string
	for _, k := range ir.AllKinds() {
		if k.Spec().TypeName != "" {
			names = append(names, k.Spec().TypeName)
		}
	}
	b.errorf(pos, end, "ksc knows no set type %q", strings.Join(words, " ")).Hint =
		"use one of " + strings.Join(names, ", ") + ", iface_index, or typeof SELECTOR"
	return keyType{}, false
}

// splitWords yields the runs of words between each sep.
func splitWords(words []string, sep string) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		start := 0
		for i, w := range words {
			if w == sep {
				if !yield(words[start:i]) {
					return
				}
				start = i + 1
			}
		}
		yield(words[start:])
	}
}

// constDecl builds a constant set or map from its declaration, whose key
// types are already read.
func (b *builder) constDecl(d *SetDecl, keys []keyType, data string) *constSet {
	pos, end := endPos(d.Pos, d.Pos)
	out := &constSet{pos: pos, end: end, name: d.Name, isMap: d.Map, keys: keys, data: data}
	ok := true
	if _, known := mapData[data]; d.Map && !known {
		b.errorf(pos, end, "map %s maps to %q; ksc reads maps of verdicts (vmap) and of addresses (snat, dnat)", d.Name, data).Hint =
			"write type KEY : verdict, type KEY : ipv4_addr, or one rule a key"
		ok = false
	}
	if !d.Map && data != "" {
		b.errorf(pos, end, "set %s has a map's type: declare it with map", d.Name).Hint = "map " + d.Name + " { type ... : verdict; elements = { ... } }"
		ok = false
	}
	for _, a := range d.Attrs {
		apos, aend := endPos(a.Pos, a.EndPos)
		switch a.Key {
		case "type", "typeof", "auto-merge", "policy", "comment":
		case "elements":
			out.elements = a.Elements
		case "flags":
			for _, f := range a.Values {
				if f != "interval" && f != "constant" {
					b.errorf(apos, aend, "%s of %s has flag %q: ksc holds it as a constant of the policy", out.what(), out.typeText(), f).Hint =
						"flags interval or constant; dynamic sets hold addresses: type ipv4_addr or ipv6_addr"
					ok = false
				}
			}
		default:
			b.errorf(apos, aend, "%s of %s: %s is for dynamic sets, which hold addresses", out.what(), out.typeText(), a.Key).Hint = setHint
			ok = false
		}
	}
	if out.elements == nil && ok {
		b.errorf(pos, end, "%s of %s has no elements: ksc holds it as a constant of the policy", out.what(), out.typeText()).Hint =
			"write its elements = { ... }; sets that other programs fill at runtime hold addresses"
		ok = false
	}
	if !ok {
		return nil
	}
	return out
}

// constLookup finds the constant set or map "@NAME" names, for the
// selectors sels: nil, after an error, if there is none or it holds
// other values.
func (rb *ruleBuilder) constLookup(t *Term, sels []*ir.Selector, isMap bool, data string) *constSet {
	at, to := t.span()
	name := strings.TrimPrefix(t.word(), "@")
	s := rb.consts[name]
	var words []string
	for _, sel := range sels {
		words = append(words, sel.Words)
	}
	what := strings.Join(words, " . ")
	switch {
	case s == nil && rb.sets[name] != nil:
		rb.errorf(at, to, "set %s holds %s, and %s needs a set of its own type", name, rb.sets[name].TypeName(), what)
		return nil
	case s == nil && rb.refusedSets[name]:
		return nil
	case s == nil:
		d := rb.errorf(at, to, "this table declares no %s %s", map[bool]string{true: "map", false: "set"}[isMap], name)
		d.Hint = "declare it before the chains that use it"
		if best, near := closest(name, rb.constNames()); near {
			d.Hint = "did you mean @" + best + "?"
		}
		return nil
	case s.isMap != isMap && isMap:
		rb.errorf(at, to, "vmap needs a map, and %s is a set", name).Hint = "declare it as map " + name + " { type ... : verdict; ... }"
		return nil
	case s.isMap != isMap:
		rb.errorf(at, to, "%s is a map: look it up with %s", name, mapData[s.data]).Hint = what + " vmap @" + name
		return nil
	case isMap && s.data != data && (data == "verdict" || s.data == "verdict"):
		hint := "dnat to " + what + " map @" + name
		if s.data == "verdict" {
			hint = what + " vmap @" + name
		}
		rb.errorf(at, to, "map %s maps to %s: look it up with %s", name, s.data, mapData[s.data]).Hint = hint
		return nil
	}
	fits := len(s.keys) == len(sels)
	for j := range sels {
		fits = fits && s.keys[j].accepts(sels[j].Field)
	}
	if !fits {
		rb.errorf(at, to, "%s holds keys of type %s, which %s cannot look up", s.what(), s.typeText(), what).Hint =
			fmt.Sprintf("declare it with typeof %s", what)
		return nil
	}
	return s
}

func (rb *ruleBuilder) constNames() []string {
	var out []string
	for name := range rb.consts {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// looksUpConst reports whether "@NAME" is a constant set, rather than a
// set of addresses declared in the kernel, for a match of kind.
func (rb *ruleBuilder) looksUpConst(ref *Term, kind ir.Kind) bool {
	name := strings.TrimPrefix(ref.word(), "@")
	if !slices.Contains(ir.SetKinds(), kind) {
		return true
	}
	return rb.sets[name] == nil && rb.consts[name] != nil
}

// constBody is the elements of the set or map "@NAME" for sels, as the
// set literal they are written as (through defines): what a concatenation
// or verdict map reads as if written in the rule. Nil after an error.
func (rb *ruleBuilder) constBody(ref *Term, sels []*ir.Selector, isMap bool, data string) *Value {
	c := rb.constLookup(ref, sels, isMap, data)
	if c == nil {
		return nil
	}
	v := c.elements
	for v.Var != nil {
		d := rb.defines[strings.TrimPrefix(*v.Var, "$")]
		if d == nil || d.value == nil || d.resolving {
			break
		}
		d.used = true
		v = d.value
	}
	if v.Set == nil {
		pos, end := endPos(c.elements.Pos, c.elements.EndPos)
		rb.errorf(pos, end, "the elements of %s must be written in braces", c.what()).Hint = "elements = { ... }"
		return nil
	}
	return v
}
