//go:build tools

// Package tools pins the upstream Go Arcane operator that the benchmark runs side by side with this operator.
package tools

import _ "github.com/SneaksAndData/arcane-operator"
