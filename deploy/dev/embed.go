// Package dev holds the Kratos and Hydra configurations of Hera's dev stack
// and test harness, embedded so both render the very same files.
package dev

import "embed"

// FS holds kratos.yml.tmpl, hydra.yml.tmpl and identity.schema.json.
//
//go:embed kratos.yml.tmpl hydra.yml.tmpl identity.schema.json
var FS embed.FS
