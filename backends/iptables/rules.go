package iptables

// One policy rule as iptables rules: each match narrows every alternative
// or multiplies them (a set of interfaces, addresses, protocols, ports).

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// MaxRulesPerRule bounds how many iptables rules one policy rule may expand
// into: sets multiply (interfaces × addresses × protocols × port chunks).
const MaxRulesPerRule = 4096

// slot is one of the rule options iptables-save writes before the
// matches (-s -d -i -o -p), possibly negated.
type slot struct {
	value   string
	negated bool
}

// alternative is one way a rule's matches can hold, in iptables-save order.
type alternative struct {
	src, dst, in, out, proto slot // -s -d -i -o -p
	matches                  []string
}

func (a alternative) args() []string {
	var args []string
	for _, f := range []struct {
		flag string
		v    slot
	}{{"-s", a.src}, {"-d", a.dst}, {"-i", a.in}, {"-o", a.out}, {"-p", a.proto}} {
		if f.v.value == "" {
			continue
		}
		if f.v.negated {
			args = append(args, "!")
		}
		args = append(args, f.flag, f.v.value)
	}
	return append(args, a.matches...)
}

// choice changes an alternative to hold one element of a set.
type choice func(alternative) alternative

// lowering is a rule being lowered: the alternatives its sets expand into.
type lowering struct {
	family ir.Family
	// table and chain are where the rule goes: a few matches work in
	// some tables' builtin chains only.
	table, chain string
	alts         []alternative
	// tooMany is set when the alternatives would exceed MaxRulesPerRule.
	tooMany bool
	// sets are the ipsets the rule matches.
	sets []IPSet
}

// expand multiplies the alternatives by choices: one rule per combination.
func (lw *lowering) expand(choices []choice) {
	if len(lw.alts)*len(choices) > MaxRulesPerRule {
		lw.tooMany = true
		return
	}
	next := make([]alternative, 0, len(lw.alts)*len(choices))
	for _, a := range lw.alts {
		for _, c := range choices {
			next = append(next, c(a))
		}
	}
	lw.alts = next
}

// addMatches appends the same module options to every alternative.
func (lw *lowering) addMatches(args ...string) {
	lw.expand([]choice{func(a alternative) alternative {
		a.matches = append(slices.Clone(a.matches), args...)
		return a
	}})
}

