package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/enforce"
)

const watchUsage = `Usage: ksc watch POLICY [--netns NAME] [-e NAME] [-D NAME=VALUE] [--backend nft|iptables]

Keep POLICY in force: whenever another program deletes or changes its
tables, chains or rules ("nft flush ruleset", a firewall reload), put them
back in one transaction and say what was found. It runs until stopped.

With the nft backend it listens to the kernel's nf_tables events and
answers within milliseconds; its own writes are never answered, and tables
of other programs are left alone (also for a policy that flushes the
ruleset when applied). With --backend iptables it compares the filter
tables every --interval and applies the policy again when they differ.
A repair replaces the rules in place, so that what the policy forbids is
dropped throughout, and closes the connections that started while the
policy was not in force.

It keeps what ksc last put in force: after a later "ksc apply" of another
policy (or the same with other options), that policy; after "ksc remove",
nothing, until the next apply.

"ksc install --watch" installs a unit that runs it from boot.

Examples:
  sudo ksc watch policy.ks -e lan
  sudo ksc watch policy.ks --backend iptables --interval 5s
`

func runWatch(e env, args []string) int {
	flags := newFlags(e, "watch")
	var pf policyFlags
	netns := namespaceFlag(flags)
	backend := flags.String("backend", "nft", "nft (events), or iptables (checked every --interval)")
	mode := flags.String("iptables-mode", "auto", "iptables: which iptables: auto, nft or legacy")
	oneOf(flags, "backend", backends.Names...)
	oneOf(flags, "iptables-mode", modes...)
	interval := flags.Duration("interval", 2*time.Second, "iptables: how often to compare")
	pf.register(flags)
	if code := parseFlags(e, flags, watchUsage, args); code >= 0 {
		return code
	}
	path, ok := onePolicyArg(e, flags)
	if !ok {
		return exitUsage
	}
	ns := enforce.Namespace(*netns)
	fw, err := backends.Open(*backend, ns.Path(), backends.Options{Mode: iptables.Mode(*mode), Interval: *interval})
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc watch: %v\n", err)
		return exitUsage
	}
	p := pf.load(e, path)
	if p == nil {
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	notify := func(msg string) { fmt.Fprintf(e.stderr, "ksc watch: %s %s\n", stamp(), msg) }
	k, err := ns.Keep(p, enforce.PolicyIntent(p, pf.sources[p.Source], pf.enable, pf.defines, fw.Name(), "watch"), notify)
	if err == nil {
		fmt.Fprintf(e.stderr, "ksc watch: keeping %s in force with the %s backend\n", p.Source, fw.Name())
		err = fw.Watch(ctx, k, func(r backends.Repair) { reportRepair(e, r) })
	}
	if err != nil {
		pf.reportError(e, "watch", err)
		return exitFailure
	}
	return exitOK
}

// reportRepair says what watch found and did.
func reportRepair(e env, r backends.Repair) {
	who := ""
	if r.By != "" {
		who = " after " + r.By
	}
	switch {
	case r.Err != nil:
		fmt.Fprintf(e.stderr, "ksc watch: %s%s: %v\n", stamp(), who, r.Err)
		return
	case r.Paused > 0:
		fmt.Fprintf(e.stderr, "ksc watch: %s%s: another program keeps changing the policy's tables; waiting %s before the next repair\n", stamp(), who, r.Paused)
		return
	case len(r.Changes) == 0:
		return
	}
	fmt.Fprintf(e.stderr, "ksc watch: %s%s: put the policy back in %s (%d lines were missing or changed)\n",
		stamp(), who, r.Took.Round(time.Microsecond), len(r.Changes))
	for i, l := range r.Changes {
		if i == maxListed {
			fmt.Fprintf(e.stderr, "  … and %d more\n", len(r.Changes)-maxListed)
			break
		}
		fmt.Fprintf(e.stderr, "  %c %s\n", l.Op, l.Text)
	}
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339) }
