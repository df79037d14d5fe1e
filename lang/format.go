package lang

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/ksc-project/ksc/ir"
)

// Format rewrites a policy in ksc's one canonical layout: tabs for each
// block level, one statement a line, single spaces between words, sets as
// "{ a, b }", at most one blank line, comments kept where they were. It is
// idempotent, and the formatted policy compiles to the same rules.
func Format(filename string, src []byte) ([]byte, ir.Diagnostics) {
	f, ds := Parse(filename, src)
	if ds.HasErrors() {
		return nil, ds
	}
	setBraces := map[int]bool{} // byte offsets of the braces of set values
	collectSets(f, setBraces)
	lx, err := policyLexer.LexString(filename, string(src))
	if err != nil {
		return nil, ir.Diagnostics{{Message: err.Error()}}
	}
	tokens, err := lexer.ConsumeAll(lx)
	if err != nil {
		return nil, ir.Diagnostics{{Message: err.Error()}}
	}
	return format(tokens, setBraces), nil
}

func collectSets(f *File, sets map[int]bool) {
	var value func(v *Value)
	value = func(v *Value) {
		if v == nil || v.Set == nil {
			return
		}
		sets[v.Pos.Offset] = true
		sets[v.EndPos.Offset-1] = true
		for _, e := range v.Set.Elems {
			value(e.value)
		}
	}
	rules := func(rs []*Rule) {
		for _, r := range rs {
			for _, t := range r.Terms {
				value(t.Value)
			}
		}
	}
	for _, it := range f.Items {
		switch {
		case it.Define != nil:
			value(it.Define.Value)
		case it.IPv6 != nil:
			for _, v := range it.IPv6.Args {
				value(v)
			}
		case it.Table != nil:
			for _, ti := range it.Table.Items {
				if ti.Set != nil {
					for _, a := range ti.Set.Attrs {
						value(a.Elements)
					}
				}
			}
			for _, c := range it.Table.Chains() {
				for _, ci := range c.Items {
					if ci.Rule != nil {
						rules([]*Rule{ci.Rule})
						continue
					}
					rules(ci.Option.Rules)
					if ci.Option.Else != nil {
						rules(ci.Option.Else.Rules)
					}
				}
			}
		}
	}
}

// formatter builds the output a line at a time.
type formatter struct {
	out      strings.Builder
	line     []string // the words of the line being built
	lineSets int      // the set depth where the line began
	depth    int      // block depth
	sets     int      // set depth: inside braces of a value
	blanks   int      // blank source lines since the last line written
	content  bool     // the current source line has a token
	written  bool     // a line has been written
	opened   bool     // the last line written opened a block
}

// tightComma is a comma outside a set ("ct state related,established"):
// written with no space after it.
const tightComma = ",\x00"

func (f *formatter) word(w string) {
	if len(f.line) == 0 {
		f.lineSets = f.sets
	}
	f.line = append(f.line, w)
	f.content = true
}

func format(tokens []lexer.Token, setBraces map[int]bool) []byte {
	f := &formatter{}
	eol := policyLexer.Symbols()["EOL"]
	ws := policyLexer.Symbols()["Whitespace"]
	comment := policyLexer.Symbols()["Comment"]
	for i, t := range tokens {
		switch {
		case t.EOF() || t.Type == ws:
		case t.Type == eol:
			if !f.content {
				f.blanks++
			}
			f.content = false
			f.endLine()
		case t.Value == ";" && f.sets == 0:
			f.content = true
			f.endLine()
		case t.Type == comment:
			f.word(strings.TrimRight(t.Value, " \t\r"))
			f.endLine()
		case t.Value == "{" && !setBraces[t.Pos.Offset]:
			f.word("{")
			f.endLine()
			f.depth++
			f.opened = true
		case t.Value == "}" && !setBraces[t.Pos.Offset]:
			f.endLine()
			f.depth--
			f.blanks = 0
			f.word("}")
			if next := nextSignificant(tokens[i+1:], ws); next != "else" {
				f.endLine()
			}
		case t.Value == "{":
			f.word("{")
			f.sets++
		case t.Value == "}":
			f.sets--
			f.word("}")
		case t.Value == "," && f.sets == 0:
			f.word(tightComma)
		case gluedToPrevious(tokens, i) && len(f.line) > 0:
			// "$HOST:$PORT" is one value, as nft reads it: a space
			// would make it two.
			f.line[len(f.line)-1] += t.Value
		default:
			f.word(t.Value)
		}
	}
	f.endLine()
	return []byte(f.out.String())
}

// gluedToPrevious reports a word or $NAME written right after another,
// without space between them.
func gluedToPrevious(tokens []lexer.Token, i int) bool {
	if i == 0 {
		return false
	}
	prev, t := tokens[i-1], tokens[i]
	isValue := func(tok lexer.Token) bool { return tok.Type == wordToken || tok.Type == varToken }
	return isValue(prev) && isValue(t) && prev.Pos.Offset+len(prev.Value) == t.Pos.Offset
}

func nextSignificant(tokens []lexer.Token, ws lexer.TokenType) string {
	for _, t := range tokens {
		if t.Type != ws {
			return t.Value
		}
	}
	return ""
}

// endLine writes the line being built, if any, after at most one blank
// line (none right after a block opens or before it closes).
func (f *formatter) endLine() {
	if len(f.line) == 0 {
		return
	}
	closes := f.line[0] == "}"
	if f.blanks > 0 && f.written && !f.opened && !closes {
		f.out.WriteByte('\n')
	}
	indent := f.depth
	if f.lineSets > 0 {
		indent++ // a set continued from the line before
	}
	f.out.WriteString(strings.Repeat("\t", indent))
	f.out.WriteString(joinWords(f.line))
	f.out.WriteByte('\n')
	f.line, f.blanks, f.written, f.opened = nil, 0, true, false
}

// joinWords puts single spaces between words, none before ',' and ')' and
// around '(' (as in file("list.txt")), but for the one after a mask's '&',
// as nft writes it: "tcp flags & (syn|ack) == syn".
func joinWords(words []string) string {
	var b strings.Builder
	for i, w := range words {
		tightParen := w == "(" && words[i-1] != "&"
		if i > 0 && w != "," && w != tightComma && w != ")" && !tightParen && words[i-1] != "(" && words[i-1] != tightComma {
			b.WriteByte(' ')
		}
		if w == tightComma {
			w = ","
		}
		b.WriteString(w)
	}
	return b.String()
}
