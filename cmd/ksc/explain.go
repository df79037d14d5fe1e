package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
)

var explainUsage = `Usage: ksc explain POLICY PACKET... [flags]
       ksc explain --live [--netns NAME] [--in-force] [POLICY] PACKET...

Say what POLICY does with one packet, without loading anything: the chains
the packet crosses, the rule that decides it (with its policy line), the
verdict, and for each earlier rule the first of its matches that did not
hold. The answer comes from ksc's own model of the kernel, which the test
suite holds against the kernel's verdicts with real packets.

With --live, the whole machine: every table in force (root; nft list
ruleset, in the namespace --netns names), other programs' included
(Docker's, fail2ban's, firewalld's, iptables-nft's), and with POLICY, as
applying it would leave them (its tables in place of theirs of the same
names), or with --in-force as they are, the policy applied already with
either backend. Positions are lines of "nft list ruleset" ("live:12:3"). A rule
ksc cannot read (an iptables match nft lists as "xt match NAME") is tried
both ways: the verdict is known when both ways give it, and is otherwise
"unknown", naming the rule and its table; so is every verdict when the
machine has a table or chain ksc reads nothing of (bridge, netdev,
ingress).

PACKET (one argument, or the rest of the command line):
  ` + sim.PacketSyntax + `

Examples:
  ksc explain examples/ivpn-killswitch.ks out eth0 udp 192.0.2.2:40000 185.212.170.138:1194
  ksc explain examples/ivpn-killswitch.ks -e lan out eth0 tcp 192.168.0.2:40000 192.168.0.9:22
  ksc explain policy.ks --json in wg0 tcp [2001:db8::9]:443 [2001:db8::2]:5000
  sudo ksc explain --live forward docker0 eth0 tcp 172.17.0.2:40000 198.51.100.7:443
`

func runExplain(e env, args []string) int {
	fs := newFlags(e, "explain")
	var pf policyFlags
	asJSON := fs.Bool("json", false, "print the answer as JSON, for scripts")
	mf := registerMachineFlags(fs, "the whole machine: every table in force, other programs' too (root)")
	live := mf.live
	pf.register(fs)
	fs.SetInterspersed(false)
	if code := parseFlags(e, fs, explainUsage, args); code >= 0 {
		return code
	}
	// Flags may also follow the policy: parse again after it, up to the
	// packet's first word (which is never a flag).
	rest := fs.Args()
	path := ""
	if len(rest) > 0 && !(*live && isDirection(rest[0])) {
		path, rest = rest[0], rest[1:]
	}
	if len(rest) < 1 || path == "" && !*live {
		fmt.Fprintln(e.stderr, "ksc explain: want a policy and a packet; see ksc explain --help")
		return exitUsage
	}
	if err := fs.Parse(rest); err != nil {
		fmt.Fprintf(e.stderr, "ksc explain: %v\n", err)
		return exitUsage
	}
	if mf.misused(e) {
		return exitUsage
	}
	line := strings.Join(fs.Args(), " ")
	pkt, err := sim.ParsePacket(line)
	if err != nil {
		var pe *sim.PacketError
		if errors.As(err, &pe) {
			d := ir.Diagnostic{Pos: ir.Pos{File: "packet", Line: 1, Col: pe.Col}, Message: pe.Msg, Hint: pe.Hint}
			fmt.Fprint(e.stderr, d.Render([]byte(line)))
		} else {
			fmt.Fprintf(e.stderr, "ksc explain: %v\n", err)
		}
		return exitFailure
	}
	var p *ir.Policy
	if path != "" {
		if p = pf.load(e, path); p == nil {
			return exitFailure
		}
	}
	var res sim.Result
	unsure := ""
	if !*live {
		res = sim.Evaluate(p, pkt)
	} else {
		m, err := mf.read(p)
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc explain: %v\n", err)
			return exitUsage
		}
		res, unsure = m.Evaluate(pkt)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(explanation(res, unsure))
		return exitOK
	}
	writeExplanation(e, line, res, unsure)
	if res.Final.Dir != pkt.Dir && res.Final.Dir != 0 {
		fmt.Fprintf(e.stdout, "routed: after the dnat the machine %s it%s\n", map[sim.Direction]string{sim.In: "delivers", sim.Forward: "forwards"}[res.Final.Dir],
			map[bool]string{true: " out of " + res.Final.Oif, false: ""}[res.Final.Oif != ""])
	}
	return exitOK
}

// isDirection reports whether word starts a packet line.
// isDirection reports an argument that starts a packet line: its first
// word, whether the line is given as words or as one quoted argument.
func isDirection(arg string) bool {
	word, _, _ := strings.Cut(strings.TrimSpace(arg), " ")
	return word == "in" || word == "out" || word == "forward"
}

func writeExplanation(e env, line string, res sim.Result, unsure string) {
	fmt.Fprintf(e.stdout, "packet: %s\n", line)
	if len(res.Steps) == 0 {
		fmt.Fprintln(e.stdout, "no chain of the policy sees this packet")
	}
	for _, st := range res.Steps {
		kind := ""
		if st.Chain.Type != ir.ChainFilter {
			kind = "type " + st.Chain.Type.String() + ", "
		}
		fmt.Fprintf(e.stdout, "chain %s %s %s (%shook %s, priority %d, policy %s):\n",
			st.Table.Family, st.Table.Name, st.Chain.Name, kind, st.Chain.Hook, st.Chain.Priority, st.Chain.Policy)
		writeChainWalk(e, st, st.Chain, "  ")
		if st.Rule == nil {
			fmt.Fprintf(e.stdout, "  no rule decides: the chain's policy, %s\n", st.Verdict)
		}
	}
	verdict := fmt.Sprint(res.Verdict)
	if d := res.Decided(); d != nil && d.Rule != nil {
		verdict += " (" + d.Rule.Pos.String() + ")"
	}
	switch {
	case unsure != "":
		verdict = "unknown, because " + unsure
	case len(res.Unread) > 0:
		verdict += ", whichever way the rules ksc cannot read go (" + unreadPositions(res.Unread) + ")"
	}
	fmt.Fprintf(e.stdout, "verdict: %s\n", verdict)
	for _, c := range res.Conditions() {
		fmt.Fprintf(e.stdout, "depends on: %s\n", c)
	}
	for _, u := range res.Unknown {
		fmt.Fprintf(e.stdout, "assumes: %s\n", u)
	}
}

