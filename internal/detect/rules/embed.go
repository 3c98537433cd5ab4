// Package rules holds trailwatch's built-in detection rules: Sigma YAML
// files, one rule per file (with the base rules of a correlation in the
// same file), each with its tests.
package rules

import "embed"

// FS holds the rule files (*.yml).
//
//go:embed *.yml
var FS embed.FS
