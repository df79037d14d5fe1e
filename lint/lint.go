// Package lint finds rules in a valid policy that do nothing useful or do
// something the author probably did not mean, and reports them as warnings.
package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// Check returns the warnings for p, in policy order.
func Check(p *ir.Policy) ir.Diagnostics {
	var ds ir.Diagnostics
	for _, t := range p.Tables {
		jumpedTo := map[*ir.Chain]bool{}
		// A meter's set is used by its limit; a set rules add keys to
		// is used once a rule looks it up.
		metered, added, looked := map[*ir.TableSet]bool{}, map[*ir.TableSet]bool{}, map[*ir.TableSet]bool{}
		for _, c := range t.Chains {
			for _, rules := range [][]*ir.Rule{c.Rules, c.Disabled} {
				for _, r := range rules {
					if r.Target != nil {
						jumpedTo[r.Target] = true
					}
					for _, st := range r.Statements {
						switch st := st.(type) {
						case *ir.Limit:
							if st.Meter != nil {
								metered[st.Meter.Set] = true
							}
						case *ir.SetWrite:
							added[st.Set] = true
						}
					}
					for _, m := range r.Matches {
						if m.Set != nil {
							looked[m.Set] = true
						}
					}
				}
			}
		}
		for _, s := range t.Sets {
			switch {
			case metered[s] || looked[s]:
			case added[s]:
				ds.Warnf(s.Pos, "set %s is filled but never looked up: no rule matches @%s", s.Name, s.Name).Hint =
					"match it (ip saddr @" + s.Name + " drop), or delete it and the rules that add to it"
			case s.Dynamic:
				ds.Warnf(s.Pos, "set %s is never filled: no rule adds to it", s.Name).Hint =
					"key a limit by it (update @" + s.Name + " { ip saddr limit rate ... }), add keys to it (add @" + s.Name + " { ip saddr }), or delete it"
			default:
				ds.Warnf(s.Pos, "set %s is never looked up: no rule matches @%s", s.Name, s.Name).Hint =
					"match it (ip daddr @" + s.Name + " accept), or delete it"
			}
		}
		for _, c := range t.Chains {
			if !c.IsBase() && !jumpedTo[c] {
				ds.Warnf(c.Pos, "chain %s is never jumped to: its rules see no packet", c.Name).Hint =
					"jump or goto it from a rule of a base chain, or delete it"
			}
			checkChain(t, c, &ds)
		}
	}
	return ds
}

// reachable lists the rules a packet in chain c may meet: c's own and
// those of the regular chains it jumps or goes to, however deep.
func reachable(c *ir.Chain) []*ir.Rule {
	var out []*ir.Rule
	seen := map[*ir.Chain]bool{}
	var walk func(c *ir.Chain)
	walk = func(c *ir.Chain) {
		seen[c] = true
		for _, r := range c.Rules {
			out = append(out, r)
			if r.Target != nil && !seen[r.Target] {
				walk(r.Target)
			}
		}
	}
	walk(c)
	return out
}

// ends reports whether a rule that holds ends the packet's way through
// its chain, so that no later rule there sees it: a decision, a goto, a
// return; a jump comes back.
func ends(r *ir.Rule) bool {
	return r.Verdict != ir.NoVerdict && r.Verdict != ir.Jump && r.Limit() == nil
}

// overTaken returns the earlier "limit rate over" rule that leaves later
// "limit rate over" rule r nothing to act on: it matches every packet r
// matches and ends the chain for those over a rate and burst no higher
// than r's, so what reaches r stays under r's. The earlier limit must be
// kept for no narrower a key than r's (one for the rule, or the same key).
func overTaken(overs []indexed, r *ir.Rule, changed changes) *ir.Rule {
	l := r.Limit()
	for _, o := range overs {
		e := o.rule
		if !changed.keep(e, o.order) {
			continue
		}
		el := e.Limit()
		sameKey := el.Meter == nil || l.Meter != nil && l.Meter.Key == el.Meter.Key
		// el.Rate/el.Unit <= l.Rate/l.Unit, in whole numbers.
		slower := el.Rate*l.Unit.Seconds() <= l.Rate*el.Unit.Seconds()
		if sameKey && slower && el.EffectiveBurst() <= l.EffectiveBurst() && covers(e, r) {
			return e
		}
	}
	return nil
}

