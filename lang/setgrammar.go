package lang

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

var eolToken = policyLexer.Symbols()["EOL"]

// setProduction is SetLit's production, which SetLit.Parse implements.
const setProduction = `SetLit = "{" <eol>* (Value <eol>* ("," <eol>*)?)* "}" .`

// Parse reads a set (participle.Parseable), as setProduction says: its
// plain elements (words, variables and strings, which is what a
// 100,000-address set is made of) token by token into one slice, and any
// other (a nested set, a file()) through Value's grammar.
func (s *SetLit) Parse(lex *lexer.PeekingLexer) error {
	if tok := lex.Peek(); tok.Type != punctToken || tok.Value != "{" {
		return participle.NextMatch
	}
	lex.Next()
	skipEOL(lex)
	if n := countPlain(lex); n > 0 {
		s.Elems = make([]SetElem, 0, n) // one allocation for all
	}
	for {
		tok := lex.Peek()
		switch {
		case isPlainElem(tok):
			lex.Next()
			s.add(tok)
		case tok.Type == punctToken && tok.Value == "{" || tok.Type == wordToken:
			v, err := valueParser().ParseFromLexer(lex, participle.AllowTrailing(true))
			if err != nil {
				return err
			}
			s.Elems = append(s.Elems, SetElem{value: v})
		case tok.Type == punctToken && tok.Value == "}":
			lex.Next()
			return nil
		default:
			return &participle.UnexpectedTokenError{Unexpected: *tok, Expect: `"}"`}
		}
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