// lowerRule turns one normalized rule into iptables rule lines for one
// family. Sets become one rule per element (ports: multiport), "log" a LOG
// rule before the verdict's. A match iptables cannot say is an error.
func lowerRule(table, chain string, family ir.Family, r *ir.Rule, to verdictTargets, sets *[]IPSet) ([][]string, *ir.Diagnostic) {
	if f := r.Family(); f != ir.Inet && f != family {
		return nil, nil
	}
	if m := cmp.Or(r.Match(ir.FieldIifname), r.Match(ir.FieldIif)); m != nil && (chain == "POSTROUTING" || chain == ownChain("POSTROUTING")) {
		return nil, &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express " + m.Field.String() + " in a postrouting chain: iptables refuses -i in POSTROUTING",
			Hint: "match the input interface in the forward chain (mark the packet there), or use the nft target"}
	}
	lw := &lowering{family: family, table: table, chain: chain, alts: []alternative{{}}}
	defer func() { *sets = append(*sets, lw.sets...) }()
	for _, m := range r.Matches {
		lower, ok := fieldLowerings[m.Field]
		if !ok {
			return nil, &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: fmt.Sprintf("the iptables target cannot express %s", m.Field)}
		}
		if d := lower(lw, m, r); d != nil {
			return nil, d
		}
	}
	if lw.tooMany {
		return nil, &ir.Diagnostic{Pos: r.Pos, Message: fmt.Sprintf("this rule expands to more than %d iptables rules", MaxRulesPerRule),
			Hint: "its sets multiply (one rule per combination of elements); split it, or use the nft target"}
	}
	var tail []string
	if r.Comment != "" {
		tail = append(tail, "-m", "comment", "--comment", r.Comment)
	}
	var targets [][]string
	var limit *ir.Limit
	limitedFrom := 0 // targets from here on act only on what the limit passes
	for _, s := range r.Statements {
		switch s := s.(type) {
		case *ir.Limit:
			if limit != nil {
				return nil, &ir.Diagnostic{Pos: s.Pos, Message: "the iptables target cannot express two limits in one rule"}
			}
			limit, limitedFrom = s, len(targets)
		case *ir.Counter:
			// iptables counts every rule.
		case *ir.MarkSet:
			// Each target is an iptables rule of its own that checks the
			// matches again: one after a change of a mark the rule
			// matches on would see the new mark.
			if r.Match(s.Target) != nil && len(r.Statements) > 1 || r.Match(s.Target) != nil && r.Verdict != ir.NoVerdict {
				return nil, &ir.Diagnostic{Pos: s.Pos, Message: fmt.Sprintf("the iptables target cannot express %s in a rule that matches %s and does more: iptables would check the new mark for the rest", s.Text(), s.Target),
					Hint: "split it: one rule that sets the mark, and rules after it"}
			}
			target, d := markTarget(s)
			if d != nil {
				return nil, d
			}
			targets = append(targets, target)
		case *ir.MSSSet:
			// The kernel refuses TCPMSS in a rule that does not match SYN.
			if f := r.Match(ir.FieldTCPFlags); f == nil || !holdsOnlyForSYN(f) || f.Op == ir.Neq && f.Mask != 0x02 {
				return nil, &ir.Diagnostic{Pos: s.Pos, Message: "the iptables target cannot express " + s.Text() + " in a rule that does not match SYN: iptables' TCPMSS refuses such a rule",
					Hint: "match the SYN it is meant for: tcp flags syn " + s.Text()}
			}
			targets = append(targets, mssTarget(s))
		case *ir.Log:
			if len(s.Prefix) > MaxLogPrefix {
				return nil, &ir.Diagnostic{Pos: s.Pos, Message: fmt.Sprintf("log prefix %q is %d characters long; iptables allows at most %d", s.Prefix, len(s.Prefix), MaxLogPrefix),
					Hint: "shorten it for the iptables targets (nft allows up to 127)"}
			}
			targets = append(targets, logTarget(s))
		case *ir.SetWrite:
			return nil, &ir.Diagnostic{Pos: s.Pos, Message: "the iptables target cannot express " + s.Text() + ": ksc writes no ipset that rules fill",
				Hint: "use the nft target"}
		case *ir.DSCPSet:
			if lw.table != "mangle" {
				return nil, &ir.Diagnostic{Pos: s.Pos, Message: "the iptables target cannot express " + s.Text() + " here: iptables' DSCP target works in the mangle table only",
					Hint: "set it in a chain at priority mangle (-150), or use the nft target"}
			}
			targets = append(targets, []string{"-j", "DSCP", "--set-dscp", fmt.Sprintf("0x%02x", s.Value)})
		case *ir.Trace:
			if lw.table != "raw" || !s.On {
				return nil, &ir.Diagnostic{Pos: s.Pos, Message: "the iptables target cannot express " + s.Text() + " here: iptables' TRACE target sets it, in the raw table only",
					Hint: "meta nftrace set 1 in a chain of hook prerouting or output at priority raw (-300), or use the nft target"}
			}
			targets = append(targets, []string{"-j", "TRACE"})
		case *ir.Notrack:
			// Validate keeps it before conntrack: in iptables' raw table.
			if lw.table != "raw" {
				return nil, &ir.Diagnostic{Pos: s.Pos, Message: "the iptables target cannot express notrack outside the raw table: iptables' CT target works there only",
					Hint: "notrack in a chain of hook prerouting or output at priority raw (-300)"}
			}
			targets = append(targets, []string{"-j", "CT", "--notrack"})
		default:
			return nil, &ir.Diagnostic{Pos: r.Pos, Message: fmt.Sprintf("the iptables target cannot express the statement %T", s)}
		}
	}
	switch r.Verdict {
	case ir.NoVerdict:
	case ir.Accept:
		targets = append(targets, []string{"-j", to.accept})
	case ir.Jump:
		// A rule that expands into several iptables rules jumps from
		// each; they hold for different packets, unless a chain jumped to
		// changes a mark the later ones match.
		if len(lw.alts) > 1 && (r.Match(ir.FieldMark) != nil || r.Match(ir.FieldCtMark) != nil) {
			return nil, &ir.Diagnostic{Pos: r.Pos, Message: "the iptables target cannot express a jump in a rule that matches a mark and becomes several iptables rules: each would check the mark again after the chain it jumps to",
				Hint: "jump on one value of each set, or match the mark in the chain jumped to"}
		}
		targets = append(targets, []string{"-j", r.Target.Name})
	case ir.Goto:
		targets = append(targets, []string{"-g", r.Target.Name})
	case ir.Return:
		targets = append(targets, []string{"-j", to.ret})
	case ir.Translate:
		if flag := natFlagsRefused(r.NAT); flag != "" {
			return nil, &ir.Diagnostic{Pos: r.NAT.Pos, Message: fmt.Sprintf("the iptables target cannot express %s: its %s target has no %s", r.NAT.Text(ir.Inet), strings.ToUpper(r.NAT.Kind.String()), flag),
				Hint: "leave the flag out for the iptables targets, or use the nft target"}
		}
		targets = append(targets, natTarget(r.NAT))
	case ir.Drop:
		targets = append(targets, []string{"-j", "DROP"})
	case ir.Reject:
		with, ok := rejectWith(r.RejectWith, family)
		if !ok {
			return nil, &ir.Diagnostic{Pos: r.Pos, Message: fmt.Sprintf("the iptables target cannot express reject %s", r.RejectWith.Text())}
		}
		targets = append(targets, []string{"-j", "REJECT", "--reject-with", with})
	default:
		return nil, &ir.Diagnostic{Pos: r.Pos, Message: fmt.Sprintf("the iptables target cannot express verdict %d", r.Verdict)}
	}
	var limitArgs []string
	if limit != nil {
		var d *ir.Diagnostic
		if limitArgs, d = limitMatch(limit, len(targets)-limitedFrom, len(lw.alts)); d != nil {
			return nil, d
		}
	}
	if len(targets) == 0 {
		targets = [][]string{nil} // a rule that only counts
	}
	var rules [][]string
	for _, a := range lw.alts {
		for i, target := range targets {
			args := append([]string{"-A", chain}, a.args()...)
			args = append(args, tail...)
			if limit != nil && i >= limitedFrom {
				args = append(args, limitArgs...)
			}
			args = append(args, target...)
			rules = append(rules, args)
		}
	}
	return rules, nil
}
