package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/enforce"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/sysctl"
	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lint"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

const applyUsage = `Usage: ksc apply POLICY [flags]

Apply POLICY to the running kernel. The nft target (the default) sends the
whole ruleset as one netlink transaction: the kernel takes all of it or
none of it, and no nft binary is needed. If the kernel refuses a rule, the
previous ruleset stays exactly as it was and the error names the policy line.

Try a policy in a network namespace first (--netns), and on a remote
machine use --confirm: a kill switch applied to the wrong interface cuts
the machine off.

The tables are replaced in place: every chain both rulesets hook stays
hooked and its rules are swapped in one transaction, so that what both
forbid is dropped at every instant.

Connections conntrack tracks that the policy would not let start (judged
like "ksc explain" judges a new packet, routed as the kernel routes it now,
with its socket's owner and mark) are held from before the new rules are
in force and closed, so that no flow opened before the kill switch sends
another packet through an established-accept rule; --keep-connections
leaves them.

--confirm (nft target) first starts a rollback guard, a ksc process of its
own that keeps the tables the policy replaces, as they were. Unless Enter
(at a terminal) or "ksc confirm" confirms in time, the guard puts them
back, also when "ksc apply" was killed or its SSH session is gone. Tables
other programs add or own meanwhile are left alone.

Targets (--target, or --backend):
  nft       the firewall rules, over netlink
  iptables  the firewall rules with iptables-restore and ip6tables-restore,
            each family atomically; if the second fails the first is put
            back. --iptables-mode picks nft or legacy (default: the system's)
  sysctl    disable IPv6 through sysctl (the policy's "ipv6 sysctl" statement),
            recording the values found first (in /var/lib/ksc); --undo puts
            those back, interface by interface; --install also writes
            ` + sysctl.InstallPath + `

Examples:
  sudo ip netns add try && sudo ksc apply policy.ks --netns try
  sudo ksc apply policy.ks --dry-run
  sudo ksc apply policy.ks --confirm 30s      # rolls back unless confirmed
  sudo ksc confirm                            # ... from another shell
  sudo ksc apply policy.ks --target sysctl --install
  sudo ksc apply policy.ks --backend iptables --iptables-mode legacy
`

