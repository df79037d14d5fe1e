package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/openvpn"
	"github.com/ksc-project/ksc/backends/sysctl"
	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/internal/safefile"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lint"
)

// renderOptions are the compile flags some targets take.
type renderOptions struct {
	undo bool // sysctl: the file that restores IPv6
}

// target is one --target: a pure function of the IR.
type target struct {
	render func(*ir.Policy, renderOptions) ([]byte, error)
	// undoes: --undo asks for the output that undoes the policy's.
	undoes bool
}

// targets maps each --target name to its backend.
var targets = map[string]target{
	"nft": {render: func(p *ir.Policy, _ renderOptions) ([]byte, error) {
		// Cgroups are named below where this machine's nft finds them.
		root, err := cgroup.NftRootFor(p)
		if err != nil {
			return nil, err
		}
		return nft.Render(p, root)
	}},
	"sysctl":  {render: func(p *ir.Policy, o renderOptions) ([]byte, error) { return sysctl.Render(p, o.undo) }, undoes: true},
	"openvpn": {render: func(p *ir.Policy, _ renderOptions) ([]byte, error) { return openvpn.Render(p) }},
	"iptables": {render: func(p *ir.Policy, _ renderOptions) ([]byte, error) {
		o, err := iptables.Render(p, ir.IPv4)
		if err != nil {
			return nil, err
		}
		return o.Text, nil
	}},
	"ip6tables": {render: func(p *ir.Policy, _ renderOptions) ([]byte, error) {
		o, err := iptables.Render(p, ir.IPv6)
		if err != nil {
			return nil, err
		}
		return o.Text, nil
	}},
	"iptables-script": {render: func(p *ir.Policy, _ renderOptions) ([]byte, error) { return iptables.RenderScript(p) }},
	"ipset":           {render: func(p *ir.Policy, _ renderOptions) ([]byte, error) { return iptables.RenderIPSets(p) }},
}

func targetNames() string { return strings.Join(targetList(), ", ") }

func targetList() []string {
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const compileUsage = `Usage: ksc compile POLICY [flags]

Compile POLICY (a file, or - for standard input) to a target and print it,
or write it to --output. Nothing is written when the policy has an error.

Examples:
  ksc compile examples/ivpn-killswitch.ks --target nft
  ksc compile policy.ks -t nft -e lan,ssh -D INET_DEV=wlan0 -o /tmp/killswitch.nft
  ksc compile policy.ks -t nft -D 'VPN_SERVERS={ 198.51.100.1, 198.51.100.2 }'
  sudo nft -f /tmp/killswitch.nft
  ksc compile policy.ks -t sysctl -o /etc/sysctl.d/90-ksc-ipv6.conf
  ksc compile policy.ks -t sysctl --undo      # the file that restores IPv6
  ksc compile policy.ks -t openvpn            # lines for a .ovpn file
  ksc compile policy.ks -t iptables -o /etc/iptables/rules.v4
  ksc compile policy.ks -t ip6tables -o /etc/iptables/rules.v6
  ksc compile policy.ks -t iptables-script    # the same as iptables commands
  ksc compile policy.ks -t ipset | ipset restore   # file() sets, for the iptables rules
`

func runCompile(e env, args []string) int {
	fs := newFlags(e, "compile")
	var pf policyFlags
	target := fs.StringP("target", "t", "nft", "what to compile to: "+targetNames())
	oneOf(fs, "target", targetList()...)
	output := fs.StringP("output", "o", "", "write to `FILE` instead of standard output")
	undo := fs.Bool("undo", false, "sysctl target: emit the settings that restore IPv6")
	pf.register(fs)
	if code := parseFlags(e, fs, compileUsage, args); code >= 0 {
		return code
	}
	path, ok := onePolicyArg(e, fs)
	if !ok {
		return exitUsage
	}
	t, ok := targets[*target]
	if !ok {
		fmt.Fprintf(e.stderr, "ksc compile: unknown target %q; the targets are: %s\n", *target, targetNames())
		return exitUsage
	}
	if *undo && !t.undoes {
		fmt.Fprintf(e.stderr, "ksc compile: --undo is for --target sysctl only\n")
		return exitUsage
	}
	p := pf.load(e, path)
	if p == nil {
		return exitFailure
	}
	out, err := t.render(p, renderOptions{undo: *undo})
	if err != nil {
		pf.reportError(e, "compile", err)
		return exitFailure
	}
	if *target != "sysctl" && *target != "openvpn" {
		var ds ir.Diagnostics
		for _, rt := range p.Routing {
			ds.Warnf(rt.Pos, "routing table %d is not in the %s target's output: ksc apply puts it in force after the rules", rt.ID, *target).Hint =
				"apply the policy with ksc apply, or set the routing up yourself (ip rule, ip route)"
		}
		printDiagnostics(e.stderr, ds, pf.sources)
	}
	if *output == "" || *output == "-" {
		e.stdout.Write(out)
		return exitOK
	}
	if err := safefile.Write(*output, out, safefile.Options{FollowLinks: true}); err != nil {
		fmt.Fprintf(e.stderr, "ksc compile: %v\n", err)
		return exitFailure
	}
	return exitOK
}

const checkUsage = `Usage: ksc check POLICY [flags]

Parse and validate POLICY without writing anything, and point out rules
that do nothing useful: rules shadowed by an earlier rule, rules after a
catch-all, unused defines, overlapping set elements, an input chain that
drops replies, an output chain that accepts everything on a physical
interface. Errors and warnings are printed with their positions; the exit
status is 0 when there is no error (and, with --strict, no warning).

With --live (root; --netns NAME for a namespace), also what the other
programs' rules in force do to the policy, as applying it would leave
the machine (its tables in place of theirs of the same names; nft), or with
--in-force as it is, the policy applied already with either backend: each
region of packets whose verdict they change, with a packet and the rule
that does it (a fail2ban drop, a firewalld reject of what the policy
accepts), and each dnat of theirs that sends packets arriving for this
machine around the policy's input chain to another host (Docker's
published ports, moby #22054). Rules ksc cannot read make a region
"may differ", with the rule named.

Examples:
  ksc check examples/ivpn-killswitch.ks
  ksc check policy.ks -e port-forward -D FORWARDED_PORT=54321
  sudo ksc check policy.ks --live
`

func runCheck(e env, args []string) int {
	fs := newFlags(e, "check")
	var pf policyFlags
	strict := fs.Bool("strict", false, "fail (exit status 1) on warnings too")
	mf := registerMachineFlags(fs, "also what the other programs' rules in force do to the policy (root)")
	pf.register(fs)
	if code := parseFlags(e, fs, checkUsage, args); code >= 0 {
		return code
	}
	path, ok := onePolicyArg(e, fs)
	if !ok {
		return exitUsage
	}
	p := pf.load(e, path)
	if p == nil {
		return exitFailure
	}
	warnings := lint.Check(p)
	printDiagnostics(e.stderr, warnings, pf.sources)
	if mf.misused(e) {
		return exitUsage
	}
	if *mf.live {
		m, err := mf.read(p)
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc check: %v\n", err)
			return exitUsage
		}
		n, err := checkMachine(e, p, m)
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc check: %v\n", err)
			return exitUsage
		}
		pf.warned = pf.warned || n > 0
	}
	if *strict && (len(warnings) > 0 || pf.warned) {
		fmt.Fprintln(e.stderr, "ksc check: warnings, and --strict")
		return exitFailure
	}
	return exitOK
}
