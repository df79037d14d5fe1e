package lang

import (
	"bytes"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// The lexer drops whitespace: participle would keep each run of it as a
// token (64 bytes apiece, about a third of a policy's tokens) only to
// skip it. Participle ends a node where the next token it holds starts,
// which is now past any whitespace after the node; trimEnds moves every
// end of a parsed tree back over that whitespace, to just after the
// node's own text, where it was.

// ends trims positions against the text they point into.
type ends struct{ src []byte }

// trim moves p back over the blanks just before it: spaces, and line
// ends that a backslash continues (never another line end).
func (e ends) trim(p *lexer.Position) {
	for p.Offset > 0 && p.Offset <= len(e.src) {
		switch before := e.src[:p.Offset]; {
		case isBlank(before[len(before)-1]):
			p.Offset--
			p.Column--
		case bytes.HasSuffix(before, []byte("\\\n")), bytes.HasSuffix(before, []byte("\\\r\n")):
			p.Offset = bytes.LastIndexByte(before, '\\')
			p.Line--
			p.Column = utf8.RuneCount(e.src[bytes.LastIndexByte(e.src[:p.Offset], '\n')+1:p.Offset]) + 1
		default:
			return
		}
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func (e ends) file(f *File) {
	for _, it := range f.Items {
		switch {
		case it.Define != nil:
			e.trim(&it.Define.EndPos)
			e.value(it.Define.Value)
		case it.Flush != nil:
			e.trim(&it.Flush.EndPos)
		case it.Table != nil:
			e.table(it.Table)
		case it.IPv6 != nil:
			e.trim(&it.IPv6.EndPos)
			for _, v := range it.IPv6.Args {
				e.value(v)
			}
		case it.Routing != nil:
			e.trim(&it.Routing.EndPos)
			e.value(it.Routing.Table)
			for _, l := range it.Routing.Lines {
				e.trim(&l.EndPos)
				for _, v := range l.Words {
					e.value(v)
				}
			}
		}
	}
}

func (e ends) table(t *Table) {
	e.trim(&t.EndPos)
	for _, it := range t.Items {
		switch {
		case it.Set != nil:
			for _, a := range it.Set.Attrs {
				e.trim(&a.EndPos)
				e.value(a.Elements)
			}
		case it.Optional != nil:
			e.trim(&it.Optional.EndPos)
			for _, c := range it.Optional.Chains {
				e.chain(c)
			}
		case it.Chain != nil:
			e.chain(it.Chain)
		case it.Flowtable != nil:
			// No end a diagnostic underlines.
		default:
			panic("lang: a table item ends does not know")
		}
	}
}

func (e ends) chain(c *Chain) {
	e.trim(&c.EndPos)
	for _, a := range c.Attrs {
		e.trim(&a.EndPos)
	}
	for _, ci := range c.Items {
		if ci.Rule != nil {
			e.rule(ci.Rule)
			continue
		}
		e.trim(&ci.Option.EndPos)
		for _, r := range ci.Option.Rules {
			e.rule(r)
		}
		if ci.Option.Else != nil {
			for _, r := range ci.Option.Else.Rules {
				e.rule(r)
			}
		}
	}
}

func (e ends) rule(r *Rule) {
	e.trim(&r.EndPos)
	for _, t := range r.Terms {
		e.trim(&t.EndPos)
		e.value(t.Value)
	}
}

func (e ends) value(v *Value) {
	if v == nil {
		return
	}
	e.trim(&v.EndPos)
	if v.Set != nil {
		for _, el := range v.Set.Elems {
			e.value(el.value) // a scalar ends where its text does
		}
	}
}
