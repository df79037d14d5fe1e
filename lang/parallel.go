package lang

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// A large policy is parsed on every core: the rules of a long chain are
// cut at line ends into runs of whole statements, each run is parsed on
// its own with a lexer that starts at the run's position, and the rest of
// the file (the skeleton: the same text with those runs blanked, so that
// every position in it stays) is parsed beside them. The runs' items are
// then put into their chains in source order. The tree is the one the
// sequential parse gives, positions included (TestParallelParseIsSequential,
// FuzzParallelParseIsSequential); on any syntax error the whole file is
// parsed again sequentially, so that errors are the sequential parse's.

// runBody is what a run holds: a chain's items, or a set's elements.
type runBody struct {
	Items []*ChainItem
	Set   *SetLit
}

// optionParser is built on first use: a small policy never needs it.
var optionParser = sync.OnceValue(func() *participle.Parser[Option] { return participle.MustBuild[Option](options...) })

// parallelMin is the size below which a policy is parsed sequentially:
// starting workers costs more than it saves.
const parallelMin = 64 << 10

// run is a piece of a chain's body (whole lines) or of a large set
// literal's elements (cut after commas), from start to end.
type run struct {
	// owner is the offset of the chain's "chain" keyword, or of the set
	// literal's "{".
	owner      int
	set        bool
	start, end int
	pos        lexer.Position // of start
}

// parseOnEveryCore parses a large src as Parse does, on every core; ok is
// false when it did not (a small file, text the cutter does not follow, or
// a syntax error), and the caller parses sequentially. On one core the
// runs are still worth it: they are read by hand, and only one run's
// tokens are held at a time, not the whole file's.
func parseOnEveryCore(filename string, src []byte) (*File, bool) {
	if len(src) < parallelMin {
		return nil, false
	}
	workers := runtime.GOMAXPROCS(0)
	return parseInParallel(filename, src, workers, max(len(src)/(4*workers), parallelMin/4))
}

// parseInParallel parses src with workers goroutines, cutting chains and
// large set literals into runs of about size bytes.
func parseInParallel(filename string, src []byte, workers, size int) (*File, bool) {
	runs, ok := cutChains(filename, src, size)
	if !ok || len(runs) == 0 {
		return nil, false
	}
	skeleton := slices.Clone(src)
	for _, r := range runs {
		for i := r.start; i < r.end; i++ {
			if skeleton[i] != '\n' {
				skeleton[i] = ' '
			}
		}
	}
	bodies := make([]*runBody, len(runs))
	var file *File
	failed := make([]bool, len(runs)+1)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if i == len(runs) {
					f, err := parseSequentially(filename, skeleton)
					file, failed[i] = f, err != nil
					continue
				}
				b, err := parseRun(src, runs[i])
				bodies[i], failed[i] = b, err != nil
			}
		}()
	}
	next <- len(runs) // the skeleton first: it is the longest piece
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	if slices.Contains(failed, true) {
		return nil, false
	}
	return file, splice(file, runs, bodies)
}

// parseRun parses one run with a lexer that starts at the run's position.
func parseRun(src []byte, r run) (*runBody, error) {
	text := string(src[r.start:r.end])
	scanner := &handScanner{def: policyLexer, data: text, pos: r.pos}
	if r.set {
		return readElems(scanner, strings.Count(text, ",")+1)
	}
	peeking, err := lexer.Upgrade(scanner, policyLexer.comment)
	if err != nil {
		return nil, err
	}
	return parseBody(peeking)
}

// readElems reads a run of a set literal's elements straight from the
// scanner, a token at a time, as SetLit's fast path reads them from a
// whole set: "EOL* ( element EOL* ( "," EOL* )? )*", elements being
// words (not file), variables and strings. Anything else sends the caller
// back to the sequential parse. A run of a large set is tens of thousands
// of tokens, which participle's token slice would copy as it grew.
func readElems(scanner *handScanner, about int) (*runBody, error) {
	next := func() (lexer.Token, error) {
		for {
			tok, err := scanner.Next()
			if err != nil || tok.Type != policyLexer.comment {
				return tok, err
			}
		}
	}
	set := &SetLit{Elems: make([]SetElem, 0, about)}
	tok, err := next()
	for err == nil {
		for err == nil && tok.Type == eolToken {
			tok, err = next()
		}
		if err != nil || tok.EOF() {
			break
		}
		if !isPlainElem(&tok) {
			return nil, participle.Errorf(tok.Pos, "unexpected %q", tok.Value)
		}
		set.add(&tok)
		for tok, err = next(); err == nil && tok.Type == eolToken; tok, err = next() {
		}
		if err == nil && tok.Type == punctToken && tok.Value == "," {
			tok, err = next()
		}
	}
	if err != nil {
		return nil, err
	}
	return &runBody{Set: set}, nil
}

