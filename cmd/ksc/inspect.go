package main

import (
	"fmt"
	"unicode/utf8"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/ir"
)

const diffUsage = `Usage: ksc diff POLICY [flags]

Show what "ksc apply POLICY" would change in the live ruleset: lines with
"-" would go, lines with "+" would come. Exit status: 0 when applying would
change nothing, 1 when it would, 2 on trouble, as diff(1) does; usable from
cron and configuration management.

Examples:
  sudo ksc diff policy.ks
  sudo ksc diff policy.ks --netns try -e lan
`

// liveCommand parses the flags of a command that compares a policy with a
// live ruleset (diff, status, remove), opens its backend and loads the
// policy. It returns a non-negative exit status when the command should
// stop.
func liveCommand(e env, name, usage string, args []string) (pf *policyFlags, p *ir.Policy, ns enforce.Namespace, fw backends.Firewall, code int) {
	flags := newFlags(e, name)
	pf = &policyFlags{}
	netns := namespaceFlag(flags)
	backend := flags.String("backend", "nft", "the ruleset to look at: nft, or iptables (both families' filter tables)")
	mode := flags.String("iptables-mode", "auto", "iptables: which iptables: auto, nft or legacy")
	oneOf(flags, "backend", backends.Names...)
	oneOf(flags, "iptables-mode", modes...)
	pf.register(flags)
	if code := parseFlags(e, flags, usage, args); code >= 0 {
		return nil, nil, "", nil, code
	}
	path, ok := onePolicyArg(e, flags)
	if !ok {
		return nil, nil, "", nil, exitUsage
	}
	ns = enforce.Namespace(*netns)
	fw, err := backends.Open(*backend, ns.Path(), backends.Options{Mode: iptables.Mode(*mode)})
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc %s: %v\n", name, err)
		return nil, nil, "", nil, exitUsage
	}
	if p = pf.load(e, path); p == nil {
		return nil, nil, "", nil, exitFailure
	}
	return pf, p, ns, fw, -1
}

func runDiff(e env, args []string) int {
	pf, p, _, fw, code := liveCommand(e, "diff", diffUsage, args)
	if code == exitFailure {
		return exitUsage // diff(1): trouble is 2, not 1
	}
	if code >= 0 {
		return code
	}
	d, err := fw.Diff(p)
	if err != nil {
		pf.reportApplyError(e, err)
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