func runApply(e env, args []string) int {
	flags := newFlags(e, "apply")
	var pf policyFlags
	target := flags.StringP("target", "t", "nft", "what to apply: nft, iptables or sysctl")
	flags.StringVar(target, "backend", "nft", "the same as --target")
	iptMode := flags.String("iptables-mode", "auto", "iptables: which iptables to drive: auto, nft or legacy")
	oneOf(flags, "target", append(slices.Clone(backends.Names), sysctlTarget)...)
	oneOf(flags, "backend", append(slices.Clone(backends.Names), sysctlTarget)...)
	oneOf(flags, "iptables-mode", modes...)
	netns := flags.String("netns", "", "apply inside the network namespace `NAME` (or a path such as /var/run/netns/NAME)")
	dryRun := flags.BoolP("dry-run", "n", false, "print what would be sent (the netlink batch, the iptables-restore input or the sysctl settings), and send nothing")
	confirm := flags.Duration("confirm", 0, "nft: roll back unless confirmed within `DURATION` (\"ksc confirm\", or Enter at a terminal)")
	wait := flags.Duration("wait", 30*time.Second, "wait up to `DURATION` for another ksc apply to finish")
	force := flags.Bool("force", false, "apply a policy that blocks SSH from an SSH session without --confirm")
	makeCgroups := flags.Bool("make-cgroups", false, "make the cgroups the policy matches that are missing, instead of refusing the policy (what ksc install's unit does at boot, before anything made them)")
	undo := flags.Bool("undo", false, "sysctl: put back the IPv6 settings found before the first apply")
	install := flags.Bool("install", false, "sysctl: also write (or, with --undo, remove) "+sysctl.InstallPath)
	keepConnections := flags.Bool("keep-connections", false, "leave open the connections tracked before the apply that the policy would not let start")
	pf.register(flags)
	if code := parseFlags(e, flags, applyUsage, args); code >= 0 {
		return code
	}
	path, ok := onePolicyArg(e, flags)
	if !ok {
		return exitUsage
	}
	if flags.Changed("confirm") && *confirm <= 0 {
		// 0s would apply with no rollback at all, while the user believes
		// one is armed.
		fmt.Fprintf(e.stderr, "ksc apply: --confirm %s is no time to confirm in; give the time you need, as --confirm 60s\n", *confirm)
		return exitUsage
	}
	ns := enforce.Namespace(*netns)
	// The sysctl target is no firewall: settings, applied apart.
	var fw backends.Firewall
	if *target != sysctlTarget {
		var err error
		if fw, err = backends.Open(*target, ns.Path(), backends.Options{Mode: iptables.Mode(*iptMode)}); err != nil {
			if !slices.Contains(backends.Names, *target) {
				err = fmt.Errorf("--target is %s or %s, not %q", strings.Join(backends.Names, ", "), sysctlTarget, *target)
			}
			fmt.Fprintf(e.stderr, "ksc apply: %v\n", err)
			return exitUsage
		}
	}
	if *confirm > 0 && (fw == nil || !fw.RollsBack()) {
		// Ignoring --confirm would apply at once, with no way back, while
		// the user believes a rollback is armed: a remote lockout.
		fmt.Fprintf(e.stderr, "ksc apply: --confirm needs a backend that rolls back (nft); with --target %s nothing would roll back\n", *target)
		fmt.Fprintln(e.stderr, "ksc apply: try the policy in a namespace first (--netns), or apply it with the nft target")
		return exitUsage
	}
	p := pf.load(e, path)
	if p == nil {
		return exitFailure
	}
	if fw == nil {
		if *dryRun {
			return dryRunSysctl(e, &pf, p, *undo)
		}
		return applySysctl(e, &pf, p, *netns, ns.Path(), *undo, *install)
	}
	if *dryRun {
		plan, err := fw.DryRun(p)
		if err != nil {
			pf.reportError(e, "apply", err)
			return exitFailure
		}
		fmt.Fprint(e.stdout, plan)
		return exitOK
	}
	if *makeCgroups {
		for _, path := range p.Cgroups() {
			if _, err := cgroup.Make(path); err != nil {
				fmt.Fprintf(e.stderr, "ksc apply: %v\n", err)
				return exitFailure
			}
		}
	}
	if ds := cgroup.Missing(p); len(ds) > 0 {
		printDiagnostics(e.stderr, ds, pf.sources)
		fmt.Fprintln(e.stderr, "ksc apply: nothing was changed")
		return exitFailure
	}
	if d := sshLockout(p, *netns, *confirm > 0 || *force, os.Getenv("SSH_CONNECTION") != ""); d != nil {
		fmt.Fprint(e.stderr, d.Render(pf.sources[d.Pos.File]))
		fmt.Fprintln(e.stderr, "ksc apply: nothing was changed")
		return exitFailure
	}
	lock, err := ns.LockApply(*wait)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc apply: %v\n", err)
		return exitFailure
	}
	defer lock.Close()
	in := enforce.PolicyIntent(p, pf.sources[p.Source], pf.enable, pf.defines, fw.Name(), "apply")
	var guard *enforce.Guard
	if *confirm > 0 {
		if guard, err = ns.StartGuard(in, *confirm, lock); err != nil {
			fmt.Fprintf(e.stderr, "ksc apply: --confirm cannot keep a way back: %v; nothing was changed\n", err)
			return exitFailure
		}
	}
	report, err := ns.Apply(fw, p, in, *keepConnections)
	if err != nil {
		guard.NotApplied()
		pf.reportApplyError(e, err)
		fmt.Fprintln(e.stderr, "ksc apply: nothing was changed: the previous ruleset is in place")
		return exitFailure
	}
	flowsClosed := reportFlows(e, "apply", report)
	if guard != nil {
		return awaitConfirmation(e, guard, *confirm, *netns)
	}
	fmt.Fprintf(e.stderr, "ksc apply: applied %s with the %s backend\n", p.Source, fw.Name())
	if !flowsClosed {
		return exitFailure
	}
	return exitOK
}