// parseBody reads a run of chain items as ChainItem's grammar in a chain's
// braces does, "(EOL | ";")* ( ChainItem (EOL | ";")* )*", without
// participle's reflection for each rule (it was 40% of a run's parse): an
// option goes to participle's Option grammar, anything else to Rule.Parse.
// Any error, even one participle would not make (a rule that starts with
// the word "option"), only sends the caller back to the sequential parse,
// which gives participle's own tree or error.
func parseBody(lex *lexer.PeekingLexer) (*runBody, error) {
	body := &runBody{}
	for {
		for tok := lex.Peek(); tok.Type == eolToken || tok.Type == punctToken && tok.Value == ";"; tok = lex.Peek() {
			lex.Next()
		}
		if lex.Peek().EOF() {
			return body, nil
		}
		item, err := chainItem(lex)
		if err != nil {
			return nil, err
		}
		body.Items = append(body.Items, item)
	}
}

// chainItem reads one ChainItem: an option by hand, or else through
// participle's Option grammar (which gives the error), anything else with
// Rule.Parse.
func chainItem(lex *lexer.PeekingLexer) (*ChainItem, error) {
	tok := lex.Peek()
	item := &ChainItem{}
	if tok.Type == wordToken && tok.Value == "option" {
		start := lex.MakeCheckpoint()
		if o, err := (&handParser{lex}).option(); err == nil {
			item.Option = o
			return item, nil
		}
		lex.LoadCheckpoint(start)
		o, err := optionParser().ParseFromLexer(lex, participle.AllowTrailing(true))
		if err != nil {
			return nil, err
		}
		item.Option = o
		return item, nil
	}
	item.Rule = &Rule{}
	if err := item.Rule.Parse(lex); err != nil {
		if err == participle.NextMatch {
			err = participle.Errorf(tok.Pos, "unexpected %q", tok.Value)
		}
		return nil, err
	}
	return item, nil
}

// splice puts each run's items into its chain, among the items the
// skeleton kept (those on the lines around the runs), in source order, and
// each run's elements into its set literal, which the skeleton left empty.
func splice(f *File, runs []run, bodies []*runBody) bool {
	chains := map[int]*Chain{}
	sets := map[int]*SetLit{}
	for _, it := range f.Items {
		if it.Define != nil && it.Define.Value != nil && it.Define.Value.Set != nil {
			sets[it.Define.Value.Pos.Offset] = it.Define.Value.Set
		}
		if it.Table == nil {
			continue
		}
		for _, ti := range it.Table.Items {
			if ti.Chain != nil {
				chains[ti.Chain.Pos.Offset] = ti.Chain
				continue
			}
			for _, a := range ti.Set.Attrs {
				if a.Elements != nil && a.Elements.Set != nil {
					sets[a.Elements.Pos.Offset] = a.Elements.Set
				}
			}
		}
	}
	elems := map[int]int{} // a set's elements, all of its runs', copied once
	for i, r := range runs {
		if r.set {
			elems[r.owner] += len(bodies[i].Set.Elems)
		}
	}
	for owner, n := range elems {
		if s := sets[owner]; s != nil {
			s.Elems = slices.Grow(s.Elems, n)
		}
	}
	for i, r := range runs {
		if r.set {
			s := sets[r.owner]
			if s == nil {
				return false // not a set after all: parse sequentially
			}
			s.append(bodies[i].Set)
			bodies[i] = nil // its elements are the set's now
			continue
		}
		c := chains[r.owner]
		if c == nil {
			return false
		}
		c.Items = append(c.Items, bodies[i].Items...)
	}
	for _, r := range runs {
		if c := chains[r.owner]; !r.set && !slices.IsSortedFunc(c.Items, byItemOffset) {
			slices.SortStableFunc(c.Items, byItemOffset)
		}
	}
	return true
}

func byItemOffset(a, b *ChainItem) int { return a.offset() - b.offset() }

func (it *ChainItem) offset() int {
	if it.Option != nil {
		return it.Option.Pos.Offset
	}
	return it.Rule.Pos.Offset
}

