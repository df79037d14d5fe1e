package lang

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// add appends tok, a word, $NAME or string, as an element: a scalar if it
// can be one.
func (s *SetLit) add(tok *lexer.Token) {
	if tok.Type == varToken || !fitsScalar(tok.Pos) {
		v := &Value{Pos: tok.Pos, EndPos: tokenEnd(tok)}
		switch tok.Type {
		case varToken:
			v.Var = text(tok)
		case stringToken:
			v.String = text(tok)
		default:
			v.Word = text(tok)
		}
		s.Elems = append(s.Elems, SetElem{value: v})
		return
	}
	s.file = tok.Pos.Filename
	s.Elems = append(s.Elems, SetElem{text: tok.Value, quoted: tok.Type == stringToken,
		offset: int32(tok.Pos.Offset), line: int32(tok.Pos.Line), col: int32(tok.Pos.Column)})
}

// fitsScalar reports whether a scalar can hold p: sources are at most
// MaxSourceSize bytes, but Parse may be handed more.
func fitsScalar(p lexer.Position) bool {
	return p.Offset <= math.MaxInt32 && p.Line <= math.MaxInt32 && p.Column <= math.MaxInt32
}

// Value is element i as the grammar reads it.
func (s *SetLit) Value(i int) *Value {
	e := s.Elems[i]
	if e.value != nil {
		return e.value
	}
	text := e.text
	v := &Value{Pos: s.pos(e)}
	v.EndPos = v.Pos
	v.EndPos.Offset += len(text)
	v.EndPos.Column += utf8.RuneCountInString(text)
	if e.quoted {
		v.String = &text
	} else {
		v.Word = &text
	}
	return v
}

// Values are the elements as the grammar reads them.
func (s *SetLit) Values() []*Value {
	if len(s.Elems) == 0 {
		return nil // as the grammar leaves an empty set's
	}
	vs := make([]*Value, len(s.Elems))
	for i := range s.Elems {
		vs[i] = s.Value(i)
	}
	return vs
}

// pos is where scalar e starts.
func (s *SetLit) pos(e SetElem) lexer.Position {
	return lexer.Position{Filename: s.file, Offset: int(e.offset), Line: int(e.line), Column: int(e.col)}
}

// scalar is e's text, without the quotes of a string.
func (e SetElem) scalar() string {
	if e.quoted {
		return strings.Trim(e.text, `"`)
	}
	return e.text
}
