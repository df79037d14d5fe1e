// Package lint finds rules in a valid policy that do nothing useful or do
// something the author probably did not mean, and reports them as warnings.
package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// Check returns the warnings for p, in policy order.
func Check(p *ir.Policy) ir.Diagnostics {
	var ds ir.Diagnostics
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			checkChain(t, c, &ds)
		}
	}
	return ds
}

func checkChain(t *ir.Table, c *ir.Chain, ds *ir.Diagnostics) {
	var earlierRules shadowIndex
	for _, r := range c.Rules {
		earlier := earlierRules.coverer(r)
		// A rate-limited verdict decides only some of the packets it
		// matches: the rules after it still see the rest.
		if r.Verdict != ir.NoVerdict && r.Limit() == nil {
			earlierRules.add(r)
		}
		if earlier != nil {
			d := ds.Warnf(r.Pos, "this rule never sees a packet: the rule at %s %ss every packet it would match", earlier.Pos, earlier.Verdict)
			if len(earlier.Matches) == 0 {
				d.Message = fmt.Sprintf("this rule never sees a packet: the rule at %s %ss every packet", earlier.Pos, earlier.Verdict)
				d.Hint = "rules after a catch-all verdict are dead; move this rule above it"
			} else {
				d.Hint = "move it above that rule, or delete it"
			}
		}
	}
	// A chain that accepts nothing means to block everything, replies too.
	if c.Hook == ir.HookInput && c.Policy == ir.Drop && acceptsSomething(c) && !acceptsReplies(c) {
		ds.Warnf(c.Pos, "input chain %s drops by default and never accepts ct state established,related", c.Name).Hint =
			"replies to your own connections will be dropped: add \"ct state related,established accept\""
	}
	if c.Hook == ir.HookOutput && c.Policy == ir.Drop {
		for _, r := range c.Rules {
			if name, ok := acceptsAllOn(r); ok {
				ds.Warnf(r.Pos, "this rule accepts everything leaving %q: a kill switch that kills nothing", name).Hint =
					"limit it to the VPN servers (oifname ... ip daddr $VPN_SERVERS accept), or accept only the tunnel interface"
			}
		}
	}
}

func acceptsSomething(c *ir.Chain) bool {
	return slices.ContainsFunc(c.Rules, func(r *ir.Rule) bool { return r.Verdict == ir.Accept })
}

func acceptsReplies(c *ir.Chain) bool {
	for _, r := range c.Rules {
		if r.Verdict != ir.Accept {
			continue
		}
		replies := ir.CtStateSet(ir.CtEstablished, ir.CtRelated)
		if ct := r.Match(ir.FieldCtState); ct != nil && len(r.Matches) == 1 && ct.Effective().Contains(replies) {
			return true
		}
	}
	return false
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
	if im.Field != ir.FieldOifname || im.Op != ir.Eq {
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
