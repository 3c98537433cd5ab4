package detect

import "github.com/trailwatch/trailwatch/internal/detect/rules"

// Builtin returns trailwatch's built-in rule pack (Sigma YAML embedded in
// the binary), freshly parsed.
func Builtin() ([]*Rule, error) {
	return LoadFS(rules.FS, ".", "builtin:")
}
