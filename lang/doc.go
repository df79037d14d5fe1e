// Package lang parses ksc policy files and builds the validated ir.Policy they describe.
//
// Parse turns source text into a syntax tree (File); Build resolves defines,
// command-line overrides and options, checks every value's kind and range,
// and returns the ir.Policy with positioned diagnostics. Load does both.
// The grammar is documented in docs/language.md.
package lang
