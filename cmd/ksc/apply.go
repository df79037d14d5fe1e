package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ksc-project/ksc/backends/sysctl"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
)

const applyUsage = `Usage: ksc apply POLICY [flags]

Apply POLICY to the running system. Try it in a network namespace first
(--netns): a kill switch applied to the wrong interface cuts the machine off.

Targets:
  sysctl   disable IPv6 through sysctl (the policy's "ipv6 sysctl" statement);
           --undo restores it, --install also writes ` + sysctl.InstallPath + `

Examples:
  sudo ip netns add try
  sudo ksc apply policy.ks --target sysctl --netns try
  sudo ksc apply policy.ks --target sysctl --install
  sudo ksc apply policy.ks --target sysctl --undo --install
`

func runApply(e env, args []string) int {
	flags := newFlags(e, "apply")
	var pf policyFlags
	target := flags.StringP("target", "t", "sysctl", "what to apply: sysctl")
	netns := flags.String("netns", "", "apply inside the network namespace `NAME` (or a path such as /var/run/netns/NAME)")
	undo := flags.Bool("undo", false, "sysctl: restore IPv6 instead of disabling it")
	install := flags.Bool("install", false, "sysctl: also write (or, with --undo, remove) "+sysctl.InstallPath)
	pf.register(flags)
	if code := parseFlags(e, flags, applyUsage, args); code >= 0 {
		return code
	}
	path, ok := onePolicyArg(e, flags)
	if !ok {
		return exitUsage
	}
	if *target != "sysctl" {
		fmt.Fprintf(e.stderr, "ksc apply: unknown target %q; the targets are: sysctl\n", *target)
		return exitUsage
	}
	p := pf.load(e, path)
	if p == nil {
		return exitFailure
	}
	if err := sysctl.Apply(p, *undo, nsenter.Path(*netns)); err != nil {
		reportError(e, "apply", err)
		return exitFailure
	}
	if *install {
		if err := installSysctlFile(p, *undo); err != nil {
			fmt.Fprintf(e.stderr, "ksc apply: %v\n", err)
			return exitFailure
		}
	}
	return exitOK
}

// installSysctlFile makes the settings survive a reboot, or removes them.
func installSysctlFile(p *ir.Policy, undo bool) error {
	if undo {
		if err := os.Remove(sysctl.InstallPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := sysctl.Render(p, false)
	if err != nil {
		return err
	}
	return writeFileAtomic(sysctl.InstallPath, data)
}
