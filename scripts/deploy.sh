#!/usr/bin/env bash
# Deploys (or upgrades) a TRE core: Terraform, the Function App, the
# Resource Processor's agent. See usage below.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/deploy.sh [options]

From the repository root's infra/ and the current Azure CLI login:
  1. builds dist/function-app.zip and dist/processor-vm.tar.gz
     (scripts/package.sh, i.e. make package and make package-processor);
  2. terraform init (with --backend-config) and apply (with --var-file);
     the plan is shown and confirmed unless --auto-approve;
  3. zip-deploys the Function App:
     az functionapp deployment source config-zip;
  4. uploads the processor's package to the bundle-state account
     (container processor, blob processor-vm.tar.gz) and installs it on the
     VM: az vm run-command runs `tre-processor-setup update` there (after
     cloud-init has finished), which restarts the agent with it;
  5. waits until GET <api>/api/health answers 200 with every service OK.

Options:
  --backend-config FILE  Terraform backend settings (default: infra/backend.hcl;
                         see infra/backend.hcl.example)
  --var-file FILE        Terraform variables (default: infra/terraform.tfvars;
                         see infra/terraform.tfvars.example)
  --auto-approve         apply without asking
  --skip-terraform       steps 3 to 5 only (code upgrade of an existing TRE)
  --health-timeout SEC   how long step 5 may take (default: 900)
  -h, --help             this help

Needs terraform (>= 1.9), az (logged in: az login; az account set
--subscription ...), go, Node.js 20.19+ and npm (the web UI), zip, tar,
curl and jq. Your public address must be
in deployer_ip_ranges (the package upload goes to the account's public
endpoint, which allows only those).
USAGE
}

die() {
	echo "deploy.sh: $*" >&2
	exit 1
}
say() { echo "deploy.sh: $*"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
backend=$repo/infra/backend.hcl
varfile=$repo/infra/terraform.tfvars
approve=false skip_tf=false health_timeout=900
while [[ $# -gt 0 ]]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--auto-approve)
		approve=true
		shift
		;;
	--skip-terraform)
		skip_tf=true
		shift
		;;
	--backend-config | --var-file | --health-timeout)
		[[ $# -ge 2 ]] || die "$1 needs a value"
		case $1 in
		--backend-config) backend=$2 ;;
		--var-file) varfile=$2 ;;
		--health-timeout) health_timeout=$2 ;;
		esac
		shift 2
		;;
	*)
		usage >&2
		die "unknown argument $1"
		;;
	esac
done
[[ $health_timeout =~ ^[0-9]+$ ]] || die "--health-timeout takes whole seconds"

for tool in terraform az go node npm zip tar curl jq; do
	command -v "$tool" >/dev/null || die "$tool not found (see --help for what this script needs)"
done
az account show --output none 2>/dev/null || die "the Azure CLI is not logged in: az login, then az account set --subscription <id>"

say "1/5 packages"
"$repo/scripts/package.sh" --out "$repo/dist" handler processor
zip_file=$repo/dist/function-app.zip
tar_file=$repo/dist/processor-vm.tar.gz
[[ -s $zip_file && -s $tar_file ]] || die "scripts/package.sh did not produce $zip_file and $tar_file"

tf() { terraform -chdir="$repo/infra" "$@"; }
if ! $skip_tf; then
	[[ -f $backend ]] || die "$backend not found: copy infra/backend.hcl.example and fill it in (docs/deploy.md)"
	[[ -f $varfile ]] || die "$varfile not found: copy infra/terraform.tfvars.example and fill it in (docs/deploy.md)"
	say "2/5 terraform init and apply"
	tf init -input=false -backend-config="$(cd "$(dirname "$backend")" && pwd)/$(basename "$backend")"
	plan=$(mktemp --suffix=.tfplan)
	trap 'rm -f "$plan"' EXIT
	tf plan -input=false -var-file="$(cd "$(dirname "$varfile")" && pwd)/$(basename "$varfile")" -out="$plan"
	if ! $approve; then
		read -r -p "deploy.sh: apply this plan? [y/N] " answer
		[[ $answer == y || $answer == Y ]] || die "not applied"
	fi
	tf apply -input=false "$plan"
else
	say "2/5 terraform: skipped (--skip-terraform)"
fi

outputs=$(tf output -json) || die "terraform output failed: has infra/ been applied (with this backend)?"
out() { jq -er --arg k "$1" '.[$k].value' <<<"$outputs" || die "terraform output $1 is missing"; }
rg=$(out resource_group_name)
func=$(out function_app_name)
api=$(out api_base_url)
account=$(out state_storage_account_name)
container=$(out processor_package_container)
vm=$(out processor_vm_name)

say "3/5 zip deploy of $zip_file to $func"
az functionapp deployment source config-zip --resource-group "$rg" --name "$func" --src "$zip_file" --output none ||
	die "zip deploy to $func failed"

say "4/5 processor package to $account/$container, installed on $vm"
az storage blob upload --auth-mode login --account-name "$account" --container-name "$container" \
	--name processor-vm.tar.gz --file "$tar_file" --overwrite --only-show-errors --output none ||
	die "upload failed (your address in deployer_ip_ranges? role assignments can take a few minutes to apply: run again)"
# run-command reports the script's output, not its exit status: the last
# line says whether it worked.
result=$(az vm run-command invoke --resource-group "$rg" --name "$vm" --command-id RunShellScript \
	--scripts 'cloud-init status --wait >/dev/null || { echo "cloud-init failed: see /var/log/cloud-init-output.log"; exit 1; }; /usr/local/sbin/tre-processor-setup update && echo "deploy.sh: processor updated"' \
	--query 'value[0].message' --output tsv) || die "az vm run-command on $vm failed"
while IFS= read -r line; do echo "deploy.sh:   | $line"; done <<<"$result"
grep -q '^deploy.sh: processor updated$' <<<"$result" || die "installing the processor on $vm failed (output above)"

say "5/5 waiting for $api/api/health (up to ${health_timeout}s)"
deadline=$((SECONDS + health_timeout))
while :; do
	body=$(curl -sS --max-time 30 "$api/api/health" 2>/dev/null || true)
	if jq -e '.services | length > 0 and all(.[]; .status == "OK")' >/dev/null 2>&1 <<<"$body"; then
		jq -r '.services[] | "deploy.sh:   \(.service): \(.status)"' <<<"$body"
		break
	fi
	((SECONDS < deadline)) || die "the API is not healthy after ${health_timeout}s: ${body:-no answer}"
	sleep 10
done
say "done: $api (next: scripts/register-bundle.sh templates/..., then scripts/smoke.sh $api --template tre-workspace-base)"
