// Package clidoc writes shell completion scripts (bash, zsh, fish) and a
// manual page from a description of a program's commands and their
// flags, so that neither can fall behind the commands themselves.
package clidoc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// Command is one command of the program: its name, its line in the
// program's help, its help text and its flags.
type Command struct {
	Name, Summary, Usage string
	Flags                []*pflag.Flag
}

// valuesAnnotation lists, on a flag, the words its value may be.
const valuesAnnotation = "clidoc-values"

// OneOf marks a flag of fs whose value is one of words: the shells offer
// them.
func OneOf(fs *pflag.FlagSet, name string, words ...string) {
	if err := fs.SetAnnotation(name, valuesAnnotation, words); err != nil {
		panic(err) // the flag is defined just before
	}
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

// Bash is a bash completion script for the program.
func Bash(program string, cmds []Command) string {
	var b strings.Builder
	fn := function(program)
	fmt.Fprintf(&b, "# bash completion for %s; written by \"%s completion bash\".\n", program, program)
	b.WriteString(fn + "() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	var names []string
	for _, c := range cmds {
		names = append(names, c.Name)
	}
	fmt.Fprintf(&b, "\tif [[ $COMP_CWORD -eq 1 ]]; then\n\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n\t\treturn\n\tfi\n", shellQuote(strings.Join(names, " ")))
	b.WriteString("\tlocal flags='' values='' files=''\n\tcase ${COMP_WORDS[1]} in\n")
	for _, c := range cmds {
		var flags, files []string
		var values []string
		for _, f := range c.Flags {
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
		fmt.Fprintf(&b, "\t%s)\n\t\tflags=%s\n", c.Name, shellQuote(strings.Join(flags, " ")))
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
`)
	fmt.Fprintf(&b, "complete -o filenames -F %s %s\n", fn, program)
	return b.String()
}

// zshDescription escapes a flag's help for _arguments' [...] and the
// single quotes around the whole spec.
func zshDescription(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`, "`", "").Replace(s)
}

// Zsh is a zsh completion script (a #compdef file) for the program.
func Zsh(program string, cmds []Command) string {
	var b strings.Builder
	fn := function(program)
	fmt.Fprintf(&b, "#compdef %s\n# zsh completion for %s; written by \"%s completion zsh\".\n\n%s() {\n\tlocal -a commands\n\tcommands=(\n", program, program, program, fn)
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t%s\n", shellQuote(c.Name+":"+strings.ReplaceAll(c.Summary, ":", `\:`)))
	}
	b.WriteString("\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe command commands\n\t\treturn\n\tfi\n\tcase $words[2] in\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments -s \\\n", c.Name)
		for _, f := range c.Flags {
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
	fmt.Fprintf(&b, "\tesac\n}\n\n%s \"$@\"\n", fn)
	return b.String()
}

// Fish is a fish completion script for the program.
func Fish(program string, cmds []Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %s; written by \"%s completion fish\".\n", program, program)
	fmt.Fprintf(&b, "complete -c %s -f\n", program)
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c %s -n __fish_use_subcommand -a %s -d %s\n", program, c.Name, shellQuote(c.Summary))
	}
	for _, c := range cmds {
		when := shellQuote("__fish_seen_subcommand_from " + c.Name)
		fmt.Fprintf(&b, "complete -c %s -n %s -F\n", program, when)
		for _, f := range c.Flags {
			_, usage := pflag.UnquoteUsage(f)
			line := fmt.Sprintf("complete -c %s -n %s -l %s", program, when, f.Name)
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

// function is the shell function a script defines: _ and the program's
// name, which must be a plain word.
func function(program string) string {
	for _, r := range program {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			panic("clidoc: a program name is letters, digits, - and _: " + program)
		}
	}
	return "_" + strings.ReplaceAll(program, "-", "_")
}
