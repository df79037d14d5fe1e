// Command nftpy-coverage measures how much of nftables' own rule tests
// (tests/py in the nftables source) ksc accepts: each rule line nft takes
// ("RULE;ok") is put, as written, in a chain like the test's, in each
// ip, ip6 and inet table the test names, and counts as supported when ksc
// loads it and the nft target can write it. docs/language.md records the
// result.
//
// With -kernel (root), each supported form is also loaded into a throwaway
// network namespace twice, as nft's own text and through ksc (the netlink
// batch of ksc apply), and nft's listings of the two must be the same;
// then nft's listing is imported (ksc import), and the import applied
// must list the same again.
//
//	go run ./scripts/nftpy-coverage [-kernel] [-why] NFTABLES/tests/py
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lang"
)

var why = flag.Bool("why", false, "print each form ksc refuses, with its first error, on stderr")

var inKernel = flag.Bool("kernel", false, "load each supported form as nft's text and through ksc in a throwaway namespace, and compare nft's listings (root)")

// lab is the namespace -kernel loads forms into; empty without -kernel.
var lab string

// listed counts the forms -kernel compared, and those that differed;
// importFailed the listings ksc import leaves something of out, and
// importDiffered those whose import lists otherwise once applied.
var listed, differed, importFailed, importDiffered int

// kinds are the test files that hold what a firewall policy uses.
var kinds = []string{
	"ip/ip.t", "inet/ip.t", "ip6/ip6.t", "inet/tcp.t", "inet/udp.t", "ip/icmp.t", "inet/icmp.t", "ip6/icmpv6.t",
	"any/meta.t", "inet/meta.t", "ip/meta.t", "ip6/meta.t", "any/ct.t", "inet/ct.t", "ip/ct.t",
	"any/limit.t", "any/log.t", "ip/reject.t", "ip6/reject.t", "inet/reject.t",
	"ip/masquerade.t", "ip6/masquerade.t", "ip/snat.t", "ip6/snat.t", "inet/snat.t", "ip/dnat.t", "ip6/dnat.t", "inet/dnat.t",
	"ip/redirect.t", "ip6/redirect.t", "inet/fib.t",
}

type chainSpec struct{ typ, hook, priority string }

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: nftpy-coverage [-kernel] NFTABLES/tests/py")
		os.Exit(2)
	}
	if *inKernel {
		lab = fmt.Sprintf("ksc-nftpy-%d", os.Getpid())
		if out, err := exec.Command("ip", "netns", "add", lab).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ip netns add: %v: %s", err, out)
			os.Exit(1)
		}
		defer exec.Command("ip", "netns", "delete", lab).Run()
	}
	total, supported := 0, 0
	fmt.Println("| tests/py file | rule forms | ksc accepts |")
	fmt.Println("|---|---|---|")
	for _, kind := range kinds {
		n, ok, err := measure(filepath.Join(flag.Arg(0), kind))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			if lab != "" {
				exec.Command("ip", "netns", "delete", lab).Run()
			}
			os.Exit(1)
		}
		total, supported = total+n, supported+ok
		fmt.Printf("| %s | %d | %d |\n", kind, n, ok)
	}
	fmt.Printf("| all | %d | %d (%.0f%%) |\n", total, supported, 100*float64(supported)/float64(max(total, 1)))
	if lab != "" {
		fmt.Printf("\n%d loads of supported forms compared in the kernel: %d list differently through ksc than as nft's text\n", listed, differed)
		fmt.Printf("ksc import of nft's listing of each: %d leave something out, %d list differently once applied\n", importFailed, importDiffered)
	}
}

// measure counts a file's rule forms nft accepts, and those ksc accepts
// in every table family the file tests them in (ip, ip6, inet).
func measure(path string) (forms, accepted int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	chains := map[string]chainSpec{}
	var tables [][2]string // family, chain
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == '-' || line[0] == '!' || line[0] == '?' || line[0] == '%':
		case line[0] == ':':
			name, spec, _ := strings.Cut(line[1:], ";")
			w := strings.Fields(spec)
			if len(w) >= 6 && w[0] == "type" && w[2] == "hook" {
				chains[name] = chainSpec{w[1], w[3], w[len(w)-1]}
			}
		case line[0] == '*':
			parts := strings.Split(line[1:], ";")
			if len(parts) == 3 && slices.Contains([]string{"ip", "ip6", "inet"}, parts[0]) {
				tables = append(tables, [2]string{parts[0], strings.Split(parts[2], ",")[0]})
			}
		default:
			parts := strings.Split(line, ";")
			if len(parts) < 2 || parts[1] != "ok" || len(tables) == 0 {
				continue
			}
			forms++
			if acceptedEverywhere(parts[0], tables, chains) {
				accepted++
			}
		}
	}
	return forms, accepted, sc.Err()
}

