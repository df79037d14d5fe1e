package lang

import (
	"slices"

	"github.com/ksc-project/ksc/ir"
)

// clauseReader reads a statement or verdict whose first word, already
// taken, is word. It returns false after an error that leaves the rest of
// the rule unreadable.
type clauseReader func(rb *ruleBuilder, word string, pos, end ir.Pos) bool

// clauseReaders reads every statement and verdict by its first word; the
// verdicts' and nat statements' words are ir's own names for them.
// statementWords, which hints list, are its words.
var (
	clauseReaders  map[string]clauseReader
	statementWords []string
)

func init() {
	clauseReaders = map[string]clauseReader{
		"counter": func(rb *ruleBuilder, _ string, pos, _ ir.Pos) bool {
			return rb.counterValues() && rb.act(&ir.Counter{Pos: pos})
		},
		"log":     func(rb *ruleBuilder, _ string, pos, _ ir.Pos) bool { return rb.act(rb.log(pos)) },
		"notrack": func(rb *ruleBuilder, _ string, pos, _ ir.Pos) bool { return rb.act(&ir.Notrack{Pos: pos}) },
		"limit": func(rb *ruleBuilder, _ string, pos, end ir.Pos) bool {
			l := rb.limit(pos, end)
			return l != nil && rb.act(l)
		},
	}
	clauseReaders["meter"] = func(rb *ruleBuilder, _ string, pos, end ir.Pos) bool {
		l := rb.meterStatement(pos, end)
		return l != nil && rb.act(l)
	}
	for _, op := range []ir.SetOp{ir.SetAdd, ir.SetUpdate} {
		clauseReaders[op.String()] = func(rb *ruleBuilder, _ string, pos, end ir.Pos) bool {
			s := rb.setStatement(op, pos, end)
			return s != nil && rb.act(s)
		}
	}
	for _, v := range ir.AllVerdicts() {
		switch {
		case v == ir.Translate: // its words are the nat kinds'
		case v.TakesChain():
			clauseReaders[v.String()] = (*ruleBuilder).chainVerdict
		default:
			clauseReaders[v.String()] = (*ruleBuilder).verdict
		}
	}
	for _, k := range ir.AllNATKinds() {
		clauseReaders[k.String()] = func(rb *ruleBuilder, _ string, pos, end ir.Pos) bool {
			var n *ir.NAT
			switch k {
			case ir.Masquerade, ir.Redirect:
				n = rb.portsTo(k, pos)
			default:
				family, ok := rb.natHead(k, pos, end)
				if !ok {
					return false
				}
				if sels, m := selectorsAt(rb.terms[rb.i:]); sels != nil && rb.i+m < len(rb.terms) && rb.terms[rb.i+m].word() == "map" {
					rb.i += m + 1
					return rb.natMap(k, family, sels, pos, end)
				}
				n = rb.nat(k, family, pos, end)
			}
			if n == nil || !rb.natFlags(n) {
				return false
			}
			rb.out.Verdict, rb.out.NAT = ir.Translate, n
			rb.stage = decided
			return true
		}
	}
	// A comment is read before the stage is checked: it may follow the verdict.
	statementWords = []string{"comment"}
	for w := range clauseReaders {
		statementWords = append(statementWords, w)
	}
	slices.Sort(statementWords)
}

// act adds a statement that acts on the packet before the verdict.
func (rb *ruleBuilder) act(s ir.Statement) bool {
	rb.out.Statements = append(rb.out.Statements, s)
	rb.stage = acting
	return true
}

// verdict reads accept, drop, reject (with its answer) or return.
func (rb *ruleBuilder) verdict(word string, _, _ ir.Pos) bool {
	rb.out.Verdict, _ = ir.ParseVerdict(word)
	rb.stage = decided
	if t := rb.peek(); rb.out.Verdict == ir.Reject && t != nil && t.word() == "with" {
		return rb.rejectWith()
	}
	return true
}

// chainVerdict reads jump and goto and the chain they name.
func (rb *ruleBuilder) chainVerdict(word string, pos, end ir.Pos) bool {
	rb.out.Verdict, _ = ir.ParseVerdict(word)
	rb.stage = decided
	target := rb.next()
	if target == nil || target.word() == "" {
		rb.errorf(pos, end, "%s needs the name of a chain", word).Hint = word + " NAME, where NAME is a chain of this table without a hook"
		return false
	}
	tpos, tend := target.span()
	rb.targets = append(rb.targets, chainRef{rule: rb.out, name: target.word(), pos: tpos, end: tend})
	return true
}
