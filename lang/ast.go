package lang

import "github.com/alecthomas/participle/v2/lexer"

// The syntax tree. Field tags are the grammar (participle/v2); newlines end
// statements, so rule and definition lists are separated by EOL or ';'.

// File is a whole policy file.
type File struct {
	Pos   lexer.Position
	Items []*Item `parser:"(EOL | \";\")* ( @@ (EOL | \";\")* )*"`
}

// Item is a top-level statement.
type Item struct {
	Define  *Define   `parser:"  @@"`
	Flush   *Flush    `parser:"| @@"`
	Table   *Table    `parser:"| @@"`
	IPv6    *IPv6Stmt `parser:"| @@"`
	Routing *Routing  `parser:"| @@"`
}

// Define names a value: "define NAME = VALUE", or "define NAME" for a value
// that must come from the command line (-D) before a rule using it is enabled.
type Define struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string `parser:"\"define\" @Word"`
	Value  *Value `parser:"( \"=\" @@ )?"`
}

// Flush is "flush ruleset": the policy owns the whole ruleset. It is also
// what nft scripts write before a table to start it afresh: "flush table
// [FAMILY] NAME", "delete table ...", "destroy table ...".
type Flush struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Verb   string   `parser:"@(\"flush\" | \"delete\" | \"destroy\")"`
	What   string   `parser:"@Word"`
	Names  []string `parser:"@Word*"`
}

// Table is "table [FAMILY] NAME { sets and chains }". Without braces it
// is nft's "make it if it is not there", which scripts write before
// "delete table" so that the delete cannot fail.
type Table struct {
	Pos    lexer.Position
	EndPos lexer.Position
	First  string       `parser:"\"table\" @Word"`
	Second *string      `parser:"@Word?"`
	Braced bool         `parser:"( @\"{\""`
	Items  []*TableItem `parser:"  (EOL | \";\")* ( @@ (EOL | \";\")* )* \"}\" )?"`
}

// TableItem is a set declaration, a chain, chains of an option, or a
// flowtable.
type TableItem struct {
	Set       *SetDecl        `parser:"  @@"`
	Chain     *Chain          `parser:"| @@"`
	Optional  *OptionalChains `parser:"| @@"`
	Flowtable *Flowtable      `parser:"| @@"`
}

// Flowtable is nft's "flowtable NAME { hook ingress priority P; devices
// = { ... } }", read only so that an import or a machine's ruleset can
// name it: the language has no flowtables (see builder.table).
type Flowtable struct {
	Pos  lexer.Position
	Name string `parser:"\"flowtable\" @Word \"{\" ( \"{\" (!\"}\")* \"}\" | !\"}\" )* \"}\""`
}

// OptionalChains is "option NAME { chains }": chains the policy has only
// when NAME is enabled (-e NAME), as an option inside a chain holds rules.
type OptionalChains struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string   `parser:"\"option\" @Word"`
	Chains []*Chain `parser:"\"{\" (EOL | \";\")* ( @@ (EOL | \";\")* )* \"}\""`
}

// Chains are the table's chains, those of its options too, in source
// order.
func (t *Table) Chains() []*Chain {
	var chains []*Chain
	for _, it := range t.Items {
		switch {
		case it.Chain != nil:
			chains = append(chains, it.Chain)
		case it.Optional != nil:
			chains = append(chains, it.Optional.Chains...)
		}
	}
	return chains
}

// SetDecl is "set NAME { type T; flags dynamic; size N; timeout T }", or
// "map NAME { type K : verdict; elements = { K : VERDICT, ... } }".
type SetDecl struct {
	Pos   lexer.Position
	Map   bool       `parser:"( \"set\" | @\"map\" )"`
	Name  string     `parser:"@Word"`
	Attrs []*SetAttr `parser:"\"{\" (EOL | \";\")* ( @@ (EOL | \";\")* )* \"}\""`
}

// SetAttr is one "KEY VALUE[,VALUE]" line of a set declaration ("type
// ipv4_addr . inet_service" has three words), its "elements = VALUE",
// its comment, or a bare "auto-merge".
type SetAttr struct {
	Pos      lexer.Position
	EndPos   lexer.Position
	Key      string   `parser:"@(\"type\" | \"typeof\" | \"flags\" | \"size\" | \"timeout\" | \"elements\" | \"auto-merge\" | \"policy\" | \"comment\")"`
	Elements *Value   `parser:"( \"=\" @@"`
	Text     *string  `parser:"| @String"`
	Values   []string `parser:"| @Word ( \",\"? @Word )* )?"`
}

