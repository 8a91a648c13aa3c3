//go:build tools

// The Node.js language host. The module that holds it in Pulumi v3.259
// (sdk/nodejs/cmd/pulumi-language-nodejs/v3) is untagged and the Go module proxy
// refuses its pseudo-versions, so we build the last tagged release that still
// carried the host inside sdk/v3 (v3.68.0). See README "Toolchain".
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