// cutChains finds the chains' bodies in src and cuts each into runs of
// whole lines of about size bytes, at line ends directly inside the
// chain's braces. The first and last line of a body stay in the skeleton.
// A large set literal of a define or a set's elements is cut after commas
// directly inside its braces, which stay in the skeleton.
// ok is false when src holds what the scan does not follow (an unclosed
// string or brace); the parser then reports it.
func cutChains(filename string, src []byte, size int) (runs []run, ok bool) {
	depth := 0
	line := 1
	stmtWord, wordStart := "", -1 // the first word of the statement at this depth
	chainAt, inChain := -1, false // the "chain" keyword of the body being cut
	runStart, runLine := -1, 0
	cut := func(end int) {
		if runStart >= 0 && end > runStart {
			runs = append(runs, run{owner: chainAt, start: runStart, end: end,
				pos: lexer.Position{Filename: filename, Offset: runStart, Line: runLine, Column: 1}})
		}
		runStart = -1
	}
	lineStart := 0
	// The set literal being read, of a define or a set's elements, and the
	// places after its commas where a run may end.
	setAt, setDepth := -1, 0
	var seams []seam
	for i := 0; i < len(src); i++ {
		if setAt >= 0 && depth == setDepth {
			// Among a set's elements only these bytes matter: skip the
			// rest (most of a large policy) without the switch.
			for i < len(src) && !setBytes[src[i]] {
				i++
			}
			if i == len(src) {
				break
			}
		}
		c := src[i]
		switch {
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // the newline is read next
			continue
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				j++
			}
			if j == len(src) || src[j] != '"' {
				return nil, false
			}
			i = j
		case c == '{':
			if depth == 1 && stmtWord == "chain" {
				chainAt, inChain = wordStart, true
			}
			if setAt < 0 && afterEquals(src, i) && (depth == 0 && stmtWord == "define" || depth == 2 && stmtWord == "elements") {
				setAt, setDepth, seams = i, depth+1, append(seams[:0], seam{i + 1, line, lineStart})
			}
			depth++
			stmtWord, wordStart = "", -1
			continue
		case c == ',' && setAt >= 0 && depth == setDepth:
			if i+1-seams[len(seams)-1].offset >= size {
				seams = append(seams, seam{i + 1, line, lineStart})
			}
			continue
		case c == '}':
			if setAt >= 0 && depth == setDepth {
				runs = append(runs, cutSet(filename, src, setAt, seams, i, size)...)
				setAt = -1
			}
			if depth == 2 && inChain {
				cut(lastLineStart(src, i))
				inChain = false
			}
			depth--
			if depth < 0 {
				return nil, false
			}
			stmtWord, wordStart = "", -1
			continue
		case c == '\n' || c == ';':
			if c == '\n' {
				line++
				lineStart = i + 1
				if depth == 2 && inChain {
					// A seam: the next line starts a statement of the chain.
					if runStart >= 0 && i+1-runStart >= size {
						cut(i + 1)
					}
					if runStart < 0 {
						runStart, runLine = i+1, line
					}
				}
			}
			stmtWord, wordStart = "", -1
			continue
		case stmtWord == "" && wordStart < 0 && isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			stmtWord, wordStart = string(src[i:j]), i
			i = j - 1
		}
	}
	if depth != 0 || inChain {
		return nil, false
	}
	return runs, true
}

// setBytes are the bytes cutChains acts on inside a set literal.
var setBytes = func() (t [256]bool) {
	for _, c := range []byte("#\"{},\n;") {
		t[c] = true
	}
	return t
}()

// seam is where a run of a set's elements starts: just after the set's
// open brace, or after the first comma at least a run's size further on.
type seam struct{ offset, line, lineStart int }

// cutSet cuts the elements of the set literal whose braces are at open
// and close into runs that start at seams; none when the literal is
// shorter than size, or holds other than ASCII: the skeleton blanks it a
// byte at a time, which would move the columns after it on its last line.
func cutSet(filename string, src []byte, open int, seams []seam, close, size int) []run {
	if close-open <= size || slices.ContainsFunc(src[open:close], func(c byte) bool { return c >= utf8.RuneSelf }) {
		return nil
	}
	// Columns count runes from the line's start: counted on from the last
	// run's start, as a set of 100,000 elements may be one line.
	last := lexer.Position{Filename: filename}
	runs := make([]run, len(seams))
	for i, s := range seams {
		if s.line != last.Line {
			last = lexer.Position{Filename: filename, Offset: s.lineStart, Line: s.line, Column: 1}
		}
		last.Column += utf8.RuneCount(src[last.Offset:s.offset])
		last.Offset = s.offset
		end := close
		if i+1 < len(seams) {
			end = seams[i+1].offset
		}
		runs[i] = run{owner: open, set: true, start: s.offset, end: end, pos: last}
	}
	return runs
}

// afterEquals reports whether the last byte before i, blanks skipped, is '='.
func afterEquals(src []byte, i int) bool {
	for i--; i >= 0 && (src[i] == ' ' || src[i] == '\t'); i-- {
	}
	return i >= 0 && src[i] == '='
}

// lastLineStart is the offset just after the last newline before end: the
// line holding the chain's closing brace stays in the skeleton.
func lastLineStart(src []byte, end int) int {
	for i := end - 1; i >= 0; i-- {
		if src[i] == '\n' {
			return i + 1
		}
	}
	return 0
}