// chainHooks are the hooks whose packets chain c sees: its own, or those
// of the base chains that reach it.
func chainHooks(t *ir.Table, c *ir.Chain) ir.HookSet {
	if c.IsBase() {
		return 1 << c.Hook
	}
	var hooks ir.HookSet
	for _, base := range ir.ReachedFrom(t)[c] {
		hooks |= 1 << base.Hook
	}
	return hooks
}

// andList joins "a", "b and c".
func andList(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// does says what a rule that ends the chain does with a packet.
func does(r *ir.Rule) string {
	switch r.Verdict {
	case ir.Goto:
		return "sends to chain " + r.Target.Name
	case ir.Return:
		return "returns"
	case ir.Translate:
		if r.NAT.Kind.Source() {
			return "rewrites the source of"
		}
		return "rewrites the destination of"
	}
	return r.Verdict.String() + "s"
}

func checkChain(t *ir.Table, c *ir.Chain, ds *ir.Diagnostics) {
	w := newRuleWarnings(c)
	defer w.emit(ds)
	earlierRules := shadowIndex{hooks: chainHooks(t, c), budget: unionBudget}
	var overs []indexed // rules that end the chain for what is over a rate
	changed := changes{}
	dead := map[*ir.Rule]bool{} // rules that never see a packet
	for i, r := range c.Rules {
		if l := r.Limit(); l != nil && l.Conns == 0 && l.Over && r.Verdict != ir.NoVerdict && r.Verdict != ir.Jump {
			if e := overTaken(overs, r, changed); e != nil {
				el := e.Limit()
				w.warnf(r, "never", "this rule never sees a packet: the rule at %s %s what it matches over %d/%s, and what is left never goes over %d/%s", e.Pos, does(e), el.Rate, el.Unit, l.Rate, l.Unit).Hint =
					"give it a lower rate (or smaller burst) than that rule's, or delete it"
			}
			overs = append(overs, indexed{order: i, rule: r})
		}
		earlier := earlierRules.coverer(r, changed)
		var together []*ir.Rule
		if earlier == nil {
			together = earlierRules.takenTogether(r, changed)
		}
		// A rate-limited verdict decides only some of the packets it
		// matches: the rules after it still see the rest.
		if ends(r) {
			earlierRules.add(r, i)
		}
		changed.note(r, i)
		dead[r] = earlier != nil || together != nil
		switch {
		case earlier != nil:
			d := w.warnf(r, "never", "this rule never sees a packet: the rule at %s %s every packet it would match", earlier.Pos, does(earlier))
			if len(earlier.Matches) == 0 {
				d.Message = fmt.Sprintf("this rule never sees a packet: the rule at %s %s every packet", earlier.Pos, does(earlier))
				d.Hint = "rules after a catch-all verdict are dead; move this rule above it"
			} else {
				d.Hint = "move it above that rule, or delete it"
			}
		case together != nil:
			var parts []string
			for _, e := range together {
				parts = append(parts, fmt.Sprintf("%s (%s)", e.Pos, e.VerdictText()))
			}
			w.warnf(r, "never", "this rule never sees a packet: the rules at %s between them take every packet it would match", andList(parts)).Hint =
				"move it above them, or delete it"
		}
	}
	hooks := chainHooks(t, c)
	cubes := make([]cubeOf, len(c.Rules))
	for i, r := range c.Rules {
		cubes[i].cube, cubes[i].ok = region.Of(r, hooks)
	}
	budget := unionBudget
	for i, r := range c.Rules {
		if dead[r] {
			continue
		}
		if by := decidedAlike(c, i, cubes, &budget); by != nil {
			var at []string
			for _, e := range by {
				at = append(at, e.Pos.String())
			}
			rules := "the rule at "
			if len(at) > 1 {
				rules = "the rules at "
			}
			w.warnf(r, "alike", "this rule changes no verdict: without it, %s would %s every packet it takes", rules+andList(at), r.VerdictText()).Hint =
				"delete it, or give it a decision of its own"
		}
	}
	// A chain that accepts nothing means to block everything, replies too.
	if c.Hook == ir.HookInput && c.Policy == ir.Drop && acceptsSomething(c) && !acceptsReplies(c) {
		ds.Warnf(c.Pos, "input chain %s drops by default and never accepts ct state established,related", c.Name).Hint =
			"replies to your own connections will be dropped: add \"ct state related,established accept\""
	}
	if c.Hook == ir.HookOutput && c.Policy == ir.Drop {
		for _, r := range reachable(c) {
			if name, ok := acceptsAllOn(r); ok {
				ds.Warnf(r.Pos, "this rule accepts everything leaving %q: a kill switch that kills nothing", name).Hint =
					"limit it to the VPN servers (oifname ... ip daddr $VPN_SERVERS accept), or accept only the tunnel interface"
			}
		}
	}
}

func acceptsSomething(c *ir.Chain) bool {
	return slices.ContainsFunc(reachable(c), func(r *ir.Rule) bool { return r.Verdict == ir.Accept })
}

// acceptsReplies reports a chain whose rules on ct state alone accept
// established and related packets, in one rule or several (a verdict
// map writes one for each state), or that accepts established packets
// of some flows only (Mullvad's accepts the relay's replies and nothing
// else from outside the tunnel): a choice, which the warning would
// only argue with.
func acceptsReplies(c *ir.Chain) bool {
	var accepted ir.Set
	for _, r := range reachable(c) {
		if r.Verdict != ir.Accept {
			continue
		}
		ct := r.Match(ir.FieldCtState)
		switch {
		case ct == nil:
		case len(r.Matches) == 1:
			accepted = accepted.Union(ct.Effective())
		case ct.Op == ir.Eq && ct.Effective().Contains(ir.CtStateSet(ir.CtEstablished)):
			return true
		}
	}
	return accepted.Contains(ir.CtStateSet(ir.CtEstablished, ir.CtRelated))
}

// tunnelPrefixes are interface names that carry a tunnel or stay local.
var tunnelPrefixes = []string{"lo", "tun", "tap", "wg", "ppp", "ipsec", "vti", "gre"}

// acceptsAllOn reports a rule that accepts all output on one interface that
// is not a tunnel or loopback.
func acceptsAllOn(r *ir.Rule) (string, bool) {
	if r.Verdict != ir.Accept || len(r.Matches) != 1 {
		return "", false
	}
	im := r.Matches[0]
	if im.Field != ir.FieldOifname && im.Field != ir.FieldOif || im.Op != ir.Eq {
		return "", false
	}
	for _, n := range ir.ValueStrings(ir.KindInterface, im.Values) {
		tunnel := false
		for _, p := range tunnelPrefixes {
			tunnel = tunnel || strings.HasPrefix(n, p)
		}
		if !tunnel {
			return n, true
		}
	}
	return "", false
}

// ruleWarnings holds a chain's warnings about its rules until the chain
// is done: a rule written once may be several (one a key of a set of
// concatenations, of a verdict map), and a warning about the line holds
// only when every one of them earns it.
type ruleWarnings struct {
	rules   map[ir.Pos]int            // the rules of each line
	earned  map[ir.Pos]map[string]int // of them, those with a warning of each kind
	pending []pendingWarning
}

type pendingWarning struct {
	r    *ir.Rule
	kind string
	d    *ir.Diagnostic
}

func newRuleWarnings(c *ir.Chain) *ruleWarnings {
	w := &ruleWarnings{rules: map[ir.Pos]int{}, earned: map[ir.Pos]map[string]int{}}
	for _, r := range c.Rules {
		w.rules[r.Pos]++
	}
	return w
}

// warnf holds a warning of a kind about rule r.
func (w *ruleWarnings) warnf(r *ir.Rule, kind, format string, args ...any) *ir.Diagnostic {
	if w.earned[r.Pos] == nil {
		w.earned[r.Pos] = map[string]int{}
	}
	w.earned[r.Pos][kind]++
	d := &ir.Diagnostic{Severity: ir.Warning, Pos: r.Pos, Message: fmt.Sprintf(format, args...)}
	w.pending = append(w.pending, pendingWarning{r, kind, d})
	return d
}

// emit adds to ds, once for each line and kind, the warnings every rule
// of the line earned.
func (w *ruleWarnings) emit(ds *ir.Diagnostics) {
	type key struct {
		pos  ir.Pos
		kind string
	}
	done := map[key]bool{}
	for _, p := range w.pending {
		k := key{p.r.Pos, p.kind}
		if done[k] || w.earned[p.r.Pos][p.kind] < w.rules[p.r.Pos] {
			continue
		}
		done[k] = true
		*ds = append(*ds, *p.d)
	}
}
