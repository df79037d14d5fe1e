package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/spf13/pflag"
)

// policyFlags are the flags of every command that reads a policy.
type policyFlags struct {
	defines []string
	enable  []string
	// sources holds the text of the policy and of each -D value, by the
	// file name positions use, for printing source lines in errors.
	sources map[string][]byte
	warned  bool // loading printed a warning
	// quiet leaves warnings out: ksc test reports verdicts, ksc check warnings.
	quiet bool
	// defineFilesIn confines the files of the defines (lang.Config).
	defineFilesIn string
	cmd           string // the command, for its errors
}

func (pf *policyFlags) register(fs *pflag.FlagSet) {
	pf.cmd = fs.Name()
	fs.StringArrayVarP(&pf.defines, "define", "D", nil,
		"override a define: `NAME=VALUE`, VALUE in policy syntax (repeatable)")
	fs.VarP((*optionNames)(&pf.enable), "enable", "e",
		"enable an optional rule block by `NAME` (repeatable, or comma-separated)")
}

// optionNames is the value of -e: names, comma-separated or repeated.
// (pflag's string slice reads CSV, which silently drops everything after
// a newline.)
type optionNames []string

func (o *optionNames) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if err := lang.CheckOptionName(name); err != nil {
			return err
		}
		if name != "" {
			*o = append(*o, name)
		}
	}
	return nil
}

func (o *optionNames) String() string { return strings.Join(*o, ",") }
func (o *optionNames) Type() string   { return "strings" }

// load reads, parses, builds and validates the policy at path ("-" is
// standard input), printing every diagnostic to stderr. It returns nil when
// the policy has errors.
func (pf *policyFlags) load(e env, path string) *ir.Policy {
	src, name, err := readPolicy(e, path)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc %s: %v\n", pf.cmd, err)
		return nil
	}
	collectHarderFor(len(src))
	cfg := lang.Config{Enable: pf.enable, DefineFilesIn: pf.defineFilesIn}
	pf.sources = map[string][]byte{name: src}
	sources := pf.sources
	for _, d := range pf.defines {
		o, err := lang.ParseOverride(d)
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc %s: %v\n", pf.cmd, err)
			return nil
		}
		cfg.Defines = append(cfg.Defines, o)
		sources[lang.OverrideSource(o.Name)] = []byte(o.Value)
	}
	p, ds := lang.Load(name, src, cfg)
	if pf.quiet {
		var errs ir.Diagnostics
		for _, d := range ds {
			if d.Severity == ir.Error {
				errs = append(errs, d)
			}
		}
		ds = errs
	}
	printDiagnostics(e.stderr, ds, sources)
	pf.warned = len(ds) > 0
	return p
}

func readPolicy(e env, path string) (src []byte, name string, err error) {
	if path == "-" {
		src, err = lang.ReadBounded(e.stdin)
		if err != nil {
			err = fmt.Errorf("standard input: %w", err)
		}
		return src, "<stdin>", err
	}
	src, err = lang.ReadSource(path)
	return src, path, err
}

// printDiagnostics prints each diagnostic once: a define used by many
// rules could otherwise repeat one warning for each.
func printDiagnostics(w io.Writer, ds ir.Diagnostics, sources map[string][]byte) {
	errors := 0
	printed := map[string]bool{}
	for _, d := range ds {
		text := d.Render(sources[d.Pos.File])
		if printed[text] {
			continue
		}
		printed[text] = true
		fmt.Fprint(w, text)
		if d.Severity == ir.Error {
			errors++
		}
	}
	if errors > 1 {
		fmt.Fprintf(w, "%d errors\n", errors)
	}
}

// onePolicyArg checks that exactly one policy file was named.
func onePolicyArg(e env, fs *pflag.FlagSet) (string, bool) {
	if fs.NArg() != 1 {
		fmt.Fprintf(e.stderr, "ksc %s: want one policy file (or - for standard input), got %d arguments\nRun \"ksc %s --help\" for usage.\n",
			fs.Name(), fs.NArg(), fs.Name())
		return "", false
	}
	return fs.Arg(0), true
}

// reportError prints a backend's error: diagnostics with their source
// lines, anything else after the command's name.
func (pf *policyFlags) reportError(e env, cmd string, err error) {
	var ds ir.Diagnostics
	if errors.As(err, &ds) {
		printDiagnostics(e.stderr, ds, pf.sources)
		return
	}
	fmt.Fprintf(e.stderr, "ksc %s: %v\n", cmd, err)
}
