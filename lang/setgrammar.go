package lang

import (
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

var (
	eolToken = policyLexer.Symbols()["EOL"]
	// setLitParser is built on first use: only an unusual set needs it,
	// and building costs a short compile a quarter of a millisecond.
	setLitParser = sync.OnceValue(func() *participle.Parser[setGrammar] { return participle.MustBuild[setGrammar](options...) })
)

// setProduction is SetLit's production, as participle derives it from
// setGrammar.
func setProduction() string {
	first, _, _ := strings.Cut(setLitParser().String(), "\n")
	_, body, _ := strings.Cut(first, " = ")
	return "SetLit = " + body
}

// Parse reads a set (participle.Parseable). A set of plain words,
// variables and strings, which is what a 100,000-address set is, is read
// here, token by token, with 2 allocations an element instead of
// participle's 36; anything else (a nested set, a file(), a stray comma,
// the end of the input) goes back to the start of the set and through
// setGrammar, so that the tree and every error are the grammar's own.
func (s *SetLit) Parse(lex *lexer.PeekingLexer) error {
	if tok := lex.Peek(); tok.Type != punctToken || tok.Value != "{" {
		return participle.NextMatch
	}
	start := lex.MakeCheckpoint()
	if s.fast(lex) {
		return nil
	}
	lex.LoadCheckpoint(start)
	s.Elems = nil
	g, err := setLitParser().ParseFromLexer(lex, participle.AllowTrailing(true))
	if err != nil {
		return err
	}
	s.Elems = g.Elems
	return nil
}

// fast reads a set of plain elements, or reports false at the first token
// it leaves to the grammar.
func (s *SetLit) fast(lex *lexer.PeekingLexer) bool {
	lex.Next() // "{"
	elems := plainElems(lex)
	if tok := lex.Peek(); tok.Type != punctToken || tok.Value != "}" {
		return false
	}
	lex.Next()
	s.Elems = elems
	return true
}

// plainElems reads words, variables and strings, with commas and line ends
// between them, up to the first other token; nil when there are none, as
// the grammar leaves an empty set's elements.
func plainElems(lex *lexer.PeekingLexer) []*Value {
	skipEOL(lex)
	values := make([]Value, 0, countPlain(lex)) // one allocation for all
	for {
		tok := lex.Peek()
		var v Value
		switch {
		case tok.Type == wordToken && tok.Value != "file":
			v.Word = text(tok)
		case tok.Type == varToken:
			v.Var = text(tok)
		case tok.Type == stringToken:
			v.String = text(tok)
		default:
			if len(values) == 0 {
				return nil
			}
			elems := make([]*Value, len(values))
			for i := range values {
				elems[i] = &values[i]
			}
			return elems
		}
		lex.Next()
		v.Pos, v.EndPos = tok.Pos, tokenEnd(tok)
		values = append(values, v)
		skipEOL(lex)
		if tok := lex.Peek(); tok.Type == punctToken && tok.Value == "," {
			lex.Next()
			skipEOL(lex)
		}
	}
}

// countPlain counts the words, variables and strings ahead, up to the
// first other token but commas and line ends, without reading them.
func countPlain(lex *lexer.PeekingLexer) int {
	cp := lex.MakeCheckpoint()
	defer lex.LoadCheckpoint(cp)
	n := 0
	for tok := lex.Peek(); ; tok = lex.Peek() {
		switch {
		case tok.Type == wordToken || tok.Type == varToken || tok.Type == stringToken:
			n++
		case tok.Type == eolToken || tok.Type == punctToken && tok.Value == ",":
		default:
			return n
		}
		lex.Next()
	}
}

func skipEOL(lex *lexer.PeekingLexer) {
	for lex.Peek().Type == eolToken {
		lex.Next()
	}
}
