package main

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
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
// live ruleset (diff, status, remove) and loads the policy. It returns a
// non-negative exit status when the command should stop.
func liveCommand(e env, name, usage string, args []string) (pf *policyFlags, p *ir.Policy, live liveTarget, code int) {
	flags := newFlags(e, name)
	pf = &policyFlags{}
	netns := namespaceFlag(flags)
	backend := flags.String("backend", "nft", "the ruleset to look at: nft, or iptables (both families' filter tables)")
	mode := flags.String("iptables-mode", "auto", "iptables: which iptables: auto, nft or legacy")
	pf.register(flags)
	if code := parseFlags(e, flags, usage, args); code >= 0 {
		return nil, nil, live, code
	}
	path, ok := onePolicyArg(e, flags)
	if !ok {
		return nil, nil, live, exitUsage
	}
	if *backend != "nft" && *backend != "iptables" {
		fmt.Fprintf(e.stderr, "ksc %s: --backend is nft or iptables, not %q\n", name, *backend)
		return nil, nil, live, exitUsage
	}
	if p = pf.load(e, path); p == nil {
		return nil, nil, live, exitFailure
	}
	return pf, p, liveTarget{netns: *netns, nsPath: nsenter.Path(*netns), iptables: *backend == "iptables", mode: iptables.Mode(*mode)}, -1
}

// liveTarget is the live ruleset a command looks at.
type liveTarget struct {
	netns    string // as given
	nsPath   string
	iptables bool
	mode     iptables.Mode
}

// iptablesDiff prints how the live iptables rules differ from the policy's
// and returns 0 when they match, 1 when not.
func iptablesDiff(e env, pf *policyFlags, p *ir.Policy, live liveTarget) int {
	diff, err := iptables.Status(p, live.nsPath, live.mode)
	if err != nil {
		pf.reportError(e, "status", err)
		return exitUsage
	}
	for _, l := range diff {
		fmt.Fprintln(e.stdout, l)
	}
	if len(diff) > 0 {
		return exitFailure
	}
	return exitOK
}

func runDiff(e env, args []string) int {
	pf, p, live, code := liveCommand(e, "diff", diffUsage, args)
	if code == exitFailure {
		return exitUsage // diff(1): trouble is 2, not 1
	}
	if code >= 0 {
		return code
	}
	if live.iptables {
		return iptablesDiff(e, pf, p, live)
	}
	b, err := nft.Lower(p)
	if err != nil {
		pf.reportError(e, "diff", err)
		return exitUsage
	}
	d, err := kernel.Diff(b, live.nsPath)
	if err != nil {
		pf.reportApplyError(e, err)
		return exitUsage
	}
	if !kernel.Changed(d) {
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
	pf, p, live, code := liveCommand(e, "status", statusUsage, args)
	if code >= 0 {
		return code
	}
	if live.iptables {
		if status := iptablesDiff(e, pf, p, live); status != exitOK {
			fmt.Fprintln(e.stdout, "the iptables rules differ from the policy's (\"+\": applying would add, \"-\": remove)")
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "the iptables and ip6tables %s tables hold exactly the policy's rules\n", joinTables(iptables.Tables(p)))
		return exitOK
	}
	b, err := nft.Lower(p)
	if err != nil {
		pf.reportError(e, "status", err)
		return exitFailure
	}
	report, err := kernel.Status(b, live.nsPath)
	if err != nil {
		pf.reportApplyError(e, err)
		return exitFailure
	}
	rules := report.Rules
	missing := 0
	fmt.Fprintf(e.stdout, "%-28s %-8s %12s %14s  %s\n", "POLICY LINE", "CHAIN", "PACKETS", "BYTES", "RULE")
	for _, r := range rules {
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
		fmt.Fprintf(e.stdout, "%d of %d rules are not loaded\n", missing, len(rules))
	}
	if len(report.Differences) > 0 {
		// A policy turned to accept, or a rule the policy does not have,
		// weakens the kill switch though every rule of it is there.
		fmt.Fprintln(e.stdout, "the policy's tables differ from the policy (\"-\": only in the kernel, \"+\": only in the policy):")
		for _, l := range report.Differences {
			fmt.Fprintf(e.stdout, "%c %s\n", l.Op, l.Text)
		}
		return exitFailure
	}
	if missing > 0 {
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "all %d rules are loaded, and nothing else is in the policy's tables\n", len(rules))
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
	pf, p, live, code := liveCommand(e, "remove", removeUsage, args)
	if code >= 0 {
		return code
	}
	// A running "ksc watch" learns that nothing is to be in force, and
	// does not put the policy back.
	removed := intent{Removed: true, By: fmt.Sprintf("ksc remove[%d]", os.Getpid())}
	if live.iptables && iptables.Owned(p) {
		if err := changeRuleset(live.netns, removed, func() error { return iptables.RemoveOwned(live.nsPath, live.mode) }); err != nil {
			fmt.Fprintf(e.stderr, "ksc remove: %v\n", err)
			return exitFailure
		}
		fmt.Fprintln(e.stderr, "ksc remove: removed ksc's chains (KSC-INPUT, KSC-FORWARD, KSC-OUTPUT) and the jumps into them; other rules are as they were")
		return exitOK
	}
	if live.iptables {
		tables := iptables.Tables(p)
		if err := changeRuleset(live.netns, removed, func() error { return iptables.Remove(live.nsPath, live.mode, tables) }); err != nil {
			fmt.Fprintf(e.stderr, "ksc remove: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(e.stderr, "ksc remove: emptied the iptables and ip6tables %s tables (policies ACCEPT)\n", joinTables(tables))
		return exitOK
	}
	b, err := nft.Lower(p)
	if err != nil {
		pf.reportError(e, "remove", err)
		return exitFailure
	}
	if err := changeRuleset(live.netns, removed, func() error { return kernel.Remove(b, live.nsPath) }); err != nil {
		fmt.Fprintf(e.stderr, "ksc remove: %v\n", err)
		return exitFailure
	}
	for _, t := range b.Tables {
		fmt.Fprintf(e.stderr, "ksc remove: removed table %s\n", t)
	}
	return exitOK
}

// joinTables names tables as a sentence does: "filter", "filter and nat",
// "filter, nat and mangle".
func joinTables(tables []string) string {
	if len(tables) == 1 {
		return tables[0]
	}
	return strings.Join(tables[:len(tables)-1], ", ") + " and " + tables[len(tables)-1]
}
