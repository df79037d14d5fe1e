package main

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/machine"
	"github.com/ksc-project/ksc/sim"
	"github.com/spf13/pflag"
)

const diffUsage = `Usage: ksc diff POLICY [flags]
       ksc diff OLD NEW [-e NAME] [-D NAME=VALUE]

Show what "ksc apply POLICY" would change in the live ruleset: lines with
"-" would go, lines with "+" would come. With --packets, what it would
change for packets, as below, the live ruleset read as ksc import reads
it.

With two policies, show what the change from OLD to NEW does to packets:
every region of packets whose verdict differs, found for all packets at
once as ksc test proves promises (no root, nothing loaded), each with a
packet of it and the rule that decides it on each side:

  opens out oifname "eth0" ip daddr 198.51.100.0/24 meta l4proto tcp th dport 22
    e.g. out eth0 tcp 192.0.2.2:40000 198.51.100.9:22: drop by the chains' policies, accept by new.ks:12:3

A region the comparison cannot be sure of (a rate, a named set, an
address masquerade picks) and no packet shows is marked "?".

Exit status: 0 when there is no difference, 1 when there is, 2 on
trouble (or a "?"), as diff(1) does; usable from cron, configuration
management and CI.

Examples:
  sudo ksc diff policy.ks
  sudo ksc diff policy.ks --netns try -e lan
  ksc diff policy.ks policy-new.ks
`

// liveFlags are the flags of a command that compares a policy with a
// live ruleset (diff, status, remove).
type liveFlags struct {
	flags                *pflag.FlagSet
	pf                   *policyFlags
	netns, backend, mode *string
}

func newLiveFlags(e env, name string) liveFlags {
	o := liveFlags{flags: newFlags(e, name), pf: &policyFlags{}}
	o.netns = namespaceFlag(o.flags)
	o.backend = o.flags.String("backend", "nft", "the ruleset to look at: nft, or iptables (both families' filter tables)")
	o.mode = o.flags.String("iptables-mode", "auto", "iptables: which iptables: auto, nft or legacy")
	oneOf(o.flags, "backend", backends.Names...)
	oneOf(o.flags, "iptables-mode", modes...)
	o.pf.register(o.flags)
	return o
}

// open opens the backend and loads the policy at path. It returns a
// non-negative exit status when the command should stop.
func (o liveFlags) open(e env, path string) (p *ir.Policy, ns enforce.Namespace, fw backends.Firewall, code int) {
	ns = enforce.Namespace(*o.netns)
	fw, err := backends.Open(*o.backend, ns.Path(), backends.Options{Mode: iptables.Mode(*o.mode)})
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc %s: %v\n", o.flags.Name(), err)
		return nil, "", nil, exitUsage
	}
	if p = o.pf.load(e, path); p == nil {
		return nil, "", nil, exitFailure
	}
	return p, ns, fw, -1
}

// liveCommand parses the flags of a command that compares a policy with a
// live ruleset (diff, status, remove), opens its backend and loads the
// policy. It returns a non-negative exit status when the command should
// stop.
func liveCommand(e env, name, usage string, args []string) (pf *policyFlags, p *ir.Policy, ns enforce.Namespace, fw backends.Firewall, code int) {
	o := newLiveFlags(e, name)
	if code := parseFlags(e, o.flags, usage, args); code >= 0 {
		return nil, nil, "", nil, code
	}
	path, ok := onePolicyArg(e, o.flags)
	if !ok {
		return nil, nil, "", nil, exitUsage
	}
	p, ns, fw, code = o.open(e, path)
	return o.pf, p, ns, fw, code
}

