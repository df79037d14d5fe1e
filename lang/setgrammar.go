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
// here, token by token, into one slice of elements; anything else (a
// nested set, a file(), a stray comma, the end of the input) goes back to
// the start of the set and through setGrammar, so that the tree and every
// error are the grammar's own.
func (s *SetLit) Parse(lex *lexer.PeekingLexer) error {
	if tok := lex.Peek(); tok.Type != punctToken || tok.Value != "{" {
		return participle.NextMatch
	}
	start := lex.MakeCheckpoint()
	if s.fast(lex) {
		return nil
	}
	lex.LoadCheckpoint(start)
	*s = SetLit{}
	g, err := setLitParser().ParseFromLexer(lex, participle.AllowTrailing(true))
	if err != nil {
		return err
	}
	if len(g.Elems) > 0 {
		s.Elems = make([]SetElem, len(g.Elems))
	}
	for i, v := range g.Elems {
		s.Elems[i] = SetElem{value: v}
	}
	return nil
}

// fast reads a set of plain elements, or reports false at the first token
// it leaves to the grammar.
func (s *SetLit) fast(lex *lexer.PeekingLexer) bool {
	lex.Next() // "{"
	s.plainElems(lex)
	if tok := lex.Peek(); tok.Type != punctToken || tok.Value != "}" {
		return false
	}
	lex.Next()
	return true
}

// plainElems reads words, variables and strings, with commas and line ends
// between them, up to the first other token; it adds none when there are
// none, as the grammar leaves an empty set's elements nil.
func (s *SetLit) plainElems(lex *lexer.PeekingLexer) {
	skipEOL(lex)
	if n := countPlain(lex); n > 0 {
		s.Elems = make([]SetElem, 0, n) // one allocation for all
	}
	for {
		tok := lex.Peek()
		if !isPlainElem(tok) {
			return
		}
		lex.Next()
		s.add(tok)
		skipEOL(lex)
		if tok := lex.Peek(); tok.Type == punctToken && tok.Value == "," {
			lex.Next()
			skipEOL(lex)
		}
	}
}

// isPlainElem reports whether tok is a whole element of a set: a word but
// file (which starts file("PATH")), a variable or a string.
func isPlainElem(tok *lexer.Token) bool {
	return tok.Type == wordToken && tok.Value != "file" || tok.Type == varToken || tok.Type == stringToken
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
