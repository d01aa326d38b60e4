// Package dev holds the Kratos and Hydra configurations of Hera's dev stack
// and test harness, embedded so both render the very same files.
package dev

import "embed"

// FS holds kratos.yml.tmpl, hydra.yml.tmpl and the identity schemas: the
// default identity.schema.json (e-mail and name) and the username and phone
// schemas (identity.username.schema.json, identity.phone.schema.json) that
// the tests and the dev stack's -schema option use.
//
//go:embed kratos.yml.tmpl hydra.yml.tmpl identity*.schema.json
var FS embed.FS

// HookBody is the body of Kratos's web hooks to Hera (kratos-hook.jsonnet):
// the dev stack's, and the one operators configure (docs/kratos-setup.md).
//
//go:embed kratos-hook.jsonnet
var HookBody []byte
