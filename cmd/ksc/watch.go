package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
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
	interval := flags.Duration("interval", 2*time.Second, "iptables: how often to compare")
	pf.register(flags)
	if code := parseFlags(e, flags, watchUsage, args); code >= 0 {
		return code
	}
	path, ok := onePolicyArg(e, flags)
	if !ok {
		return exitUsage
	}
	if *backend != "nft" && *backend != "iptables" {
		fmt.Fprintf(e.stderr, "ksc watch: --backend is nft or iptables, not %q\n", *backend)
		return exitUsage
	}
	p := pf.load(e, path)
	if p == nil {
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	nsPath := nsenter.Path(*netns)
	var err error
	if *backend == "iptables" {
		err = watchIptables(ctx, e, p, nsPath, iptables.Mode(*mode), *interval)
	} else {
		err = watchNft(ctx, e, &pf, p, nsPath)
	}
	if err != nil {
		pf.reportError(e, "watch", err)
		return exitFailure
	}
	return exitOK
}

func watchNft(ctx context.Context, e env, pf *policyFlags, p *ir.Policy, nsPath string) error {
	b, err := nft.Lower(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "ksc watch: keeping %d tables of %s in force\n", len(b.Tables), p.Source)
	return kernel.Watch(ctx, b, nsPath, func(r kernel.Repair) {
		who := "at the start"
		if r.By != "" {
			who = "after " + r.By
		}
		switch {
		case r.Err != nil:
			fmt.Fprintf(e.stderr, "ksc watch: %s %s: %v\n", stamp(), who, r.Err)
			return
		case r.Paused > 0:
			fmt.Fprintf(e.stderr, "ksc watch: %s %s: another program keeps changing the policy's tables; waiting %s before the next repair\n", stamp(), who, r.Paused)
			return
		}
		fmt.Fprintf(e.stderr, "ksc watch: %s %s: put the policy back in %s (%d lines were missing or changed)\n",
			stamp(), who, r.Took.Round(time.Microsecond), len(r.Changes))
		for i, l := range r.Changes {
			if i == maxListed {
				fmt.Fprintf(e.stderr, "  … and %d more\n", len(r.Changes)-maxListed)
				break
			}
			fmt.Fprintf(e.stderr, "  %c %s\n", l.Op, l.Text)
		}
	}, func(repair func() error) error {
		report, err := flows.Transition(nsPath, flows.Allows(p), repair)
		reportFlows(e, "watch", report)
		return err
	})
}

// watchIptables compares the filter tables with the policy every interval
// and applies the policy again when they differ.
func watchIptables(ctx context.Context, e env, p *ir.Policy, nsPath string, mode iptables.Mode, interval time.Duration) error {
	fmt.Fprintf(e.stderr, "ksc watch: keeping the iptables and ip6tables rules of %s in force, checked every %s\n", p.Source, interval)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		diff, err := iptables.Status(p, nsPath, mode)
		switch {
		case err != nil:
			fmt.Fprintf(e.stderr, "ksc watch: %s reading the rules: %v\n", stamp(), err)
		case len(diff) > 0:
			start := time.Now()
			if err := iptables.Apply(p, nsPath, mode); err != nil {
				fmt.Fprintf(e.stderr, "ksc watch: %s putting the policy back: %v\n", stamp(), err)
				break
			}
			fmt.Fprintf(e.stderr, "ksc watch: %s put the policy back in %s (%d lines differed)\n", stamp(), time.Since(start).Round(time.Microsecond), len(diff))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339) }
