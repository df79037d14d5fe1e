package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// describing, when set, is handed each command's flags by parseFlags
// instead of parsing: completion and the manual read the flags from the
// commands themselves, so that neither can fall behind them.
var describing func(fs *pflag.FlagSet)

// valuesAnnotation lists, on a flag, the words its value may be; shells
// offer them.
const valuesAnnotation = "ksc-values"

// oneOf marks a flag whose value is one of words.
func oneOf(fs *pflag.FlagSet, name string, words ...string) {
	if err := fs.SetAnnotation(name, valuesAnnotation, words); err != nil {
		panic(err) // a flag of that name is defined just before
	}
}

// documented is a listed command with its flags.
type documented struct {
	command
	flags []*pflag.Flag
}

// documentedCommands runs each listed command with describing set, to
// collect the flags it defines.
func documentedCommands() []documented {
	var out []documented
	for _, c := range commands {
		if c.summary == "" {
			continue
		}
		var flags []*pflag.Flag
		describing = func(fs *pflag.FlagSet) {
			fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, f) })
		}
		// openvpn's flags belong to its subcommand.
		c.run(env{stdin: strings.NewReader(""), stdout: discard{}, stderr: discard{}}, []string{"patch"})
		describing = nil
		out = append(out, documented{c, flags})
	}
	return out
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

const completionUsage = `Usage: ksc completion bash|zsh|fish

Print a script that completes ksc's commands, flags and their values in
the shell named. Load it in the current shell, or install it:

  source <(ksc completion bash)
  ksc completion bash > /etc/bash_completion.d/ksc
  ksc completion zsh > "${fpath[1]}/_ksc"
  ksc completion fish > ~/.config/fish/completions/ksc.fish
`

func runCompletion(e env, args []string) int {
	fs := newFlags(e, "completion")
	if code := parseFlags(e, fs, completionUsage, args); code >= 0 {
		return code
	}
	write := map[string]func([]documented) string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[fs.Arg(0)]
	if fs.NArg() != 1 || write == nil {
		fmt.Fprint(e.stderr, completionUsage)
		return exitUsage
	}
	fmt.Fprint(e.stdout, write(documentedCommands()))
	return exitOK
}

// valueKind is what a flag's value is, for completion: nothing (a
// switch), one of some words, a file, or anything.
type valueKind int

const (
	noValue valueKind = iota
	wordValue
	fileValue
	freeValue
)

func kindOf(f *pflag.Flag) (valueKind, []string) {
	if f.Value.Type() == "bool" {
		return noValue, nil
	}
	if words := f.Annotations[valuesAnnotation]; len(words) > 0 {
		return wordValue, words
	}
	name, _ := pflag.UnquoteUsage(f)
	if slices.Contains([]string{"FILE", "DIR", "PATH", "POLICY"}, name) {
		return fileValue, nil
	}
	return freeValue, nil
}

