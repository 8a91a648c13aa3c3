//go:build tools

// Keeps the CLI's main package in this module's requirements so `go mod tidy`
// does not drop it; the setup script builds it with `go build`.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
