#!/usr/bin/env bash
# Builds the deployable packages of the control plane (make package,
# make package-processor). See usage below.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/package.sh [--out DIR] [--version VERSION] [handler|processor|all]...

Builds, for linux/amd64 (static, no cgo, -trimpath):

  handler    DIR/function-app.zip, the Function App for zip deploy:
             host.json, tre-handler (mode 0755) and <name>/function.json
             for every functions/<name>/function.json. Nothing else: the
             web UI is built first (scripts/ui.sh build, Node.js 20.19+)
             and embedded in tre-handler.
  processor  DIR/processor-vm.tar.gz, the Resource Processor VM:
             tre-processor, tre-processor.service, cloud-init.yaml and
             processor.env.template (see processor-vm/cloud-init.yaml on
             how Terraform uses them).
  all        both (the default).

Options:
  --out DIR          where the packages go (default: dist)
  --version VERSION  version stamped into the binaries (default: $VERSION,
                     else `git describe --always --dirty`, else dev)
  --without-ui       do not build the web UI (no Node.js): tre-handler embeds
                     internal/webui/dist/app as it is, or, when it was never
                     built, a page at / saying how to build it
  -h, --help         this help

Environment:
  GO                 the go command (default: go)
  SOURCE_DATE_EPOCH  timestamp of the packaged files (default: the last
                     commit's), so that the same tree packs the same bytes

Needs go, zip, Node.js 20.19+ and npm (handler), GNU tar and gzip
(processor); on Debian or Ubuntu: apt-get install zip tar gzip.
EOF
}

die() {
	echo "package.sh: $*" >&2
	exit 1
}

out=dist
version=${VERSION:-}
with_ui=true
targets=()
while [[ $# -gt 0 ]]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--out)
		[[ $# -ge 2 ]] || die "--out needs a directory"
		out=$2
		shift 2
		;;
	--version)
		[[ $# -ge 2 ]] || die "--version needs a value"
		version=$2
		shift 2
		;;
	--without-ui)
		with_ui=false
		shift
		;;
	handler | processor)
		targets+=("$1")
		shift
		;;
	all)
		targets+=(handler processor)
		shift
		;;
	*)
		usage >&2
		die "unknown argument: $1"
		;;
	esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(handler processor)

# The output directory is taken relative to where the script was called;
# everything else relative to the repository root.
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "${BASH_SOURCE[0]}")/.."

go_cmd=${GO:-go}
command -v "$go_cmd" >/dev/null || die "$go_cmd not found: install Go (see go.mod for the version)"
if [[ -z $version ]]; then
	version=$(git describe --always --dirty 2>/dev/null || echo dev)
fi
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# build compiles a program of this module for the Azure hosts.
build() {
	local pkg=$1 dest=$2
	echo "package.sh: building $pkg ($version) -> $(basename "$dest")"
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$go_cmd" build -trimpath \
		-ldflags "-s -w -X main.version=$version" -o "$dest" "$pkg"
	chmod 0755 "$dest"
}

# stamp gives every file under $1 the same timestamp, for reproducible
# archives.
stamp() {
	find "$1" -exec touch -h -d "@$epoch" {} +
}

package_handler() {
	command -v zip >/dev/null || die "zip not found (apt-get install zip)"
	if $with_ui; then
		scripts/ui.sh build || die "the web UI did not build (scripts/ui.sh build); --without-ui packages without it"
	else
		echo "package.sh: --without-ui: the handler embeds internal/webui/dist/app as it is"
	fi
	local app=$work/function-app
	mkdir -p "$app"
	build ./handlers "$app/tre-handler"
	install -m 0644 host.json "$app/host.json"
	local files=(host.json tre-handler) dir name
	for dir in functions/*/; do
		name=$(basename "$dir")
		[[ -f $dir/function.json ]] || die "functions/$name has no function.json"
		install -d -m 0755 "$app/$name"
		install -m 0644 "$dir/function.json" "$app/$name/function.json"
		files+=("$name/function.json")
	done
	[[ ${#files[@]} -gt 2 ]] || die "no functions/*/function.json found"
	stamp "$app"
	# -X: no uid/gid or extra timestamps; -D: files only, no directory
	# entries. The Unix mode (0755 for the binary) is kept either way.
	rm -f "$work/function-app.zip"
	(cd "$app" && zip -q -X -D "$work/function-app.zip" "${files[@]}")
	mv -f "$work/function-app.zip" "$out/function-app.zip"
	echo "package.sh: $out/function-app.zip"
}

package_processor() {
	command -v tar >/dev/null || die "tar not found (apt-get install tar)"
	command -v gzip >/dev/null || die "gzip not found (apt-get install gzip)"
	local pkg=$work/processor-vm
	mkdir -p "$pkg"
	build ./processor-vm "$pkg/tre-processor"
	install -m 0644 processor-vm/tre-processor.service processor-vm/cloud-init.yaml \
		processor-vm/processor.env.template "$pkg/"
	stamp "$pkg"
	local owner=()
	if tar --version 2>/dev/null | grep -q 'GNU tar'; then
		owner=(--owner=0 --group=0 --numeric-owner)
	fi
	tar -C "$pkg" "${owner[@]}" -cf - tre-processor tre-processor.service cloud-init.yaml processor.env.template |
		gzip -n -9 >"$work/processor-vm.tar.gz"
	mv -f "$work/processor-vm.tar.gz" "$out/processor-vm.tar.gz"
	echo "package.sh: $out/processor-vm.tar.gz"
}

for target in "${targets[@]}"; do
	"package_$target"
done
