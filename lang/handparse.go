package lang

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The file's statements are read by hand, as File's grammar reads them,
// with the hand parsers of rules and sets below them: building the grammar
// by reflection and parsing through it took 2 of the 6.5 ms "ksc compile"
// spends on the example. The tree is the grammar's, positions included
// (TestHandParseIsTheGrammar, FuzzHandParseIsTheGrammar). Any input the
// hand parser does not take, an error of any kind, goes to the grammar,
// so that errors stay participle's own; the grammar is built only then.

// errByHand stops the hand parser: the grammar reads the file instead.
var errByHand = participle.Errorf(lexer.Position{}, "not read by hand")

// parseByHand parses src as fileParser does, or reports false.
func parseByHand(filename string, src []byte) (*File, bool) {
	lex, err := lexer.Upgrade(&handScanner{def: policyLexer, data: string(src), pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}, policyLexer.comment)
	if err != nil {
		return nil, false
	}
	f, err := (&handParser{lex}).file()
	return f, err == nil
}

// valueByHand parses text as valueParser does, or reports false.
func valueByHand(source, text string) (*Value, bool) {
	lex, err := lexer.Upgrade(&handScanner{def: policyLexer, data: text, pos: lexer.Position{Filename: source, Line: 1, Column: 1}}, policyLexer.comment)
	if err != nil {
		return nil, false
	}
	v, err := (&handParser{lex}).value()
	return v, err == nil && lex.Peek().EOF()
}

// handParser reads the productions of ast.go from a lexer. Each method
// reads one, setting Pos to where its first token starts and EndPos to
// where the token after it starts, as participle does.
type handParser struct{ lex *lexer.PeekingLexer }

func (p *handParser) peek() *lexer.Token { return p.lex.Peek() }

func (p *handParser) isWord(value string) bool {
	tok := p.peek()
	return tok.Type == wordToken && tok.Value == value
}

func (p *handParser) isPunct(value string) bool {
	tok := p.peek()
	return tok.Type == punctToken && tok.Value == value
}

// expect reads the punctuation or keyword value.
func (p *handParser) expect(typ lexer.TokenType, value string) error {
	if tok := p.peek(); tok.Type != typ || tok.Value != value {
		return errByHand
	}
	p.lex.Next()
	return nil
}

// word reads a word, as @Word captures it.
func (p *handParser) word() (string, error) {
	tok := p.peek()
	if tok.Type != wordToken {
		return "", errByHand
	}
	p.lex.Next()
	return tok.Value, nil
}

// keywordAndWord reads a statement's keyword and the word after it (its
// name, or a table's first word): where the statement starts, and the word.
func (p *handParser) keywordAndWord() (lexer.Position, string, error) {
	pos := p.peek().Pos
	p.lex.Next()
	w, err := p.word()
	return pos, w, err
}

// separators reads (EOL | ";")*.
func (p *handParser) separators() {
	for tok := p.peek(); tok.Type == eolToken || tok.Type == punctToken && tok.Value == ";"; tok = p.peek() {
		p.lex.Next()
	}
}

// block reads "{" (EOL | ";")* ( item (EOL | ";")* )* "}".
func (p *handParser) block(item func() error) error {
	if err := p.expect(punctToken, "{"); err != nil {
		return err
	}
	p.separators()
	for !p.isPunct("}") {
		if err := item(); err != nil {
			return err
		}
		p.separators()
	}
	p.lex.Next()
	return nil
}

func (p *handParser) file() (*File, error) {
	f := &File{Pos: p.peek().Pos}
	p.separators()
	for !p.peek().EOF() {
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		f.Items = append(f.Items, it)
		p.separators()
	}
	return f, nil
}

func (p *handParser) item() (*Item, error) {
	var it Item
	var err error
	switch {
	case p.isWord("define"):
		it.Define, err = p.define()
	case p.isWord("flush"):
		it.Flush = &Flush{}
		it.Flush.Pos, it.Flush.What, err = p.keywordAndWord()
	case p.isWord("table"):
		it.Table, err = p.table()
	case p.isWord("ipv6"):
		it.IPv6, err = p.ipv6()
	default:
		err = errByHand
	}
	return &it, err
}

func (p *handParser) define() (*Define, error) {
	d := &Define{}
	var err error
	if d.Pos, d.Name, err = p.keywordAndWord(); err != nil {
		return nil, err
	}
	if p.isPunct("=") {
		p.lex.Next()
		if d.Value, err = p.value(); err != nil {
			return nil, err
		}
	}
	d.EndPos = p.lex.RawPeek().Pos
	return d, nil
}

func (p *handParser) table() (*Table, error) {
	t := &Table{}
	var err error
	if t.Pos, t.First, err = p.keywordAndWord(); err != nil {
		return nil, err
	}
	if p.peek().Type == wordToken {
		t.Second = text(p.lex.Next())
	}
	err = p.block(func() error {
		var it TableItem
		var err error
		switch {
		case p.isWord("set"):
			it.Set, err = p.setDecl()
		case p.isWord("chain"):
			it.Chain, err = p.chain()
		default:
			err = errByHand
		}
		t.Items = append(t.Items, &it)
		return err
	})
	return t, err
}

