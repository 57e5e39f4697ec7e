#!/usr/bin/env bash
# Publishes a bundle to the TRE's registry and registers its template with
# the API, as AzureTRE's registration does. See usage below.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/register-bundle.sh [options] BUNDLE_DIR

BUNDLE_DIR holds porter.yaml and template_schema.json, laid out as under
templates/ (workspaces/<dir>, workspace_services/<dir>,
workspace_services/<svc>/user_resources/<dir>, shared_services/<dir>): the
kind of template, and a user resource's parent service, come from there.

Azure (default):
  1. porter build, then porter publish to the TRE's registry
     (az acr login first): <registry>/<name>:v<version>, the reference the
     Resource Processor runs;
  2. the registration is `porter explain -o json` of that reference plus
     json_schema (template_schema.json) and current, POSTed to
     /api/workspace-templates, /api/workspace-service-templates,
     /api/workspace-service-templates/<parent>/user-resource-templates or
     /api/shared-service-templates, with a token from
     az account get-access-token --resource api://<API_CLIENT_ID>.
  Defaults come from `terraform -chdir=infra output` (api_base_url,
  api_client_id, registry_login_server, registry_name).

--local: registers against `make run` (http://127.0.0.1:8080) with a dev
  token from bin/tre-handler token (same TRE_DATA_DIR as the server); no
  publishing. The registration comes from `porter explain --file` when
  porter is installed, else from porter.yaml's name, version and
  customActions read directly.

Options:
  --local              see above
  --base-url URL       the API (default: infra output api_base_url, or
                       http://127.0.0.1:8080 with --local)
  --api-client-id ID   the API's application id, for the token (default:
                       infra output api_client_id)
  --token TOKEN        a TREAdmin bearer token (default: $TRE_TOKEN, else as
                       above)
  --registry SERVER    <name>.azurecr.io (default: infra output
                       registry_login_server)
  --no-publish         register only (the bundle is already published)
  --not-current        register without making this version current
  -h, --help           this help

Exit status: 0 when registered, or already registered with this version
(the API answers 409; bump the version in porter.yaml to register a
change). Needs curl and jq; porter and az unless --local.
USAGE
}

die() {
	echo "register-bundle.sh: $*" >&2
	exit 1
}
say() { echo "register-bundle.sh: $*"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
local_mode=false publish=true current=true
dir="" base="" client_id="" token=${TRE_TOKEN:-} registry=""
while [[ $# -gt 0 ]]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--local)
		local_mode=true
		publish=false
		shift
		;;
	--no-publish)
		publish=false
		shift
		;;
	--not-current)
		current=false
		shift
		;;
	--base-url | --api-client-id | --token | --registry)
		[[ $# -ge 2 ]] || die "$1 needs a value"
		case $1 in
		--base-url) base=$2 ;;
		--api-client-id) client_id=$2 ;;
		--token) token=$2 ;;
		--registry) registry=$2 ;;
		esac
		shift 2
		;;
	-*)
		usage >&2
		die "unknown option $1"
		;;
	*)
		[[ -z $dir ]] || die "one BUNDLE_DIR only (got $dir and $1)"
		dir=$1
		shift
		;;
	esac
done
[[ -n $dir ]] || {
	usage >&2
	die "BUNDLE_DIR is required"
}
[[ -f $dir/porter.yaml ]] || die "$dir has no porter.yaml"
[[ -f $dir/template_schema.json ]] || die "$dir has no template_schema.json (a bundle without one is not a template)"
dir=$(cd "$dir" && pwd)
for tool in curl jq; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install $tool)"
done
jq -e 'type == "object"' "$dir/template_schema.json" >/dev/null || die "$dir/template_schema.json is not a JSON object"