// reportFlows says what a change did to the connections, and whether
// every one the policy would not let start was closed.
func reportFlows(e env, cmd string, r flows.Report) (closed bool) {
	for _, note := range enforce.FlowNotes(r) {
		fmt.Fprintf(e.stderr, "ksc %s: %s\n", cmd, note)
	}
	if len(r.Closed) > 0 {
		fmt.Fprintf(e.stderr, "ksc %s: closed %d connections the policy would not let start (--keep-connections keeps them):\n", cmd, len(r.Closed))
	}
	for i, f := range r.Closed {
		if i == maxListed {
			fmt.Fprintf(e.stderr, "  … and %d more\n", len(r.Closed)-maxListed)
			break
		}
		fmt.Fprintf(e.stderr, "  %s\n", f)
	}
	return r.Err == nil
}

// maxListed is how many closed connections apply names.
const maxListed = 10

// sshLockout refuses to apply, from an SSH session, a policy that drops
// new SSH connections to this machine, unless there is a way back
// (--confirm) or the user insists (--force). A namespace is never remote.
func sshLockout(p *ir.Policy, netns string, safe, overSSH bool) *ir.Diagnostic {
	if netns != "" || safe || !overSSH {
		return nil
	}
	pos, blocks := lint.BlocksNewSSH(p)
	if !blocks {
		return nil
	}
	return &ir.Diagnostic{Pos: pos, Message: "you are connected over SSH, and this chain drops new SSH connections",
		Hint: "apply with --confirm 60s, so that it rolls back unless you can still confirm (or --force)"}
}

// reportApplyError shows a backend's refusal at its policy line.
func (pf *policyFlags) reportApplyError(e env, err error) {
	var r backends.Refusal
	if errors.As(err, &r) {
		if pos, msg := r.Refused(); pos.IsValid() {
			d := ir.Diagnostic{Pos: pos, Message: msg}
			fmt.Fprint(e.stderr, d.Render(pf.sources[pos.File]))
			return
		}
	}
	pf.reportError(e, pf.cmd, err)
}

// dryRunSysctl prints the sysctl settings applying would write.
func dryRunSysctl(e env, pf *policyFlags, p *ir.Policy, undo bool) int {
	out, err := sysctl.Render(p, undo)
	if err != nil {
		pf.reportError(e, "apply", err)
		return exitFailure
	}
	fmt.Fprintln(e.stdout, "# ksc apply --dry-run --target sysctl: not applied")
	e.stdout.Write(out)
	return exitOK
}

// terminal returns stdin as a file when it is a terminal.
func terminal(r io.Reader) (*os.File, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return nil, false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return f, err == nil
}

func applySysctl(e env, pf *policyFlags, p *ir.Policy, netns, nsPath string, undo, install bool) int {
	var err error
	if undo {
		var recorded bool
		recorded, err = sysctl.Undo(p, netns, nsPath)
		switch {
		case err == nil && recorded:
			fmt.Fprintln(e.stderr, "ksc apply: restored the IPv6 settings recorded before ksc disabled it")
		case err == nil:
			fmt.Fprintf(e.stderr, "ksc apply: no record of the IPv6 settings before ksc (%s): enabled IPv6 everywhere\n", sysctl.RecordPath(netns))
		}
	} else {
		err = sysctl.Disable(p, netns, nsPath)
	}
	if err != nil {
		pf.reportError(e, "apply", err)
		return exitFailure
	}
	if install {
		if err := sysctl.Install(p, undo); err != nil {
			fmt.Fprintf(e.stderr, "ksc apply: %v\n", err)
			return exitFailure
		}
	}
	return exitOK
}

// namespaceFlag registers --netns for commands that read the live ruleset.
// sysctlTarget is the target of apply that is no firewall: the IPv6
// sysctl settings.
const sysctlTarget = "sysctl"

// modes are the values of --iptables-mode.
var modes = []string{string(iptables.ModeAuto), string(iptables.ModeNFT), string(iptables.ModeLegacy)}

func namespaceFlag(flags *pflag.FlagSet) *string {
	return flags.String("netns", "", "use the network namespace `NAME` (or a path such as /var/run/netns/NAME)")
}
