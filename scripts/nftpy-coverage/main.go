// Command nftpy-coverage measures how much of nftables' own rule tests
// (tests/py in the nftables source) ksc accepts: each rule line nft takes
// ("RULE;ok") is put, as written, in a chain like the test's, in each
// ip, ip6 and inet table the test names, and counts as supported when ksc
// loads it and the nft target can write it. docs/language.md records the
// result.
//
//	go run ./scripts/nftpy-coverage NFTABLES/tests/py
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/lang"
)

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
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: nftpy-coverage NFTABLES/tests/py")
		os.Exit(2)
	}
	total, supported := 0, 0
	fmt.Println("| tests/py file | rule forms | ksc accepts |")
	fmt.Println("|---|---|---|")
	for _, kind := range kinds {
		n, ok, err := measure(filepath.Join(os.Args[1], kind))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		total, supported = total+n, supported+ok
		fmt.Printf("| %s | %d | %d |\n", kind, n, ok)
	}
	fmt.Printf("| all | %d | %d (%.0f%%) |\n", total, supported, 100*float64(supported)/float64(max(total, 1)))
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
			return false
		}
		if _, err := nft.Render(p); err != nil {
			return false
		}
	}
	return true
}