# The kind (and a user resource's parent) from the directory's place.
kind="" parent=""
case $dir in
*/workspace_services/*/user_resources/*)
	kind=user-resource
	svc_dir=${dir%/user_resources/*}
	[[ -f $svc_dir/porter.yaml ]] || die "$dir: its service $svc_dir has no porter.yaml"
	parent=$(awk -F': *' '/^name:/ {gsub(/["'\'']/, "", $2); print $2; exit}' "$svc_dir/porter.yaml")
	[[ -n $parent ]] || die "$svc_dir/porter.yaml has no name"
	;;
*/workspaces/*) kind=workspace ;;
*/workspace_services/*) kind=workspace-service ;;
*/shared_services/*) kind=shared-service ;;
*) die "$dir is not under workspaces/, workspace_services/ or shared_services/: the kind of template is unknown" ;;
esac
case $kind in
workspace) route=/api/workspace-templates ;;
workspace-service) route=/api/workspace-service-templates ;;
user-resource) route=/api/workspace-service-templates/$parent/user-resource-templates ;;
shared-service) route=/api/shared-service-templates ;;
esac

# infra_output NAME: a Terraform output of infra/, or empty.
infra_output() {
	command -v terraform >/dev/null || return 0
	terraform -chdir="$repo/infra" output -raw "$1" 2>/dev/null || true
}

name=$(awk -F': *' '/^name:/ {gsub(/["'\'']/, "", $2); print $2; exit}' "$dir/porter.yaml")
version=$(awk -F': *' '/^version:/ {gsub(/["'\'']/, "", $2); print $2; exit}' "$dir/porter.yaml")
[[ -n $name && -n $version ]] || die "$dir/porter.yaml needs a name and a version"

if $local_mode; then
	base=${base:-http://127.0.0.1:8080}
	if [[ -z $token ]]; then
		[[ -x $repo/bin/tre-handler ]] || die "$repo/bin/tre-handler is missing: make build (or make run)"
		token=$("$repo/bin/tre-handler" token --roles TREAdmin --user register-bundle) ||
			die "bin/tre-handler token failed: run with the server's TRE_DATA_DIR, or pass --token"
	fi
else
	base=${base:-$(infra_output api_base_url)}
	[[ -n $base ]] || die "no --base-url, and no api_base_url output in infra/ (terraform apply first)"
	if [[ -z $token ]]; then
		command -v az >/dev/null || die "az not found: install the Azure CLI, or pass --token"
		client_id=${client_id:-$(infra_output api_client_id)}
		[[ -n $client_id ]] || die "no --api-client-id, and no api_client_id output in infra/"
		token=$(az account get-access-token --resource "api://$client_id" --query accessToken --output tsv) ||
			die "az account get-access-token --resource api://$client_id failed (az login; and your account needs the TREAdmin role of the API)"
	fi
fi
base=${base%/}

explain=$(mktemp)
trap 'rm -f "$explain"' EXIT
if $publish; then
	command -v porter >/dev/null || die "porter not found (https://porter.sh/install), or use --no-publish"
	command -v az >/dev/null || die "az not found (the Azure CLI logs porter in to the registry)"
	registry=${registry:-$(infra_output registry_login_server)}
	[[ -n $registry ]] || die "no --registry, and no registry_login_server output in infra/"
	say "az acr login --name ${registry%%.*}"
	az acr login --name "${registry%%.*}" >/dev/null || die "az acr login failed (AcrPush on the registry, and your address in deployer_ip_ranges?)"
	say "porter build ($dir)"
	(cd "$dir" && porter build) || die "porter build failed"
	say "porter publish --registry $registry"
	(cd "$dir" && porter publish --registry "$registry") || die "porter publish failed"
fi
if [[ -n $registry ]] && command -v porter >/dev/null && ! $local_mode; then
	porter explain --reference "$registry/$name:v$version" --output json >"$explain" ||
		die "porter explain --reference $registry/$name:v$version failed"
elif command -v porter >/dev/null; then
	porter explain --file "$dir/porter.yaml" --output json >"$explain" || die "porter explain --file $dir/porter.yaml failed"
else
	$local_mode || die "porter not found: it describes the published bundle"
	say "porter not found: reading name, version and customActions from porter.yaml"
	awk '
		/^customActions:/ { in_ca = 1; next }
		in_ca && /^[^ #]/ { in_ca = 0 }
		in_ca && /^  [A-Za-z0-9_-]+:/ { n = $1; sub(/:$/, "", n); names[++count] = n; next }
		in_ca && /^    description:/ { d = $0; sub(/^    description: */, "", d); gsub(/^["'\'']|["'\'']$/, "", d); desc[count] = d }
		END {
			printf "["
			for (i = 1; i <= count; i++) printf "%s{\"name\":\"%s\",\"description\":\"%s\"}", (i > 1 ? "," : ""), names[i], desc[i]
			printf "]"
		}' "$dir/porter.yaml" | jq --arg n "$name" --arg v "$version" '{name: $n, version: $v, customActions: .}' >"$explain" ||
		die "could not read customActions from $dir/porter.yaml"
fi

payload=$(jq --slurpfile schema "$dir/template_schema.json" --argjson current "$current" --arg type "$kind" \
	'. + {json_schema: $schema[0], current: $current, resourceType: $type}' "$explain")
say "POST $base$route ($kind $name $version)"
resp=$(mktemp)
trap 'rm -f "$explain" "$resp"' EXIT
status=$(curl -sS -o "$resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' --data "$payload" --max-time 60 "$base$route") ||
	die "no answer from $base"
case $status in
200 | 201) say "registered $name $version" ;;
409) say "$name $version is already registered (bump the version in porter.yaml to register a change)" ;;
*)
	detail=$(jq -r '.detail // empty' "$resp" 2>/dev/null || true)
	die "registration failed: HTTP $status: ${detail:-$(head -c 1000 "$resp")}"
	;;
esac
