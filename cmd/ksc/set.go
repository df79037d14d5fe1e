package main

import (
	"fmt"
	"strings"

	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
)

const setUsage = `Usage: ksc set add|delete POLICY SET ADDRESS... [flags]

Change a set POLICY declares while the policy is in force, without
applying it again: what a VPN client does at runtime, with a new
endpoint after a reconnect or a port forwarded to a new address.

SET is the name of a set POLICY declares with addresses
("set vpn_servers { type ipv4_addr; flags interval; elements = { ... } }"),
or TABLE/SET where two of its tables declare a set of that name. Each
ADDRESS is an address, a prefix (198.51.100.0/24) or a range
(198.51.100.1-198.51.100.9) of the set's family. Deleting an address the
set does not hold is an error, and changes nothing.

The set's addresses in force, changed, replace them at once (nft: one
netlink transaction; iptables: its ipset filled beside it and swapped
in), so that a packet meets the set either as it was or as it is now.
The connections the policy with the changed set would not let start are
then closed, as ksc apply closes them: a connection to an endpoint taken
out of an accept set, from an address put in a blocklist
(--keep-connections keeps them). ksc watch leaves a declared set's
addresses as they are; ksc apply puts back the policy's own.

ksc set prints what the set holds after. Exit status 0 when changed, 1
when refused (the set is not in force, an address is not of its family
or not in it), 2 on usage errors.

Examples:
  sudo ksc set add policy.ks vpn_servers 198.51.100.7
  sudo ksc set delete policy.ks vpn_servers 198.51.100.7 --netns vpn
  sudo ksc set add policy.ks killswitch/lan 192.168.1.0/24 --backend iptables
`

func runSet(e env, args []string) int {
	o := newLiveFlags(e, "set")
	keep := o.flags.Bool("keep-connections", false, "do not close the connections the changed set would not let start")
	if code := parseFlags(e, o.flags, setUsage, args); code >= 0 {
		return code
	}
	rest := o.flags.Args()
	if len(rest) < 4 || rest[0] != "add" && rest[0] != "delete" {
		fmt.Fprintln(e.stderr, "ksc set: want add or delete, a policy, a set and at least one address; see ksc set --help")
		return exitUsage
	}
	add, path, name, addresses := rest[0] == "add", rest[1], rest[2], rest[3:]
	p, ns, fw, code := o.open(e, path)
	if code >= 0 {
		return code
	}
	t, s, err := declaredSet(p, name)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc set: %v\n", err)
		return exitFailure
	}
	const source = "addresses"
	keys, ds := lang.ParseSetElements(source, s, addresses)
	if ds.HasErrors() {
		printDiagnostics(e.stderr, ds, map[string][]byte{source: []byte("{ " + strings.Join(addresses, ", ") + " }")})
		return exitFailure
	}
	after, report, err := ns.ChangeSet(fw, p, enforce.SetChange{Table: t, Set: s, Add: add, Keys: keys}, *keep)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc set: %v\n", err)
		return exitFailure
	}
	reportFlows(e, "set", report)
	fmt.Fprintf(e.stdout, "%s: { %s }\n", s.Name, ir.AddrsText(s.Kind, after.Joined()))
	return exitOK
}

// declaredSet finds the set of p that name ("SET", or "TABLE/SET")
// names: one that holds addresses, not one rules fill.
func declaredSet(p *ir.Policy, name string) (*ir.Table, *ir.TableSet, error) {
	table, set, qualified := strings.Cut(name, "/")
	if !qualified {
		table, set = "", name
	}
	var found []*ir.Table
	var s *ir.TableSet
	for _, t := range p.Tables {
		if table != "" && t.Name != table {
			continue
		}
		for _, ts := range t.Sets {
			if ts.Name == set {
				found, s = append(found, t), ts
			}
		}
	}
	switch {
	case len(found) == 0:
		return nil, nil, fmt.Errorf("%s declares no set %s", p.Source, name)
	case len(found) > 1:
		return nil, nil, fmt.Errorf("tables %s and %s both declare a set %s: write TABLE/%s", found[0].Name, found[1].Name, set, set)
	case s.Dynamic:
		return nil, nil, fmt.Errorf("set %s is filled by the policy's rules (flags dynamic); ksc set changes a set of addresses the policy declares", set)
	}
	return found[0], s, nil
}
