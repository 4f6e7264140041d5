// Package actionlint pins actionlint as a tool (`go tool actionlint`, run by
// deploy/check's workflow test). It is a module of its own because
// actionlint and compose-go need different versions of the same YAML
// package.
package actionlint
