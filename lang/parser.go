package lang

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/ksc-project/ksc/ir"
)

// tokenRules are the token specification: what each token is, in the
// order the rules are tried. Words are generous (they include '.', ':',
// '/', '-', '*', '@' and '[]') so that addresses, prefixes, ranges and option names
// are single tokens; Build gives them meaning by context. The parser runs
// on policyLexer (lexer.go), which reads the same tokens by hand, about
// four times as fast; tests hold it to participle's regular-expression
// lexer of these rules, token for token and error for error (compiling
// that lexer at start-up would cost 0.15 ms for nothing).
var tokenRules = []lexer.SimpleRule{
	{Name: "Comment", Pattern: `#[^\n]*`},
	{Name: "String", Pattern: `"[^"\n]*"`},
	{Name: "Var", Pattern: `\$[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "EOL", Pattern: `\r?\n`},
	// A backslash at the end of a line continues it, as in nft.
	{Name: "Whitespace", Pattern: `(?:[ \t\r]|\\\r?\n)+`},
	{Name: "Op", Pattern: `!=|==|<<|>>|<=|>=|<|>`},
	{Name: "Punct", Pattern: `[{}=,;()&]`},
	{Name: "Word", Pattern: `[A-Za-z0-9_.:/*+|@\[\]\-]+`},
}

var options = []participle.Option{
	participle.Lexer(policyLexer),
	participle.Elide("Comment", "Whitespace"),
	participle.UseLookahead(2),
}

// The grammars take about a millisecond to build from their struct tags:
// they are built on first use.
var (
	fileParser  = sync.OnceValue(func() *participle.Parser[File] { return participle.MustBuild[File](options...) })
	valueParser = sync.OnceValue(func() *participle.Parser[Value] { return participle.MustBuild[Value](options...) })
)

// Grammar returns the policy grammar in EBNF, as participle derives it,
// with the productions of its Parseable nodes, which participle cannot
// print: Rule and Term (term.go) and SetLit (setgrammar.go), read token by
// token because they are most of a policy's tokens.
func Grammar() string {
	g := fileParser().String()
	if i := strings.Index(g, "\nOption = "); i >= 0 {
		end := i + 1 + strings.IndexByte(g[i+1:], '\n')
		g = g[:end+1] + ruleProduction + "\n" + termProduction + "\n" + g[end+1:]
	}
	return strings.Replace(g, "SetLit) .\n", "SetLit) .\n"+setProduction+"\n", 1)
}

// The productions of Rule and Term, which Rule.Parse and Term.Parse
// implement by hand (participle prints none for them).
const (
	ruleProduction = `Rule = Term+ .`
	termProduction = `Term = "!=" | "==" | "<" | ">" | "<=" | ">=" | "<<" | ">>" | "&" | "(" | ")" | "," | Value .`
)

// Parse parses a policy with the grammar. filename is used in positions
// only.
func Parse(filename string, src []byte) (*File, ir.Diagnostics) {
	if d, bad := checkText(filename, src); bad {
		return nil, ir.Diagnostics{d}
	}
	f, err := fileParser().ParseBytes(filename, src)
	if err != nil {
		return nil, ir.Diagnostics{syntaxDiagnostic(err, src)}
	}
	ends{src}.file(f)
	return f, nil
}

// ParseValue parses a value given on the command line (-D NAME=VALUE), in the
// same syntax as the right-hand side of a define. source names it in positions.
func ParseValue(source, text string) (*Value, ir.Diagnostics) {
	if d, bad := checkText(source, []byte(text)); bad {
		return nil, ir.Diagnostics{d}
	}
	if strings.ContainsAny(text, "\n\r") {
		return nil, ir.Diagnostics{{Pos: ir.Pos{File: source}, Message: "a -D value must be on one line"}}
	}
	v, err := valueParser().ParseString(source, text)
	if err != nil {
		return nil, ir.Diagnostics{syntaxDiagnostic(err, []byte(text))}
	}
	ends{[]byte(text)}.value(v)
	return v, nil
}

// checkText refuses input that is not UTF-8 or holds NUL bytes before the
// lexer sees it, so that no later message has to print such bytes.
func checkText(filename string, src []byte) (ir.Diagnostic, bool) {
	line, col := 1, 1
	for off := 0; off < len(src); {
		r, size := utf8.DecodeRune(src[off:])
		if r == utf8.RuneError && size == 1 || r == 0 {
			what := "invalid UTF-8"
			if r == 0 {
				what = "a NUL byte"
			}
			return ir.Diagnostic{Pos: ir.Pos{File: filename, Offset: off, Line: line, Col: col},
				Message: "policy text has " + what}, true
		}
		if r == '\n' {
			line, col = line+1, 0
		}
		off += size
		col++
	}
	return ir.Diagnostic{}, false
}

func syntaxDiagnostic(err error, src []byte) ir.Diagnostic {
	var perr participle.Error
	if !errors.As(err, &perr) {
		return ir.Diagnostic{Message: err.Error()}
	}
	pos := convertPos(perr.Position())
	d := ir.Diagnostic{Pos: pos, End: pos, Message: perr.Message()}
	var unexpected *participle.UnexpectedTokenError
	if errors.As(err, &unexpected) {
		tok := unexpected.Unexpected
		d.End.Col += utf8.RuneCountInString(tok.Value)
		switch {
		case tok.EOF():
			d.Message = "unexpected end of file"
			d.Hint = "a '{' is not closed"
		case tok.Value == "\n" || tok.Value == "\r\n":
			d.Message = "unexpected end of line"
			d.End.Col = d.Pos.Col + 1
		default:
			d.Message = fmt.Sprintf("unexpected %q", tok.Value)
			if tok.Type == policyLexer.Symbols()["Word"] {
				d.Hint = ruleHint
			}
		}
		if unexpected.Expect != "" {
			d.Message += " (expected " + unexpected.Expect + ")"
		}
		return d
	}
	if strings.Contains(d.Message, "invalid input text") && pos.Offset < len(src) {
		switch src[pos.Offset] {
		case '"':
			d.Message = "unterminated string"
			d.Hint = "strings end with '\"' on the same line"
		case '$':
			d.Message = "'$' must be followed by a name"
		default:
			r, _ := utf8.DecodeRune(src[pos.Offset:])
			d.Message = fmt.Sprintf("unexpected character %q", r)
		}
	}
	return d
}

func convertPos(p lexer.Position) ir.Pos {
	return ir.Pos{File: p.Filename, Offset: p.Offset, Line: p.Line, Col: p.Column}
}

func endPos(start, end lexer.Position) (ir.Pos, ir.Pos) {
	return convertPos(start), convertPos(end)
}