// setAttrKeys and chainAttrKeys are the keys SetAttr and ChainAttr take.
var (
	setAttrKeys   = map[string]bool{"type": true, "flags": true, "size": true, "timeout": true, "elements": true}
	chainAttrKeys = map[string]bool{"type": true, "hook": true, "priority": true, "policy": true}
)

func (p *handParser) setDecl() (*SetDecl, error) {
	s := &SetDecl{}
	var err error
	if s.Pos, s.Name, err = p.keywordAndWord(); err != nil {
		return nil, err
	}
	err = p.block(func() error {
		tok := p.peek()
		if tok.Type != wordToken || !setAttrKeys[tok.Value] {
			return errByHand
		}
		a := &SetAttr{Pos: tok.Pos, Key: tok.Value}
		p.lex.Next()
		if p.isPunct("=") {
			p.lex.Next()
			v, err := p.value()
			if err != nil {
				return err
			}
			a.Elements = v
		} else {
			for {
				w, err := p.word()
				if err != nil {
					return err
				}
				a.Values = append(a.Values, w)
				if !p.isPunct(",") {
					break
				}
				p.lex.Next()
			}
		}
		a.EndPos = p.lex.RawPeek().Pos
		s.Attrs = append(s.Attrs, a)
		return nil
	})
	return s, err
}

func (p *handParser) chain() (*Chain, error) {
	c := &Chain{}
	var err error
	if c.Pos, c.Name, err = p.keywordAndWord(); err != nil {
		return nil, err
	}
	for tok := p.peek(); tok.Type == wordToken && chainAttrKeys[tok.Value]; tok = p.peek() {
		a := &ChainAttr{Pos: tok.Pos, Key: tok.Value}
		p.lex.Next()
		if a.Value, err = p.word(); err != nil {
			return nil, err
		}
		a.EndPos = p.lex.RawPeek().Pos
		c.Attrs = append(c.Attrs, a)
	}
	err = p.block(func() error {
		item, err := chainItem(p.lex)
		c.Items = append(c.Items, item)
		return err
	})
	return c, err
}

func (p *handParser) ipv6() (*IPv6Stmt, error) {
	s := &IPv6Stmt{}
	var err error
	if s.Pos, s.Method, err = p.keywordAndWord(); err != nil {
		return nil, err
	}
	for tok := p.peek(); tok.Type == wordToken || tok.Type == varToken || tok.Type == stringToken || tok.Type == punctToken && tok.Value == "{"; tok = p.peek() {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		s.Args = append(s.Args, v)
	}
	s.EndPos = p.lex.RawPeek().Pos
	return s, nil
}

// option reads Option's production: "option NAME { rules } [else { rules }]".
func (p *handParser) option() (*Option, error) {
	o := &Option{}
	var err error
	if o.Pos, o.Name, err = p.keywordAndWord(); err != nil {
		return nil, err
	}
	if o.Rules, err = p.rules(); err != nil {
		return nil, err
	}
	if p.isWord("else") && nextIs(p.lex, "{") { // else the word starts the next rule, as in the grammar
		p.lex.Next()
		o.Else = &ElseBlock{}
		if o.Else.Rules, err = p.rules(); err != nil {
			return nil, err
		}
	}
	o.EndPos = p.lex.RawPeek().Pos
	return o, nil
}

// rules reads "{" (EOL | ";")* ( Rule (EOL | ";")* )* "}".
func (p *handParser) rules() ([]*Rule, error) {
	var rules []*Rule
	err := p.block(func() error {
		r := &Rule{}
		if err := r.Parse(p.lex); err != nil {
			return err
		}
		rules = append(rules, r)
		return nil
	})
	return rules, err
}

// value reads Value's production: file("PATH"), a word, $NAME, a string
// or a set.
func (p *handParser) value() (*Value, error) {
	tok := p.peek()
	v := &Value{Pos: tok.Pos}
	switch {
	case tok.Type == wordToken && tok.Value == "file" && nextIs(p.lex, "("):
		p.lex.Next()
		p.lex.Next()
		if p.peek().Type != stringToken {
			return nil, errByHand
		}
		v.File = text(p.lex.Next())
		if err := p.expect(punctToken, ")"); err != nil {
			return nil, err
		}
	case tok.Type == wordToken:
		v.Word = text(p.lex.Next())
	case tok.Type == varToken:
		v.Var = text(p.lex.Next())
	case tok.Type == stringToken:
		v.String = text(p.lex.Next())
	case tok.Type == punctToken && tok.Value == "{":
		v.Set = &SetLit{}
		if err := v.Set.Parse(p.lex); err != nil {
			return nil, err
		}
	default:
		return nil, errByHand
	}
	v.EndPos = p.lex.RawPeek().Pos
	return v, nil
}