func runDiff(e env, args []string) int {
	o := newLiveFlags(e, "diff")
	byPacket := o.flags.Bool("packets", false, "compare what the live ruleset and POLICY do with packets, as ksc diff OLD NEW does (nft only)")
	if code := parseFlags(e, o.flags, diffUsage, args); code >= 0 {
		return code
	}
	if o.flags.NArg() == 2 {
		return policyDifference(e, o.pf, o.flags.Arg(0), o.flags.Arg(1))
	}
	path, ok := onePolicyArg(e, o.flags)
	if !ok {
		return exitUsage
	}
	if *byPacket {
		return liveDifference(e, o, path)
	}
	p, _, fw, code := o.open(e, path)
	if code == exitFailure {
		return exitUsage // diff(1): trouble is 2, not 1
	}
	if code >= 0 {
		return code
	}
	d, err := fw.Diff(p)
	if err != nil {
		o.pf.reportApplyError(e, err)
		return exitUsage
	}
	if !backends.Changed(d) {
		return exitOK
	}
	for _, l := range d {
		fmt.Fprintf(e.stdout, "%c %s\n", l.Op, l.Text)
	}
	return exitFailure
}

// policyDifference prints every region of packets whose verdict the two
// policies differ on, each with a packet that shows it.
func policyDifference(e env, pf *policyFlags, oldPath, newPath string) int {
	pf.cmd = "diff"
	old := pf.load(e, oldPath)
	if old == nil {
		return exitUsage
	}
	newer := pf.load(e, newPath)
	if newer == nil {
		return exitUsage
	}
	return printChanges(e, old, newer)
}

// liveDifference compares what the ruleset in force does with packets
// with what the policy at path would: the live ruleset read as ksc
// import reads it, which must leave out no rule.
func liveDifference(e env, o liveFlags, path string) int {
	if *o.backend != "nft" {
		fmt.Fprintln(e.stderr, "ksc diff: --packets reads the live ruleset as nft lists it; iptables' rules are not read yet")
		return exitUsage
	}
	src, err := machine.List(enforce.Namespace(*o.netns).Path())
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc diff: %v\n", err)
		return exitUsage
	}
	text, skipped, ds := lang.Import("the live ruleset", src)
	switch {
	case ds.HasErrors():
		printDiagnostics(e.stderr, ds, map[string][]byte{"the live ruleset": src})
		return exitUsage
	case len(skipped) > 0:
		fmt.Fprintf(e.stderr, "ksc diff: the live ruleset has %d rules the policy language cannot say, first %s: what it does with packets is not known\n", len(skipped), skipped[0].Error())
		return exitUsage
	}
	live, ds := lang.Load("the live ruleset", text, lang.Config{})
	if ds.HasErrors() {
		printDiagnostics(e.stderr, ds, map[string][]byte{"the live ruleset": text})
		return exitUsage
	}
	o.pf.cmd = "diff"
	p := o.pf.load(e, path)
	if p == nil {
		return exitUsage
	}
	return printChanges(e, live, p)
}

// printChanges prints every region of packets whose verdict the two
// policies differ on, each with a packet that shows it; its exit status
// is diff(1)'s.
func printChanges(e env, old, newer *ir.Policy) int {
	changes, err := sim.Difference(old, newer)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc diff: %v\n", err)
		return exitUsage
	}
	unknown := false
	for _, c := range changes {
		verb := "closes"
		switch {
		case c.New == ir.Accept:
			verb = "opens"
		case c.Old != ir.Accept:
			verb = c.Old.String() + " to " + c.New.String() + ":"
		}
		if c.Witness == "" {
			unknown = true
			fmt.Fprintf(e.stdout, "? %s: %s and %s may differ, because %s\n", sim.FormatRegion(c.Dir, c.Packets), decision(c.Old, c.OldBy), decision(c.New, c.NewBy), strings.Join(c.Maybe, "; "))
			continue
		}
		fmt.Fprintf(e.stdout, "%s %s\n  e.g. %s: %s by %s, %s by %s\n", verb, sim.FormatRegion(c.Dir, c.Packets), c.Witness, c.Old, c.OldWhy, c.New, c.NewWhy)
	}
	switch {
	case unknown:
		return exitUsage
	case len(changes) > 0:
		return exitFailure
	}
	return exitOK
}

// decision says what gave a verdict: a rule, or the chains' policies.
func decision(v ir.Verdict, r *ir.Rule) string {
	if v == ir.NoVerdict {
		return "unknown"
	}
	if r == nil {
		return v.String() + " by the chains' policies"
	}
	return v.String() + " by " + r.Pos.String()
}