// shellQuote quotes s for sh, bash, zsh and fish alike.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func bashCompletion(cmds []documented) string {
	var b strings.Builder
	b.WriteString("# bash completion for ksc; written by \"ksc completion bash\".\n")
	b.WriteString("_ksc() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	fmt.Fprintf(&b, "\tif [[ $COMP_CWORD -eq 1 ]]; then\n\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n\t\treturn\n\tfi\n", shellQuote(strings.Join(names, " ")))
	b.WriteString("\tlocal flags='' values='' files=''\n\tcase ${COMP_WORDS[1]} in\n")
	for _, c := range cmds {
		var flags, files []string
		var values []string
		for _, f := range c.flags {
			spellings := []string{"--" + f.Name}
			if f.Shorthand != "" {
				spellings = append(spellings, "-"+f.Shorthand)
			}
			flags = append(flags, spellings...)
			switch kind, words := kindOf(f); kind {
			case wordValue:
				for _, s := range spellings {
					values = append(values, s+") values="+shellQuote(strings.Join(words, " "))+" ;;")
				}
			case fileValue:
				files = append(files, spellings...)
			case freeValue:
				for _, s := range spellings {
					values = append(values, s+") values=- ;;")
				}
			}
		}
		fmt.Fprintf(&b, "\t%s)\n\t\tflags=%s\n", c.name, shellQuote(strings.Join(flags, " ")))
		if len(values) > 0 || len(files) > 0 {
			b.WriteString("\t\tcase $prev in\n")
			for _, v := range values {
				b.WriteString("\t\t" + v + "\n")
			}
			if len(files) > 0 {
				b.WriteString("\t\t" + strings.Join(files, "|") + ") files=1 ;;\n")
			}
			b.WriteString("\t\tesac\n")
		}
		b.WriteString("\t\t;;\n")
	}
	b.WriteString(`	esac
	if [[ $values == - ]]; then
		COMPREPLY=()
	elif [[ -n $values ]]; then
		COMPREPLY=($(compgen -W "$values" -- "$cur"))
	elif [[ -z $files && $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -F _ksc ksc
`)
	return b.String()
}

// zshDescription escapes a flag's help for _arguments' [...] and the
// single quotes around the whole spec.
func zshDescription(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`, "`", "").Replace(s)
}

func zshCompletion(cmds []documented) string {
	var b strings.Builder
	b.WriteString("#compdef ksc\n# zsh completion for ksc; written by \"ksc completion zsh\".\n\n_ksc() {\n\tlocal -a commands\n\tcommands=(\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t%s\n", shellQuote(c.name+":"+strings.ReplaceAll(c.summary, ":", `\:`)))
	}
	b.WriteString("\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe command commands\n\t\treturn\n\tfi\n\tcase $words[2] in\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments -s \\\n", c.name)
		for _, f := range c.flags {
			_, usage := pflag.UnquoteUsage(f)
			action := ""
			switch kind, words := kindOf(f); kind {
			case wordValue:
				action = ":" + f.Name + ":(" + strings.Join(words, " ") + ")"
			case fileValue:
				action = ":" + f.Name + ":_files"
			case freeValue:
				action = ":" + f.Name + ": "
			}
			desc := "[" + zshDescription(usage) + "]"
			if f.Shorthand != "" {
				fmt.Fprintf(&b, "\t\t\t%s \\\n", shellQuote("(-"+f.Shorthand+" --"+f.Name+")"+"{-"+f.Shorthand+",--"+f.Name+"}"+desc+action))
				continue
			}
			fmt.Fprintf(&b, "\t\t\t%s \\\n", shellQuote("--"+f.Name+desc+action))
		}
		b.WriteString("\t\t\t'*:file:_files'\n\t\t;;\n")
	}
	b.WriteString("\tesac\n}\n\n_ksc \"$@\"\n")
	return b.String()
}

func fishCompletion(cmds []documented) string {
	var b strings.Builder
	b.WriteString("# fish completion for ksc; written by \"ksc completion fish\".\n")
	b.WriteString("complete -c ksc -f\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c ksc -n __fish_use_subcommand -a %s -d %s\n", c.name, shellQuote(c.summary))
	}
	for _, c := range cmds {
		when := shellQuote("__fish_seen_subcommand_from " + c.name)
		fmt.Fprintf(&b, "complete -c ksc -n %s -F\n", when)
		for _, f := range c.flags {
			_, usage := pflag.UnquoteUsage(f)
			line := fmt.Sprintf("complete -c ksc -n %s -l %s", when, f.Name)
			if f.Shorthand != "" {
				line += " -s " + f.Shorthand
			}
			switch kind, words := kindOf(f); kind {
			case wordValue:
				line += " -x -a " + shellQuote(strings.Join(words, " "))
			case fileValue:
				line += " -r -F"
			case freeValue:
				line += " -x"
			}
			b.WriteString(line + " -d " + shellQuote(usage) + "\n")
		}
	}
	return b.String()
}
