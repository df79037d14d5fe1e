package enforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ksc-project/ksc/internal/safefile"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
)

// An Intent is what ksc last meant to be in force in a namespace: a
// policy, as applied (its text, options and defines, so that it compiles
// the same again), or nothing, after "ksc remove". Apply, Remove, a
// rollback and a watch write it before they change the ruleset, and a
// watch keeps in force what it says: a running watch once put its old
// policy back 8 ms after the operator applied a tightened one, and undid
// "ksc remove" 2 ms after it.
type Intent struct {
	// Removed says that nothing is to be in force.
	Removed bool     `json:"removed,omitempty"`
	Backend string   `json:"backend,omitempty"` // "nft" or "iptables"
	Path    string   `json:"path,omitempty"`    // the policy as given, for messages
	Dir     string   `json:"dir,omitempty"`     // where its file() sets are
	Source  []byte   `json:"source,omitempty"`
	Enable  []string `json:"enable,omitempty"`
	Defines []string `json:"defines,omitempty"`
	// By names the command that wrote it: "ksc apply[1234]".
	By string `json:"by"`
}

// PolicyIntent is the intent of putting p, read from source with the
// options and defines given, in force with backend, by the command cmd.
func PolicyIntent(p *ir.Policy, source []byte, enable, defines []string, backend, cmd string) Intent {
	dir := filepath.Dir(p.Source)
	if p.Source == "<stdin>" {
		dir = "."
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return Intent{Backend: backend, Path: p.Source, Dir: dir, Source: source,
		Enable: enable, Defines: defines, By: By(cmd)}
}

// By names this process as the command cmd: "ksc apply[1234]".
func By(cmd string) string { return fmt.Sprintf("ksc %s[%d]", cmd, os.Getpid()) }

// Load compiles the intent's policy.
func (in Intent) Load() (*ir.Policy, error) {
	cfg := lang.Config{Enable: in.Enable, Dir: in.Dir}
	for _, d := range in.Defines {
		o, err := lang.ParseOverride(d)
		if err != nil {
			return nil, err
		}
		cfg.Defines = append(cfg.Defines, o)
	}
	p, ds := lang.Load(in.Path, in.Source, cfg)
	if ds.HasErrors() {
		return nil, fmt.Errorf("the policy %s, as %s applied it, no longer loads: %v", in.Path, in.By, ds)
	}
	return p, nil
}

func (n Namespace) intentPath() (string, error) {
	path, err := n.file("intent")
	return path + ".json", err
}

// ReadIntent is the namespace's intent as written, and its bytes; nil
// bytes when none was.
func (n Namespace) ReadIntent() (Intent, []byte, error) {
	var in Intent
	path, err := n.intentPath()
	if err != nil {
		return in, nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return in, nil, nil
	}
	if err != nil {
		return in, nil, err
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return in, data, fmt.Errorf("%s: %w", path, err)
	}
	return in, data, nil
}

// writeIntent records in for the namespace, and returns what puts back
// the intent there was (after a failed change).
func (n Namespace) writeIntent(in Intent) (restore func(), err error) {
	path, err := n.intentPath()
	if err != nil {
		return nil, err
	}
	was := savedFile(path)
	data, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return nil, err
	}
	if err := safefile.Write(path, data, safefile.Options{}); err != nil {
		return nil, err
	}
	return was.putBack, nil
}

// saved is a file as it was: its bytes, or none.
type saved struct {
	path    string
	data    []byte
	existed bool
}

func savedFile(path string) saved {
	data, err := os.ReadFile(path)
	return saved{path: path, data: data, existed: err == nil}
}

func (s saved) putBack() {
	if s.existed {
		safefile.Write(s.path, s.data, safefile.Options{})
	} else {
		os.Remove(s.path)
	}
}
