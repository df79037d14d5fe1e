package lang

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// policyLexer reads tokenRules' tokens with a switch on the first byte
// instead of trying regular expressions in turn: lexing was a third of
// parsing. It gives the same token types, values, positions and errors
// (TestLexersAgree, FuzzLexersAgree), but for whitespace, which it drops
// (ends.go); a new token is a rule there and a case here.
var policyLexer = newHandLexer(symbolsOf(tokenRules))

// symbolsOf numbers the token types as participle's lexers do: EOF is -1,
// and each rule the next number down.
func symbolsOf(rules []lexer.SimpleRule) map[string]lexer.TokenType {
	symbols := map[string]lexer.TokenType{"EOF": lexer.EOF}
	for i, r := range rules {
		symbols[r.Name] = lexer.EOF - 1 - lexer.TokenType(i)
	}
	return symbols
}

type handLexer struct {
	symbols map[string]lexer.TokenType
	// The token types, by tokenRules' names.
	comment, str, variable, eol, space, op, punct, word lexer.TokenType
}

func newHandLexer(symbols map[string]lexer.TokenType) *handLexer {
	return &handLexer{symbols: symbols,
		comment: symbols["Comment"], str: symbols["String"], variable: symbols["Var"], eol: symbols["EOL"],
		space: symbols["Whitespace"], op: symbols["Op"], punct: symbols["Punct"], word: symbols["Word"]}
}

func (d *handLexer) Symbols() map[string]lexer.TokenType { return d.symbols }

func (d *handLexer) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString(filename, string(b))
}

func (d *handLexer) LexBytes(filename string, b []byte) (lexer.Lexer, error) {
	return d.LexString(filename, string(b))
}

func (d *handLexer) LexString(filename string, s string) (lexer.Lexer, error) {
	return &handScanner{def: d, data: s, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}, nil
}

type handScanner struct {
	def  *handLexer
	data string
	pos  lexer.Position
}

func (s *handScanner) Next() (lexer.Token, error) {
	if len(s.data) == 0 {
		return lexer.EOFToken(s.pos), nil
	}
	n, typ := s.def.match(s.data)
	if n == 0 {
		sample := []rune(s.data)
		if len(sample) > 16 {
			sample = append(sample[:16], []rune("...")...)
		}
		return lexer.Token{}, &lexer.Error{Msg: fmt.Sprintf("lexer: invalid input text %q", string(sample)), Pos: s.pos}
	}
	span := s.data[:n]
	s.data = s.data[n:]
	pos := s.pos
	s.pos.Advance(span)
	if typ == s.def.space {
		return s.Next() // never two in a row
	}
	return lexer.Token{Type: typ, Value: span, Pos: pos}, nil
}

// match is the length and type of the token d starts with, by the first
// of tokenRules that matches; 0 when none does.
func (d *handLexer) match(s string) (int, lexer.TokenType) {
	switch c := s[0]; {
	case c == '#':
		if n := strings.IndexByte(s, '\n'); n >= 0 {
			return n, d.comment
		}
		return len(s), d.comment
	case c == '"':
		for i := 1; i < len(s) && s[i] != '\n'; i++ {
			if s[i] == '"' {
				return i + 1, d.str
			}
		}
	case c == '$':
		if len(s) > 1 && (isLetter(s[1]) || s[1] == '_') {
			i := 2
			for i < len(s) && (isLetter(s[i]) || isDigit(s[i]) || s[i] == '_') {
				i++
			}
			return i, d.variable
		}
	case c == '\n':
		return 1, d.eol
	case c == '\r' && len(s) > 1 && s[1] == '\n':
		return 2, d.eol
	case c == ' ' || c == '\t' || c == '\r' || continuation(s) > 0:
		i := 0
		for i < len(s) {
			switch {
			case s[i] == ' ' || s[i] == '\t' || s[i] == '\r':
				i++
			case continuation(s[i:]) > 0:
				i += continuation(s[i:])
			default:
				return i, d.space
			}
		}
		return i, d.space
	case (c == '!' || c == '=' || c == '<' || c == '>') && len(s) > 1 && s[1] == '=',
		(c == '<' || c == '>') && len(s) > 1 && s[1] == c:
		return 2, d.op
	case c == '<' || c == '>':
		return 1, d.op
	case strings.IndexByte("{}=,;()&", c) >= 0:
		return 1, d.punct
	case isWordByte(c):
		i := 1
		for i < len(s) && isWordByte(s[i]) {
			i++
		}
		return i, d.word
	}
	return 0, 0
}

// continuation is the length of a backslash that ends a line, with the
// line's end ("\\\n", "\\\r\n"), which continues it; 0 when s does not
// start with one.
func continuation(s string) int {
	switch {
	case strings.HasPrefix(s, "\\\n"):
		return 2
	case strings.HasPrefix(s, "\\\r\n"):
		return 3
	}
	return 0
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// isWordByte is [A-Za-z0-9_.:/*+|@[\]-], looked up in a table: the
// lexer and the seam scan ask it of nearly every byte of a large set.
func isWordByte(c byte) bool { return wordBytes[c] }

var wordBytes = func() (t [256]bool) {
	for c := range t {
		b := byte(c)
		t[c] = isLetter(b) || isDigit(b) || strings.IndexByte("_.:/*+|@[]-", b) >= 0
	}
	return t
}()
