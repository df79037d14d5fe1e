package main

import (
	"bytes"
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
	k := &keeper{e: e, netns: *netns, nsPath: nsenter.Path(*netns), backend: *backend, path: p.Source, policy: p}
	var err error
	if *backend == "nft" {
		k.batch, err = nft.Lower(p)
	}
	if err == nil {
		err = k.start(policyIntent(&pf, p, *backend, "watch"))
	}
	if err == nil && *backend == "iptables" {
		err = watchIptables(ctx, e, k, iptables.Mode(*mode), *interval)
	} else if err == nil {
		err = watchNft(ctx, e, k)
	}
	if err != nil {
		pf.reportError(e, "watch", err)
		return exitFailure
	}
	return exitOK
}

func watchNft(ctx context.Context, e env, k *keeper) error {
	fmt.Fprintf(e.stderr, "ksc watch: keeping %s in force\n", k.path)
	return kernel.Watch(ctx, k.nsPath, k, func(r kernel.Repair) {
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
	})
}

// watchIptables compares the tables with the policy every interval and
// applies the policy again when they differ.
func watchIptables(ctx context.Context, e env, k *keeper, mode iptables.Mode, interval time.Duration) error {
	fmt.Fprintf(e.stderr, "ksc watch: keeping the iptables and ip6tables rules of %s in force, checked every %s\n", k.path, interval)
	return iptables.Watch(ctx, k.nsPath, mode, interval, iptablesKeeper{k}, func(r iptables.Repair) {
		if r.Err != nil {
			fmt.Fprintf(e.stderr, "ksc watch: %s %v\n", stamp(), r.Err)
			return
		}
		if len(r.Differences) == 0 {
			return
		}
		fmt.Fprintf(e.stderr, "ksc watch: %s put the policy back in %s (%d lines differed)\n", stamp(), r.Took.Round(time.Microsecond), len(r.Differences))
	})
}

// iptablesKeeper is the keeper as iptables.Watch asks it.
type iptablesKeeper struct{ k *keeper }

func (ik iptablesKeeper) Desired() (*ir.Policy, func(), error) {
	release, err := lockChanges(ik.k.netns)
	if err != nil {
		return nil, nil, err
	}
	ik.k.follow()
	return ik.k.policy, release, nil
}

func (ik iptablesKeeper) Repair(_ *ir.Policy, repair func() error) error {
	return ik.k.Repair(nil, repair)
}

// keeper is what ksc watch keeps in force: its own policy at first, then
// whatever the namespace's intent says, as a later "ksc apply" or "ksc
// remove" wrote it (see intent).
type keeper struct {
	e       env
	netns   string // as given
	nsPath  string
	backend string
	path    string // the policy in force, for messages
	raw     []byte // the intent last followed
	policy  *ir.Policy
	batch   *nft.Batch // for the nft backend
}

// start records the keeper's own policy as the namespace's intent: watch
// puts it in force now.
func (k *keeper) start(in intent) error {
	release, err := lockChanges(k.netns)
	if err != nil {
		return err
	}
	defer release()
	if _, err := writeIntent(k.netns, in); err != nil {
		return err
	}
	_, k.raw, err = readIntent(k.netns)
	return err
}

// follow takes on what the namespace's intent says now, when it changed.
// A policy that does not load is reported, and the one before kept.
func (k *keeper) follow() {
	in, raw, err := readIntent(k.netns)
	if err != nil {
		fmt.Fprintf(k.e.stderr, "ksc watch: %s %v\n", stamp(), err)
		return
	}
	if raw == nil || bytes.Equal(raw, k.raw) {
		return
	}
	k.raw = raw
	switch {
	case in.Removed:
		k.policy, k.batch = nil, nil
		fmt.Fprintf(k.e.stderr, "ksc watch: %s %s took the policy away: nothing is kept in force until the next ksc apply\n", stamp(), in.By)
		return
	case in.Backend != k.backend:
		k.policy, k.batch = nil, nil
		fmt.Fprintf(k.e.stderr, "ksc watch: %s %s put %s in force with the %s backend; this watch keeps the %s one, and stands by\n", stamp(), in.By, in.Path, in.Backend, k.backend)
		return
	}
	p, err := in.load()
	var b *nft.Batch
	if err == nil && k.backend == "nft" {
		b, err = nft.Lower(p)
	}
	if err != nil {
		fmt.Fprintf(k.e.stderr, "ksc watch: %s %v; still keeping %s\n", stamp(), err, k.path)
		return
	}
	k.policy, k.batch, k.path = p, b, in.Path
	fmt.Fprintf(k.e.stderr, "ksc watch: %s %s put %s in force: keeping it from now on\n", stamp(), in.By, in.Path)
}

// Desired is kernel.Keeper's: the batch the intent says, with the change
// lock held.
func (k *keeper) Desired() (*nft.Batch, func(), error) {
	release, err := lockChanges(k.netns)
	if err != nil {
		return nil, nil, err
	}
	k.follow()
	return k.batch, release, nil
}

// Repair is kernel.Keeper's: the connections the policy would not let
// start that began while it was not in force are closed.
func (k *keeper) Repair(_ *nft.Batch, repair func() error) error {
	report, err := flows.Transition(k.nsPath, flows.Allows(k.policy), repair)
	if err == nil {
		reportFlows(k.e, "watch", report)
	}
	return err
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339) }
