package lang

import (
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

var (
	wordToken   = policyLexer.Symbols()["Word"]
	varToken    = policyLexer.Symbols()["Var"]
	stringToken = policyLexer.Symbols()["String"]
	opToken     = policyLexer.Symbols()["Op"]
	punctToken  = policyLexer.Symbols()["Punct"]
)

// Parse reads one term (participle.Parseable): see termProduction.
func (t *Term) Parse(lex *lexer.PeekingLexer) error {
	tok := lex.Peek()
	t.Pos = tok.Pos
	switch {
	case tok.Type == opToken && tok.Value == "!=":
		t.Neq = true
	case tok.Type == opToken && tok.Value == "==":
		t.Eq = true
	case tok.Type == opToken:
		t.Cmp, t.OrEqual, t.Shift = tok.Value[0], tok.Value[1:] == "=", tok.Value[1:] == tok.Value[:1] // < > <= >= << >>
	case tok.Type == punctToken && tok.Value == "&":
		t.Amp = true
	case tok.Type == punctToken && (tok.Value == "(" || tok.Value == ")"):
		t.Paren = tok.Value
	case tok.Type == punctToken && tok.Value == ",":
		t.Comma = true
	case tok.Type == wordToken && !(tok.Value == "file" && nextIs(lex, "(")):
		t.Value = &Value{Word: text(tok)}
	case tok.Type == varToken:
		t.Value = &Value{Var: text(tok)}
	case tok.Type == stringToken:
		t.Value = &Value{String: text(tok)}
	case tok.Type == punctToken && tok.Value == "{" || tok.Type == wordToken:
		// A set or file("..."): Value's production.
		v, err := valueParser().ParseFromLexer(lex, participle.AllowTrailing(true))
		if err != nil {
			return err
		}
		t.Value, t.EndPos = v, v.EndPos
		return nil
	default:
		return participle.NextMatch
	}
	lex.Next()
	t.EndPos = tokenEnd(tok)
	if t.Value != nil {
		t.Value.Pos, t.Value.EndPos = t.Pos, t.EndPos
	}
	return nil
}

// text is the token's text, held apart from the token: a pointer into
// the lexer's token slice would keep all of it (every token of the file,
// whitespace too) alive as long as the syntax tree.
func text(tok *lexer.Token) *string {
	s := tok.Value
	return &s
}

// nextIs reports whether the token after the next one is value.
func nextIs(lex *lexer.PeekingLexer, value string) bool {
	cp := lex.MakeCheckpoint()
	defer lex.LoadCheckpoint(cp)
	lex.Next()
	return lex.Peek().Value == value
}

// tokenEnd is the position just after a token (tokens stay on one line).
func tokenEnd(tok *lexer.Token) lexer.Position {
	end := tok.Pos
	end.Offset += len(tok.Value)
	end.Column += utf8.RuneCountInString(tok.Value)
	return end
}

// Parse reads a rule's terms (participle.Parseable): see ruleProduction.
// Rules are most of a large policy, and participle's reflection costs
// more for each term than Term.Parse itself.
func (r *Rule) Parse(lex *lexer.PeekingLexer) error {
	r.Pos = lex.Peek().Pos
	for {
		t := &Term{}
		err := t.Parse(lex)
		if err == participle.NextMatch {
			break
		}
		if err != nil {
			return err
		}
		r.Terms = append(r.Terms, t)
	}
	if len(r.Terms) == 0 {
		return participle.NextMatch
	}
	r.EndPos = lex.RawPeek().Pos // as participle ends a node: where the next token starts (see ends.go)
	return nil
}