const statusUsage = `Usage: ksc status POLICY [flags]

Show whether POLICY's ruleset is loaded, and each rule's counter next to
its policy line. A rule of more than 160 characters (a large set written
inline) is shown by its start and end; its policy line has all of it.
Then every way the policy's tables differ from the policy: a chain's
policy, hook, priority or type, and chains and rules the policy does not
have (another program's "insert rule ... accept"). Exit status 0 when the
tables hold exactly the policy, 1 when not.

Examples:
  sudo ksc status policy.ks
  sudo ksc status policy.ks --netns try
`

func runStatus(e env, args []string) int {
	pf, p, _, fw, code := liveCommand(e, "status", statusUsage, args)
	if code >= 0 {
		return code
	}
	status, err := fw.Status(p)
	if err != nil {
		pf.reportApplyError(e, err)
		return exitFailure
	}
	missing := 0
	if len(status.Rules) > 0 {
		fmt.Fprintf(e.stdout, "%-28s %-8s %12s %14s  %s\n", "POLICY LINE", "CHAIN", "PACKETS", "BYTES", "RULE")
	}
	for _, r := range status.Rules {
		packets, bytes := fmt.Sprint(r.Packets), fmt.Sprint(r.Bytes)
		if !r.Counted {
			packets, bytes = "-", "-"
		}
		if !r.Loaded {
			packets, bytes = "missing", "-"
			missing++
		}
		fmt.Fprintf(e.stdout, "%-28s %-8s %12s %14s  %s\n", r.Pos, r.Chain, packets, bytes, ruleColumn(r.Text))
	}
	if missing > 0 {
		fmt.Fprintf(e.stdout, "%d of %d rules are not loaded\n", missing, len(status.Rules))
	}
	if len(status.Differences) > 0 {
		// A policy turned to accept, or a rule the policy does not have,
		// weakens the kill switch though every rule of it is there.
		fmt.Fprintln(e.stdout, "the policy's tables differ from the policy (\"-\": only in the kernel, \"+\": only in the policy):")
		for _, l := range status.Differences {
			fmt.Fprintf(e.stdout, "%c %s\n", l.Op, l.Text)
		}
		return exitFailure
	}
	if missing > 0 {
		return exitFailure
	}
	if len(status.Rules) > 0 {
		fmt.Fprintf(e.stdout, "all %d rules are loaded, and nothing else is in the policy's tables\n", len(status.Rules))
	} else {
		fmt.Fprintf(e.stdout, "the %s backend's tables hold exactly the policy's rules\n", fw.Name())
	}
	return exitOK
}

// ruleColumnMax is the most characters of a rule the status table shows.
const ruleColumnMax = 160

// ruleColumn is a rule's text as the status table shows it: a rule longer
// than ruleColumnMax characters loses its middle (a rule with 100,000
// addresses written inline was one line of 1.5 MB). The policy line in the
// first column points to the whole rule.
func ruleColumn(text string) string {
	if utf8.RuneCountInString(text) <= ruleColumnMax {
		return text
	}
	const gap = " … "
	runes := []rune(text)
	tail := ruleColumnMax / 4
	head := ruleColumnMax - tail - utf8.RuneCountInString(gap)
	return string(runes[:head]) + gap + string(runes[len(runes)-tail:])
}

const removeUsage = `Usage: ksc remove POLICY [flags]

Delete POLICY's tables, and only those, in one transaction. Other tables
are left alone, also when the policy owns the whole ruleset. With
--backend iptables, a policy with "flush ruleset" owns the filter tables:
they are emptied and their policies set to ACCEPT; one without it lives in
ksc's own chains (KSC-INPUT, ...), which are removed with the jumps into
them, leaving every other rule.

Examples:
  sudo ksc remove policy.ks
  sudo ksc remove policy.ks --netns try
`

func runRemove(e env, args []string) int {
	_, p, ns, fw, code := liveCommand(e, "remove", removeUsage, args)
	if code >= 0 {
		return code
	}
	// A running "ksc watch" learns that nothing is to be in force, and
	// does not put the policy back.
	if err := ns.Remove(fw, p, enforce.By("remove")); err != nil {
		fmt.Fprintf(e.stderr, "ksc remove: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "ksc remove: removed %s (%s backend)\n", p.Source, fw.Name())
	return exitOK
}
