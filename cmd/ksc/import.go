package main

import (
	"fmt"

	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/machine"
)

const importUsage = `Usage: ksc import [RULESET | --json RULESET | --live [--netns NAME] | --iptables SAVE [--ip6tables SAVE6]]

Print a firewall you already have as a ksc policy, in ksc fmt's layout:
RULESET is a file in nft's syntax (what nft -f reads, or what "nft list
ruleset" prints; - for standard input), and --live reads the ruleset in
force (nft list ruleset, in the namespace --netns names; root).

--json reads a ruleset in nft's JSON (what nft -j list ruleset prints),
as nft -j -f loads it into a throwaway network namespace (root).

--iptables and --ip6tables read what iptables-save and ip6tables-save
print (either, or both for one policy): ksc loads it with
iptables-nft-restore into a throwaway network namespace and imports what
nft lists there, so that iptables' own translation decides what each
rule means (root). A match or target nft has no expression for comes
out as "xt match NAME" and is not imported.

A rule the policy language cannot say is not imported: it stays in the
policy as a comment that names it and why ("# ksc import: not imported
(...): RULE"), never as a different rule, and ksc import says how many on
standard error; so does a chain it cannot hook (ingress) or a table of a
family it has no tables of (arp, bridge, netdev), whole. Until they are written by hand the policy is not the
ruleset: exit status 1. Exit status 0 when every rule was imported, 2 on
trouble (a set the language cannot say, an include, a syntax error).

Examples:
  ksc import /etc/nftables.conf > policy.ks
  sudo ksc import --live > policy.ks
  sudo iptables-save > v4; sudo ksc import --iptables v4 > policy.ks
  ksc import ruleset.nft | ksc check -
`

func runImport(e env, args []string) int {
	flags := newFlags(e, "import")
	live := flags.Bool("live", false, "import the ruleset in force (nft list ruleset; root)")
	netns := namespaceFlag(flags)
	v4 := flags.String("iptables", "", "import iptables-save output from `FILE` (root)")
	v6 := flags.String("ip6tables", "", "import ip6tables-save output from `FILE` (root)")
	asJSON := flags.Bool("json", false, "RULESET is in nft's JSON (nft -j list ruleset; root)")
	if code := parseFlags(e, flags, importUsage, args); code >= 0 {
		return code
	}
	var src []byte
	var name string
	switch {
	case *asJSON && (*live || *v4 != "" || *v6 != ""):
		fmt.Fprintf(e.stderr, "ksc import: --json says how RULESET is written; --live and --iptables read rules of their own\n")
		return exitUsage
	case (*v4 != "" || *v6 != "") && !*live && flags.NArg() == 0:
		var saves [2][]byte
		for i, path := range []string{*v4, *v6} {
			if path == "" {
				continue
			}
			var err error
			if saves[i], _, err = readPolicy(e, path); err != nil {
				fmt.Fprintf(e.stderr, "ksc import: %v\n", err)
				return exitUsage
			}
		}
		out, err := machine.TranslateSave(saves[0], saves[1])
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc import: %v\n", err)
			return exitUsage
		}
		src, name = out, "the iptables rules"
	case *v4 != "" || *v6 != "":
		fmt.Fprintf(e.stderr, "ksc import: --iptables and --ip6tables take the rules; name no other ruleset\n")
		return exitUsage
	case *live && flags.NArg() == 0:
		out, err := machine.List(enforce.Namespace(*netns).Path())
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc import: %v\n", err)
			return exitUsage
		}
		src, name = out, "the live ruleset"
	case !*live && flags.NArg() == 1:
		var err error
		if src, name, err = readPolicy(e, flags.Arg(0)); err != nil {
			fmt.Fprintf(e.stderr, "ksc import: %v\n", err)
			return exitUsage
		}
		if *asJSON {
			if src, err = machine.TranslateJSON(src); err != nil {
				fmt.Fprintf(e.stderr, "ksc import: %v\n", err)
				return exitUsage
			}
			name = name + " (as nft lists it)"
		}
	default:
		fmt.Fprintf(e.stderr, "ksc import: want one ruleset file (or - for standard input), or --live\nRun \"ksc import --help\" for usage.\n")
		return exitUsage
	}
	out, skipped, ds := lang.Import(name, src)
	if ds.HasErrors() {
		printDiagnostics(e.stderr, ds, map[string][]byte{name: src})
		return exitUsage
	}
	e.stdout.Write(out)
	if len(skipped) == 0 {
		return exitOK
	}
	fmt.Fprintf(e.stderr, "ksc import: %d not imported (rules, or chains and tables whole: the \"# ksc import:\" lines): the policy is not the ruleset until they are written by hand\n", len(skipped))
	return exitFailure
}
