// Package ir is the typed, validated, family-aware form of a ksc policy that every backend lowers.
//
// A Policy is built by package lang from source text, or directly by Go programs,
// and checked with Validate before any backend renders it. Every node carries the
// source position it came from, so that a backend or the kernel can point a
// refusal back at the policy line that caused it.
package ir
