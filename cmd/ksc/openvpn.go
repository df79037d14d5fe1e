package main

import (
	"fmt"
	"os"

	"github.com/ksc-project/ksc/backends/openvpn"
	"github.com/ksc-project/ksc/internal/safefile"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
)

const openvpnUsage = `Usage: ksc openvpn patch [flags] CLIENT.ovpn

Insert the IPv6 leak-protection directives (ifconfig-ipv6, redirect-gateway
ipv6, block-ipv6) into an OpenVPN client config, above its "verb" line (at
the end when there is none), as the reference article advises. Nothing else
in the file changes; a backup is kept as CLIENT.ovpn.bak. Running it twice
changes nothing the second time. A directive already present with other
arguments is reported and the file is left untouched (exit status 1).

The directives come from --policy's "ipv6 openvpn" statement, or are the
OpenVPN 2.5 manual's defaults (fd15:53b6:dead::2/64, gateway ::1).

Examples:
  ksc openvpn patch client.ovpn
  ksc openvpn patch --policy examples/ivpn-killswitch.ks client.ovpn
  ksc openvpn patch --dry-run client.ovpn     # print the patched file
`

func runOpenVPN(e env, args []string) int {
	if len(args) == 0 || args[0] != "patch" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(e.stdout, openvpnUsage)
			return exitOK
		}
		fmt.Fprint(e.stderr, openvpnUsage)
		return exitUsage
	}
	flags := newFlags(e, "openvpn patch")
	var pf policyFlags
	policy := flags.StringP("policy", "p", "", "take the directives from `POLICY`'s \"ipv6 openvpn\" statement")
	dryRun := flags.BoolP("dry-run", "n", false, "print the patched file instead of writing it")
	pf.register(flags)
	if code := parseFlags(e, flags, openvpnUsage, args[1:]); code >= 0 {
		return code
	}
	if flags.NArg() != 1 {
		fmt.Fprintf(e.stderr, "ksc openvpn patch: want one .ovpn file, got %d arguments\n", flags.NArg())
		return exitUsage
	}
	file := flags.Arg(0)
	plan := ir.DefaultOpenVPNPlan()
	if *policy != "" {
		p := pf.load(e, *policy)
		if p == nil {
			return exitFailure
		}
		if p.IPv6.OpenVPN == nil {
			fmt.Fprintf(e.stderr, "ksc openvpn patch: %s has no \"ipv6 openvpn\" statement\n", p.Source)
			return exitFailure
		}
		plan = *p.IPv6.OpenVPN
	}
	src, err := lang.ReadSource(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc openvpn patch: %v\n", err)
		return exitFailure
	}
	res := openvpn.Patch(src, openvpn.Directives(plan))
	for _, c := range res.Conflicts {
		fmt.Fprintf(e.stderr, "%s:%d: %s is already set differently: %q (ksc wants %q)\n",
			file, c.Line, c.Wanted.Keyword, c.Have, c.Wanted.String())
	}
	if len(res.Conflicts) > 0 {
		fmt.Fprintf(e.stderr, "ksc openvpn patch: %s left unchanged; fix the lines above and run again\n", file)
		return exitFailure
	}
	if *dryRun {
		e.stdout.Write(res.Output)
		return exitOK
	}
	for _, d := range res.Present {
		fmt.Fprintf(e.stderr, "already present: %s\n", d)
	}
	if !res.Changed() {
		return exitOK
	}
	// The backup is of the real file (through a symlink), with its mode
	// and owner: an .ovpn often holds a private key. An old .bak is
	// replaced, never written through.
	info, err := os.Stat(file)
	if err == nil {
		err = safefile.Write(file+".bak", src, safefile.Options{Like: info})
	}
	if err == nil {
		err = safefile.Write(file, res.Output, safefile.Options{FollowLinks: true})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc openvpn patch: %v\n", err)
		return exitFailure
	}
	for _, d := range res.Added {
		fmt.Fprintf(e.stderr, "added: %s\n", d)
	}
	return exitOK
}
