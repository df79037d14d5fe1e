package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/install"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
)

const installUsage = `Usage: ksc install POLICY [-e NAME] [-D NAME=VALUE] [--backend nft|iptables] [--watch] [--root DIR] [--dry-run]

Install POLICY so that it is in force at every boot before any network
interface comes up, closing the window between boot and "ksc apply":

  ` + install.Policy + `                      the policy, and beside it the file() sets it reads
  ` + install.Unit + `         applies it before network-pre.target
  ` + install.Enabled + `
                                         enables it (what "systemctl enable" would do)
  ` + install.RulesV4 + `, ` + install.RulesV6 + `
                                         with --backend iptables: the rules for
                                         netfilter-persistent too
  ` + install.WatchUnit + `   with --watch: runs "ksc watch" from boot, which
                                         puts the policy back whenever another
                                         program changes it
  ` + install.Manifest + `                     what was written, for "ksc uninstall"

The options (-e) and defines (-D) given here are the ones applied at boot.
Running it again updates the installation; a file of the same name that
ksc did not write is never overwritten. --root writes into a directory
tree instead of / (for image builds); --dry-run lists the files.

Examples:
  sudo ksc install policy.ks -e lan -D INET_DEV=wlan0 && sudo systemctl daemon-reload
  ksc install policy.ks --root ./image --ksc /usr/local/bin/ksc
  sudo ksc uninstall
`

func runInstall(e env, args []string) int {
	flags := newFlags(e, "install")
	var pf policyFlags
	backend := flags.String("backend", "nft", "how the unit applies the policy: nft or iptables")
	oneOf(flags, "backend", backends.Names...)
	root := flags.String("root", "/", "install into the directory tree `DIR`")
	dryRun := flags.BoolP("dry-run", "n", false, "list the files, write nothing")
	ksc := flags.String("ksc", "", "the ksc binary the unit runs, as an absolute `PATH` on the installed system (default: this one)")
	watch := flags.Bool("watch", false, "also install a unit that runs \"ksc watch\" from boot, putting the policy back whenever another program changes it")
	pf.register(flags)
	if code := parseFlags(e, flags, installUsage, args); code >= 0 {
		return code
	}
	path, ok := onePolicyArg(e, flags)
	if !ok {
		return exitUsage
	}
	b := install.Backend(*backend)
	if b != install.NFT && b != install.IPTables {
		fmt.Fprintf(e.stderr, "ksc install: --backend is nft or iptables, not %q\n", *backend)
		return exitUsage
	}
	p := pf.load(e, path)
	if p == nil {
		return exitFailure
	}
	opts, err := installOptions(p, &pf, b, *ksc)
	opts.Watch = *watch
	if err == nil {
		err = installFiles(e, opts, *root, *dryRun)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc install: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// installOptions gathers what the installation is made of.
func installOptions(p *ir.Policy, pf *policyFlags, b install.Backend, ksc string) (install.Options, error) {
	o := install.Options{Policy: pf.sources[p.Source], Enable: pf.enable, Defines: pf.defines, Backend: b, Ksc: ksc, MakeCgroups: len(p.Cgroups()) > 0}
	if o.Ksc == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, err
		}
		if o.Ksc, err = filepath.EvalSymlinks(exe); err != nil {
			return o, err
		}
	}
	for _, s := range p.SetFiles {
		data, err := lang.ReadSource(s.Path)
		if err != nil {
			return o, err
		}
		o.SetFiles = append(o.SetFiles, install.SetFile{Written: s.Written, Data: data})
	}
	if b == install.IPTables {
		for _, f := range []ir.Family{ir.IPv4, ir.IPv6} {
			out, err := iptables.Render(p, f)
			if err != nil {
				return o, err
			}
			if f == ir.IPv4 {
				o.IPv4Rules = out.Text
			} else {
				o.IPv6Rules = out.Text
			}
		}
	}
	return o, nil
}

// installFiles writes the plan under root (install.Write), or lists it.
func installFiles(e env, o install.Options, root string, dryRun bool) error {
	plan, err := install.Plan(o)
	if err != nil {
		return err
	}
	if dryRun {
		var paths []string
		for _, f := range plan {
			paths = append(paths, f.Path)
		}
		paths = append(paths, install.Manifest)
		fmt.Fprintf(e.stdout, "# ksc install --dry-run: would write under %s\n%s\n", root, strings.Join(paths, "\n"))
		return nil
	}
	if err := install.Write(root, plan); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "ksc install: installed %s (%s backend); it applies at the next boot, or now with \"systemctl daemon-reload && systemctl start ksc\"\n", install.Unit, o.Backend)
	return nil
}

const uninstallUsage = `Usage: ksc uninstall [--root DIR] [--dry-run]

Remove exactly the files "ksc install" wrote (listed in ` + install.Manifest + `).
The rules in force stay until the next boot, or "ksc remove POLICY".
`

func runUninstall(e env, args []string) int {
	flags := newFlags(e, "uninstall")
	root := flags.String("root", "/", "uninstall from the directory tree `DIR`")
	dryRun := flags.BoolP("dry-run", "n", false, "list the files, remove nothing")
	if code := parseFlags(e, flags, uninstallUsage, args); code >= 0 {
		return code
	}
	if flags.NArg() != 0 {
		fmt.Fprintln(e.stderr, "ksc uninstall: takes no arguments")
		return exitUsage
	}
	if *dryRun {
		entries, err := install.ReadManifest(*root)
		if err == nil && entries == nil {
			err = fmt.Errorf("nothing is installed under %s (no %s)", *root, install.Manifest)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc uninstall: %v\n", err)
			return exitFailure
		}
		var paths []string
		for _, en := range entries {
			paths = append(paths, en.Path)
		}
		fmt.Fprintf(e.stdout, "# ksc uninstall --dry-run: would remove under %s (those still as ksc wrote them)\n%s\n", *root, strings.Join(paths, "\n"))
		return exitOK
	}
	report, err := install.Uninstall(*root)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc uninstall: %v\n", err)
		return exitFailure
	}
	for _, p := range report.Kept {
		fmt.Fprintf(e.stderr, "ksc uninstall: left %s: it was changed since ksc installed it\n", p)
	}
	fmt.Fprintf(e.stderr, "ksc uninstall: removed %d files\n", len(report.Removed))
	return exitOK
}