// writeChainWalk writes the rules of chain c the packet met, and how
// each went, following jumps and gotos into regular chains. It reports
// whether a rule decided; otherwise the packet left c (its end, a return,
// or the end of a chain it went to).
func writeChainWalk(e env, st sim.Step, c *ir.Chain, indent string) (decided bool) {
	missed := map[*ir.Rule]sim.Miss{}
	for _, m := range st.Missed {
		missed[m.Rule] = m
	}
	for _, r := range c.Rules {
		text := ruleText(st.Table.Family, r)
		m, miss := missed[r]
		switch {
		case miss && m.Match == nil:
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    no, on the way shown: ksc cannot read %s and tries it both ways\n", indent, r.Pos, text, indent, r.Unread.Why)
		case miss:
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    no: %s does not hold\n", indent, r.Pos, text, indent, m.Match.Text())
		case r == st.Rule && r.Unread != nil && r.Unread.Acts:
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    may match, and then does what ksc cannot read (%s)\n", indent, r.Pos, text, indent, r.Unread.Why)
			return true
		case r == st.Rule && r.Limit() != nil:
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    matches: %s, %s (past the rate, the packet goes on)\n", indent, r.Pos, text, indent, r.VerdictText(), r.Limit().Condition())
			return true
		case r == st.Rule:
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    matches: %s\n", indent, r.Pos, text, indent, r.VerdictText())
			return true
		case slices.Contains(st.Jumped, r):
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    matches: %s, into chain %s:\n", indent, r.Pos, text, indent, r.VerdictText(), r.Target.Name)
			if writeChainWalk(e, st, r.Target, indent+"  ") {
				return true
			}
			if r.Verdict == ir.Goto {
				return false
			}
			fmt.Fprintf(e.stdout, "%s    back from chain %s\n", indent, r.Target.Name)
		case slices.Contains(st.Returned, r):
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    matches: return\n", indent, r.Pos, text, indent)
			return false
		case r.Limit() != nil && r.Limit().Over && r.Verdict != ir.NoVerdict:
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    matches, and decides nothing while under the rate (%s would it: %s)\n", indent, r.Pos, text, indent, r.Limit().Condition(), r.VerdictText())
		case slices.Contains(st.Passed, r):
			fmt.Fprintf(e.stdout, "%s%s  %s\n%s    matches, and decides nothing\n", indent, r.Pos, text, indent)
		default:
			return false // not reached
		}
	}
	return false
}

// explained is the JSON form of an answer.
type explained struct {
	Verdict string         `json:"verdict"`
	Chains  []explainedHop `json:"chains"`
	// Conditions are the rates and dynamic sets the verdict depends on:
	// the simulator takes the packet to be under every rate, and each
	// set to hold only what the packet's own way added.
	Conditions []string `json:"conditions,omitempty"`
	// Assumes says what a rewrite made of the packet that the simulator
	// cannot know (the address of an interface), and what it took it to be.
	Assumes []string `json:"assumes,omitempty"`
	// Unknown says why the verdict is "unknown"; Unread are the rules ksc
	// cannot read that the packet met, tried both ways (--live).
	Unknown string   `json:"unknown,omitempty"`
	Unread  []string `json:"unread,omitempty"`
}

type explainedHop struct {
	Table   string          `json:"table"`
	Chain   string          `json:"chain"`
	Hook    string          `json:"hook"`
	Verdict string          `json:"verdict"`
	Rule    string          `json:"rule,omitempty"` // the deciding rule's position
	Missed  []explainedMiss `json:"missed,omitempty"`
}

type explainedMiss struct {
	Rule  string `json:"rule"`
	Match string `json:"match"`
}

// ruleText is the rule as nft writes it, or as it was listed where ksc
// could not read it.
func ruleText(f ir.Family, r *ir.Rule) string {
	if r.Unread != nil {
		return r.Unread.Text
	}
	return nft.RuleText(f, r)
}

func unreadPositions(rules []*ir.Rule) string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Pos.String())
	}
	return strings.Join(out, ", ")
}

func explanation(res sim.Result, unsure string) explained {
	out := explained{Verdict: res.Verdict.String(), Conditions: res.Conditions(), Assumes: res.Unknown, Unknown: unsure}
	if unsure != "" {
		out.Verdict = "unknown"
	}
	for _, r := range res.Unread {
		out.Unread = append(out.Unread, r.Pos.String()+" "+r.Unread.String())
	}
	for _, st := range res.Steps {
		hop := explainedHop{Table: st.Table.Family.String() + " " + st.Table.Name, Chain: st.Chain.Name,
			Hook: st.Chain.Hook.String(), Verdict: st.Verdict.String()}
		if st.Rule != nil {
			hop.Rule = st.Rule.Pos.String()
		}
		for _, m := range st.Missed {
			why := "ksc cannot read it; tried both ways"
			if m.Match != nil {
				why = m.Match.Text()
			}
			hop.Missed = append(hop.Missed, explainedMiss{m.Rule.Pos.String(), why})
		}
		out.Chains = append(out.Chains, hop)
	}
	return out
}
