package lang

import (
	"runtime"
	"slices"
	"sync"

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

// chainBody is a run of a chain's items.
type chainBody struct {
	Items []*ChainItem
}

// optionParser is built on first use: a small policy never needs it.
var optionParser = sync.OnceValue(func() *participle.Parser[Option] { return participle.MustBuild[Option](options...) })

// parallelMin is the size below which a policy is parsed sequentially:
// starting workers costs more than it saves.
const parallelMin = 64 << 10

// run is a piece of a chain's body: whole lines, from start to end.
type run struct {
	chainOffset int // the offset of the chain's "chain" keyword
	start, end  int
	pos         lexer.Position // of start
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

// parseInParallel parses src with workers goroutines, cutting chains
// into runs of about size bytes.
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
	bodies := make([]*chainBody, len(runs))
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
					f, err := fileParser().ParseBytes(filename, skeleton)
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
func parseRun(src []byte, r run) (*chainBody, error) {
	scanner := &handScanner{def: policyLexer, data: string(src[r.start:r.end]), pos: r.pos}
	peeking, err := lexer.Upgrade(scanner, policyLexer.comment)
	if err != nil {
		return nil, err
	}
	return parseBody(peeking)
}

// parseBody reads a run of chain items as ChainItem's grammar in a chain's
// braces does, "(EOL | ";")* ( ChainItem (EOL | ";")* )*", without
// participle's reflection for each rule (it was 40% of a run's parse): an
// option goes to participle's Option grammar, anything else to Rule.Parse.
// Any error, even one participle would not make (a rule that starts with
// the word "option"), only sends the caller back to the sequential parse,
// which gives participle's own tree or error.
func parseBody(lex *lexer.PeekingLexer) (*chainBody, error) {
	body := &chainBody{}
	for {
		for tok := lex.Peek(); tok.Type == eolToken || tok.Type == punctToken && tok.Value == ";"; tok = lex.Peek() {
			lex.Next()
		}
		tok := lex.Peek()
		if tok.EOF() {
			return body, nil
		}
		item := &ChainItem{}
		if tok.Type == wordToken && tok.Value == "option" {
			o, err := optionParser().ParseFromLexer(lex, participle.AllowTrailing(true))
			if err != nil {
				return nil, err
			}
			item.Option = o
		} else {
			item.Rule = &Rule{}
			if err := item.Rule.Parse(lex); err != nil {
				if err == participle.NextMatch {
					err = participle.Errorf(tok.Pos, "unexpected %q", tok.Value)
				}
				return nil, err
			}
		}
		body.Items = append(body.Items, item)
	}
}

// splice puts each run's items into its chain, among the items the
// skeleton kept (those on the lines around the runs), in source order.
func splice(f *File, runs []run, bodies []*chainBody) bool {
	byOffset := map[int]*Chain{}
	for _, it := range f.Items {
		if it.Table == nil {
			continue
		}
		for _, c := range it.Table.Chains() {
			byOffset[c.Pos.Offset] = c
		}
	}
	for i, r := range runs {
		c := byOffset[r.chainOffset]
		if c == nil {
			return false // not a chain after all: parse sequentially
		}
		c.Items = append(c.Items, bodies[i].Items...)
	}
	for _, r := range runs {
		if c := byOffset[r.chainOffset]; !slices.IsSortedFunc(c.Items, byItemOffset) {
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
			runs = append(runs, run{chainOffset: chainAt, start: runStart, end: end,
				pos: lexer.Position{Filename: filename, Offset: runStart, Line: runLine, Column: 1}})
		}
		runStart = -1
	}
	for i := 0; i < len(src); i++ {
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
			depth++
			stmtWord, wordStart = "", -1
			continue
		case c == '}':
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
		case isWordByte(c) && wordStart < 0 && stmtWord == "":
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
