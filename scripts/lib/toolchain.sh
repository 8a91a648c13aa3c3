# Versions and locations of the Pulumi toolchain, shared by scripts/setup and scripts/pulumi-env.
# Sourced, not executed.
IMAGEPORT_ROOT=${IMAGEPORT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PULUMI_VERSION=v3.259.0          # the CLI; @pulumi/pulumi in package.json is pinned to the same release
PULUMI_HOST_VERSION=v3.68.0      # the Node.js language host (see scripts/toolchain/pulumi-language-nodejs/tools.go)
IMAGEPORT_CACHE=${IMAGEPORT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imageport}
# Keyed by version: a version bump builds into a fresh directory and never mixes binaries.
PULUMI_TOOLCHAIN_DIR=$IMAGEPORT_CACHE/pulumi-$PULUMI_VERSION-nodejs-host-$PULUMI_HOST_VERSION
PULUMI_BIN=$PULUMI_TOOLCHAIN_DIR/bin
# moto (the AWS emulator the AWS driver's tests run against), in a venv keyed by its version.
MOTO_VERSION=5.2.5
MOTO_VENV=$IMAGEPORT_CACHE/moto-$MOTO_VERSION
# fake-gcs-server (the GCS emulator the GCP driver's tests run against), built from its Go module
# into a directory keyed by its release tag (test/helpers/fake-gcs.ts reads the same tag).
FAKE_GCS_VERSION=v1.56.1
FAKE_GCS_DIR=$IMAGEPORT_CACHE/fake-gcs-server-$FAKE_GCS_VERSION
# vcsim-fake (test/fakes/vcsim: govmomi's vSphere simulator plus what the vSphere tests need),
# built into $IMAGEPORT_CACHE/vcsim-fake-govmomi-<version>-<source hash> (see vcsim_fake_dir;
# test/helpers/vcsim.ts computes the same path). The version is the one test/fakes/vcsim/go.mod pins.
VCSIM_GOVMOMI_VERSION=v0.46.3
vcsim_fake_dir() {  # first 12 hex of sha256 over `sha256sum` of go.mod, go.sum, *.go in C order
  local key
  key=$(cd "$IMAGEPORT_ROOT/test/fakes/vcsim" && printf '%s\n' go.mod go.sum *.go | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
  echo "$IMAGEPORT_CACHE/vcsim-fake-govmomi-$VCSIM_GOVMOMI_VERSION-$key"
}