// Chain is "chain NAME hook H [priority P] [policy V] { rules }".
type Chain struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string       `parser:"\"chain\" @Word"`
	Attrs  []*ChainAttr `parser:"@@*"`
	Items  []*ChainItem `parser:"\"{\" (EOL | \";\")* ( @@ (EOL | \";\")* )* \"}\""`
}

// ChainAttr is one "KEY VALUE" pair of a chain header; a priority may be
// a name and an offset, as nft writes it: "priority filter + 10".
type ChainAttr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Key    string `parser:"@(\"type\" | \"hook\" | \"priority\" | \"policy\")"`
	Value  string `parser:"@Word"`
	Sign   string `parser:"( @(\"+\" | \"-\")"`
	Offset string `parser:"  @Word )?"`
}

// ChainItem is a rule or an option block.
type ChainItem struct {
	Option *Option `parser:"  @@"`
	Rule   *Rule   `parser:"| @@"`
}

// Option is "option NAME { rules } [else { rules }]": rules that are
// included only when NAME is enabled (and the else rules only when it is not).
type Option struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string     `parser:"\"option\" @Word"`
	Rules  []*Rule    `parser:"\"{\" (EOL | \";\")* ( @@ (EOL | \";\")* )* \"}\""`
	Else   *ElseBlock `parser:"@@?"`
}

// ElseBlock holds the rules used when an option is not enabled.
type ElseBlock struct {
	Rules []*Rule `parser:"\"else\" \"{\" (EOL | \";\")* ( @@ (EOL | \";\")* )* \"}\""`
}

// Rule is one line of matches, statements and a verdict. The grammar
// only splits it into terms: which words name a field, a statement or a
// verdict is decided by the builder from ir.Selectors, so that adding a
// field needs no grammar change.
type Rule struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Terms  []*Term
}

// Term is one word, string, $NAME, set or file() of a rule, an operator
// ("!=", "==", "&"), or a comma (as in "ct state established,related"). Terms are most of a
// policy's tokens, so Parse reads the one-token ones directly instead of
// through participle's reflection; sets and file() go through the grammar.
type Term struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Paren  string // "(" or ")", around a mask: & (syn|ack)
	Value  *Value
	// The flags last, together: a term is 112 bytes, not 128.
	Neq   bool // "!="
	Eq    bool // "==", after a mask
	Amp   bool // "&", the same as "and" before a mask
	Comma bool
	// Cmp is '<' or '>' of a comparison, with OrEqual for "<=" and ">=";
	// Shift for nft's bit shifts, "<<" and ">>", which ksc refuses.
	Cmp     byte
	OrEqual bool
	Shift   bool
}

// Routing is "routing table N { LINE... }": a routing table of the
// policy's own, with the rules that send marked packets to it (what a
// split tunnel needs), applied and removed with the policy's rules.
type Routing struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Table  *Value         `parser:"\"routing\" \"table\" @@ \"{\" (EOL | \";\")*"`
	Lines  []*RoutingLine `parser:"( @@ (EOL | \";\")* )* \"}\""`
}

// RoutingLine is a line of a routing block: "rule fwmark MARK [priority
// N]" or "route DESTINATION [via ADDRESS] [dev NAME]", read by the builder.
type RoutingLine struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Words  []*Value `parser:"@@+"`
}

// IPv6Stmt is "ipv6 METHOD [ARGS]": what to do about IPv6 beyond the firewall.
type IPv6Stmt struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Method string   `parser:"\"ipv6\" @Word"`
	Args   []*Value `parser:"@@*"`
}

// Value is a scalar (word, string or $NAME), a set of values in braces, or
// file("PATH"): a set with one element a line.
type Value struct {
	Pos    lexer.Position
	EndPos lexer.Position
	File   *string `parser:"(  \"file\" \"(\" @String \")\""`
	Word   *string `parser:"| @Word"`
	Var    *string `parser:"| @Var"`
	String *string `parser:"| @String"`
	Set    *SetLit `parser:"| @@ )"`
}

// SetLit is "{ VALUE, VALUE, ... }"; newlines may separate elements.
// SetLit.Parse reads it (setgrammar.go), as setProduction says.
type SetLit struct {
	Elems []SetElem
	file  string // the file its scalars are in
}

// SetElem is one element of a set literal. A word or a string, which is
// what a set of 100,000 addresses is made of, is held as a scalar: its text
// and where it starts, 40 bytes instead of a Value, the string it points to
// and a pointer to it (152), which were most of the memory ksc used for
// such a set. Anything else (a $NAME, a nested set, a file()) is its Value.
type SetElem struct {
	value             *Value
	text              string
	quoted            bool // a string; text has its quotes
	offset, line, col int32
}