func acceptedEverywhere(rule string, tables [][2]string, chains map[string]chainSpec) bool {
	for _, t := range tables {
		c, ok := chains[t[1]]
		if !ok {
			return false
		}
		typ := ""
		if c.typ != "filter" {
			typ = "type " + c.typ + " "
		}
		src := fmt.Sprintf("table %s t {\n\tchain c %shook %s priority %s {\n\t\t%s\n\t}\n}\n", t[0], typ, c.hook, c.priority, rule)
		p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
		if ds.HasErrors() {
			if *why {
				fmt.Fprintf(os.Stderr, "%s\t%s\t%s\n", t[0], rule, ds[0].Message)
			}
			return false
		}
		if _, err := nft.Render(p, ""); err != nil {
			if *why {
				fmt.Fprintf(os.Stderr, "%s\t%s\t%v\n", t[0], rule, err)
			}
			return false
		}
	}
	if lab != "" {
		for _, t := range tables {
			c := chains[t[1]]
			compareListings(rule, t[0], c)
		}
	}
	return true
}

// compareListings loads rule in a table of family as nft's own text, and
// through ksc's netlink batch, and reports when nft lists them apart.
func compareListings(rule, family string, c chainSpec) {
	native := fmt.Sprintf("table %s t {\n\tchain c {\n\t\ttype %s hook %s priority %s; policy accept;\n\t}\n}\nadd rule %s t c %s\n",
		family, c.typ, c.hook, c.priority, family, rule)
	typ := ""
	if c.typ != "filter" {
		typ = "type " + c.typ + " "
	}
	src := fmt.Sprintf("table %s t {\n\tchain c %shook %s priority %s {\n\t\t%s\n\t}\n}\n", family, typ, c.hook, c.priority, rule)
	listed++
	want, err := nftIn(native, "-f", "-")
	if err != nil {
		differed++
		fmt.Fprintf(os.Stderr, "%s %s: nft refuses its own form here: %v\n", family, rule, err)
		return
	}
	got, err := throughKsc("t.ks", []byte(src))
	if err != nil || got != want {
		differed++
		fmt.Fprintf(os.Stderr, "%s %s: through ksc:\n%s(%v)\nas nft's text:\n%s\n", family, rule, got, err, want)
	}
	importListing(rule, family, want)
}

// importListing imports what nft lists of a form (ksc import), applies
// the import and compares the listings: how a user's existing ruleset
// comes to ksc.
func importListing(rule, family, want string) {
	out, skipped, ds := lang.Import("listing", []byte(want))
	if ds.HasErrors() || len(skipped) > 0 {
		importFailed++
		if *why {
			fmt.Fprintf(os.Stderr, "%s %s: ksc import of nft's listing: %v%v\n", family, rule, ds.Err(), skipped.Err())
		}
		return
	}
	got, err := throughKsc("imported.ks", out)
	if err != nil || got != want {
		importDiffered++
		fmt.Fprintf(os.Stderr, "%s %s: imported from nft's listing:\n%s(%v)\nas nft lists it:\n%s\n", family, rule, got, err, want)
	}
}

// throughKsc loads a policy into the lab, after a flush, as ksc apply
// does (its netlink batch), and returns nft's listing of it.
func throughKsc(name string, src []byte) (string, error) {
	p, ds := lang.Load(name, src, lang.Config{})
	if ds.HasErrors() {
		return "", ds.Err()
	}
	b, err := nft.Lower(p)
	if err == nil {
		_, err = nftIn("", "flush", "ruleset")
	}
	if err == nil {
		err = kernel.Apply(b, nsenter.Path(lab))
	}
	if err != nil {
		return "", err
	}
	return nftIn("", "list", "ruleset")
}

// nftIn runs nft in the lab namespace with stdin; for "-f -", after
// flushing the ruleset, it returns the listing of what was loaded.
func nftIn(stdin string, args ...string) (string, error) {
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", lab, "nft"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil {
			return "", fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, out.String())
		}
		return out.String(), nil
	}
	if len(args) != 2 || args[0] != "-f" {
		return run(stdin, args...)
	}
	if _, err := run("", "flush", "ruleset"); err != nil {
		return "", err
	}
	if _, err := run(stdin, args...); err != nil {
		return "", err
	}
	return run("", "list", "ruleset")
}
