package infracheck

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// The root module's variables against what Azure documents for the values
// they become: each variable's validation blocks are evaluated, as
// Terraform does, on values Azure accepts (which must pass) and values
// Azure refuses (which must fail at plan time, not at apply). Every
// variable is either in constraintCases or in notConstrainedByAzure, with
// a reason, so a new variable is looked at.

// constraintCase is one value of a variable: an HCL expression, whether
// Azure accepts it, and the documented constraint.
type constraintCase struct {
	value  string
	accept bool
	why    string
}

var constraintCases = map[string][]constraintCase{
	"ui_extra_redirect_uris": {
		{`[]`, true, "the Function App's root only"},
		{`["https://tre.example.org/"]`, true, "an https redirect URI"},
		{`["http://localhost:5173/"]`, true, "Entra ID allows http for localhost only"},
		{`["http://tre.example.org/"]`, false, "Entra ID refuses http redirect URIs but localhost's"},
		{`["https://*.example.org/"]`, false, "SPA redirect URIs take no wildcard"},
		{`["tre.example.org"]`, false, "a redirect URI is an absolute URL"},
	},
	"tre_id": {
		{`"mytre"`, true, "names st<id>state, kv-<id>, acr<id>, cosmos-<id>, cosmos-mongo-<id>"},
		{`"a1234567890"`, true, "11 characters"},
		{`"MyTre"`, false, "storage account names are lower-case letters and digits"},
		{`"my-tre"`, false, "storage account and registry names take no hyphen"},
		{`"1tre"`, false, "a Key Vault name starts with a letter"},
		{`"abcdefghijklmnopqr"`, false, "st<id>state would exceed a storage account name's 24 characters"},
	},
	"subscription_id": {
		{`"00000000-0000-0000-0000-000000000000"`, true, "a subscription GUID"},
		{`"my subscription"`, false, "ARM scopes take the GUID, not the name"},
	},
	"location": {
		{`"uksouth"`, true, "a region's short name (regional service tags are AzureKeyVault.<short name>)"},
		{`"UK South"`, false, "the display name is no service tag suffix"},
	},
	"tre_address_space": {
		{`"10.0.0.0/12"`, true, "an IPv4 network"},
		{`"172.16.0.0/12"`, true, "a private range"},
		{`"10.0.0.5/12"`, false, "a network's address has no host bits"},
		{`"127.0.0.0/12"`, false, "virtual networks cannot use loopback addresses"},
		{`"224.0.0.0/12"`, false, "virtual networks cannot use multicast addresses"},
		{`"169.254.0.0/16"`, false, "virtual networks cannot use link-local addresses"},
		{`"168.63.0.0/16"`, false, "virtual networks cannot contain 168.63.129.16, Azure's DNS and health probe address"},
	},
	"core_address_space": {
		{`"10.1.0.0/22"`, true, "room for the /26 AzureFirewallSubnet and the other subnets"},
		{`"10.1.0.0/23"`, false, "the subnets are carved from a /22; AzureFirewallSubnet needs a /26"},
		{`"192.168.0.0/22"`, false, "outside tre_address_space (10.0.0.0/12 by default)"},
	},
	"airlock": {
		{`{}`, true, "the defaults: one approval, Defender on, links of an hour"},
		{`{ required_approvals = 2, malware_scanning = false, link_expiry = "30m", public_ip_ranges = ["203.0.113.0/24", "198.51.100.7"] }`, true, "two approvals, no scanning, public addresses"},
		{`{ required_approvals = 3 }`, false, "the handler takes 1 or 2 (TRE_AIRLOCK_REQUIRED_APPROVALS)"},
		{`{ link_expiry = "1 hour" }`, false, "a Go duration"},
		{`{ malware_scanning_cap_gb = 0 }`, false, "Defender for Storage takes -1 (no cap) or a positive cap"},
		{`{ malware_scanning_cap_gb = -1 }`, true, "no cap"},
		{`{ public_ip_ranges = ["10.1.2.3"] }`, false, "storage IP rules refuse private ranges"},
		{`{ public_ip_ranges = ["203.0.113.10/31"] }`, false, "storage IP rules refuse /31 ranges"},
		{`{ public_ip_ranges = ["2001:db8::1"] }`, false, "IP rules take IPv4 only"},
	},
	"storage_endpoint_suffix": {
		{`"core.windows.net"`, true, "Azure's public cloud"},
		{`"blob.core.windows.net"`, false, "the suffix after blob."},
	},
	"deployer_ip_ranges": {
		{`["203.0.113.10"]`, true, "a public address"},
		{`["203.0.113.0/24", "198.51.100.7/32"]`, true, "a public range, and an address as /32"},
		{`[]`, false, "nobody could reach the registry and the state account"},
		{`["10.1.2.3"]`, false, "storage IP rules refuse private ranges"},
		{`["192.168.1.0/24"]`, false, "storage IP rules refuse private ranges"},
		{`["172.20.0.1"]`, false, "storage IP rules refuse private ranges"},
		{`["203.0.113.10/31"]`, false, "storage IP rules refuse /31 ranges"},
		{`["203.0.113.10/24"]`, false, "a range in CIDR notation is its network address"},
		{`["2001:db8::1"]`, false, "IP rules take IPv4 only"},
	},
	"aad_tenant_id": {
		{`"72f988bf-86f1-41af-91ab-2d7cd011db47"`, true, "a tenant GUID"},
		{`"contoso.onmicrosoft.com"`, false, "the handler validates the issuer by GUID"},
	},
	"api_client_id": {
		{`"00000000-0000-0000-0000-000000000001"`, true, "an application GUID"},
		{`"api://tre"`, false, "an application id URI is no client id"},
	},
	"application_admin_client_id": {
		{`"00000000-0000-0000-0000-000000000002"`, true, "an application GUID"},
		{`""`, false, "required: Porter resolves aad_auth for every action"},
	},
	"application_admin_client_secret": {
		{`"abc8Q~0123456789abcdefghijklmnopqrstuvwx"`, true, "an Entra client secret"},
		{`""`, false, "Porter resolves aad_auth for every action: every bundle would fail"},
	},
	"aad_authority_url": {
		{`"https://login.microsoftonline.com"`, true, "Entra ID's public cloud authority"},
		{`"https://login.microsoftonline.com/"`, false, "the handler appends /<tenant>/v2.0"},
	},
	"log_level": {
		{`"info"`, true, "a level of both programs"},
		{`"verbose"`, false, "not a level"},
	},
	"agent_heartbeat": {
		{`"30s"`, true, "a Go duration"},
		{`"PT30S"`, false, "ISO 8601 is no Go duration"},
	},
	"function_plan_sku": {
		{`"P0v3"`, true, "a dedicated Linux plan"},
		{`"Y1"`, false, "Consumption: no VNet integration, needs a content share with keys"},
		{`"EP1"`, false, "Elastic Premium needs a content share with keys"},
	},
	"processor_vm_size": {
		{`"Standard_D2s_v5"`, true, "a premium-storage size"},
		{`"Standard_D2as_v5"`, true, "a premium-storage size (AMD)"},
		{`"Standard_DS2_v2"`, true, "the DS series takes premium SSDs"},
		{`"Standard_B2ms"`, true, "a premium-storage burstable size"},
		{`"Standard_E4-2s_v5"`, true, "a constrained-vCPU premium-storage size"},
		{`"Standard_D2_v5"`, false, "no premium storage: Azure refuses the Premium_LRS OS disk"},
		{`"Standard_F4"`, false, "no premium storage"},
		{`"D2s_v5"`, false, "sizes are named Standard_..."},
	},
	"processor_admin_ssh_public_key": {
		{`"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6v7m0P5S1u0mIfYb3vQ5m8cJ3Jq8bU6mQxYg1pF0c7 admin@example"`, true, "Azure takes ed25519 keys"},
		{`"ssh-rsa ` + strings.Repeat("A", 372) + ` admin@example"`, true, "a 2048-bit RSA key is 372 base64 characters"},
		{`"ssh-rsa ` + strings.Repeat("A", 204) + `"`, false, "Azure refuses RSA keys under 2048 bits"},
		{`"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY="`, false, "Azure refuses ECDSA keys"},
	},
	"processor_number_processes": {
		{`2`, true, "the default"},
		{`0`, false, "no worker"},
		{`2.5`, false, "a whole number"},
	},
	"processor_egress_fqdns": {
		{`["cdn.porter.sh", "*.blob.core.windows.net"]`, true, "application rules take FQDNs and a leading *. wildcard"},
		{`["https://cdn.porter.sh"]`, false, "a URL is no FQDN"},
		{`["cdn.*.sh"]`, false, "a wildcard only as the first label"},
	},
	"availability_zones": {
		{`["1", "2", "3"]`, true, "zone-redundant, in a region with zones"},
		{`[]`, true, "a region without zones"},
		{`["4"]`, false, "regions have zones 1, 2 and 3"},
		{`["1", "1"]`, false, "a zone once"},
		{`[1]`, true, "Terraform converts the number to the string \"1\""},
	},
	"firewall_sku_tier": {
		{`"Premium"`, true, "Standard or Premium"},
		{`"Basic"`, false, "Basic needs a management subnet and public address this configuration does not create"},
	},
	"firewall_group_prefix": {
		{`"rcg-tre-"`, true, "rule collection group names: letters, digits, hyphens"},
		{`"rcg-"`, false, "a prefix of rcg-core: the service would manage the core's group"},
	},
	"firewall_group_priorities": {
		{`"300,310,400,410"`, true, "four distinct priorities from 100 to 65000"},
		{`"100,310,400,410"`, false, "100 is rcg-core's: one group per priority"},
		{`"200,210,500,510"`, false, "510 is the rcg-dynamic-network group of AzureTRE's firewall shared service"},
		{`"300,310,400,400"`, false, "one group per priority"},
		{`"300,310,400,65001"`, false, "Azure takes 100 to 65000"},
		{`"400,410,300,310"`, false, "admins' groups are evaluated first"},
	},
	"microsoft_graph_fqdn": {
		{`"graph.microsoft.com"`, true, "the public cloud's Graph"},
		{`"microsoftgraph.chinacloudapi.cn"`, true, "a sovereign cloud's"},
		{`"https://graph.microsoft.com"`, false, "bundles get a host name, not a URL"},
	},
	"traces": {
		{`{}`, true, "no traces: the handler exports none"},
		{`{otlp_endpoint = "https://otel.example.org:4318", otlp_headers = "x-key=abc"}`, true, "a collector over HTTPS"},
		{`{otlp_endpoint = "otel.example.org:4318"}`, false, "the exporter needs a URL with its scheme"},
	},
	"tags": {
		{`{"cost-centre" = "4242", owner = "research-it"}`, true, "ordinary tags"},
		{`{"a/b" = "x"}`, false, "tag names cannot contain /"},
		{`{"` + strings.Repeat("k", 129) + `" = "x"}`, false, "storage accounts take tag names of at most 128 characters"},
		{`{k = "` + strings.Repeat("v", 257) + `"}`, false, "tag values are at most 256 characters"},
	},
	"log_retention_days": {
		{`90`, true, "Application Insights and Log Analytics both take it"},
		{`730`, true, "the longest Application Insights takes"},
		{`45`, false, "Application Insights takes 30, 60, 90, 120, 180, 270, 365, 550 or 730 only"},
		{`7`, false, "Log Analytics takes 7 on the free tier only"},
	},
}

// notConstrainedByAzure are variables whose values Azure does not check,
// and why.
var notConstrainedByAzure = map[string]string{
	"api_audience":            "a string the handler compares with tokens' aud claim",
	"manage_ui_redirect_uris": "whether Terraform registers the web UI's redirect URIs (a bool)",
	"handler_tuning":          "the handler's own limits, validated by the handler at start (its validation checks Go durations only)",
}

// tfFunctions are the Terraform functions the validations use, with
// Terraform's behaviour.
func tfFunctions() map[string]function.Function {
	str2 := func(impl func(a, b string) bool) function.Function {
		return function.New(&function.Spec{
			Params: []function.Parameter{{Name: "a", Type: cty.String}, {Name: "b", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.BoolVal(impl(args[0].AsString(), args[1].AsString())), nil
			},
		})
	}
	boolList := func(all bool) function.Function {
		return function.New(&function.Spec{
			Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				for _, v := range args[0].AsValueSlice() {
					if v.True() != all {
						return cty.BoolVal(!all), nil
					}
				}
				return cty.BoolVal(all), nil
			},
		})
	}
	return map[string]function.Function{
		"alltrue":     boolList(true),
		"anytrue":     boolList(false),
		"can":         tryfunc.CanFunc,
		"try":         tryfunc.TryFunc,
		"contains":    stdlib.ContainsFunc,
		"distinct":    stdlib.DistinctFunc,
		"floor":       stdlib.FloorFunc,
		"min":         stdlib.MinFunc,
		"format":      stdlib.FormatFunc,
		"regex":       stdlib.RegexFunc,
		"split":       stdlib.SplitFunc,
		"tonumber":    stdlib.MakeToFunc(cty.Number),
		"tostring":    stdlib.MakeToFunc(cty.String),
		"startswith":  str2(strings.HasPrefix),
		"strcontains": str2(strings.Contains),
		"length": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType}},
			Type:   function.StaticReturnType(cty.Number),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				if args[0].Type() == cty.String {
					return stdlib.Strlen(args[0])
				}
				return args[0].Length(), nil
			},
		}),
		"cidrhost": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				p, err := netip.ParsePrefix(args[0].AsString())
				if err != nil || !p.Addr().Is4() {
					return cty.NilVal, fmt.Errorf("invalid IPv4 CIDR %q", args[0].AsString())
				}
				n, _ := args[1].AsBigFloat().Int64()
				if n < 0 || n >= int64(1)<<(32-p.Bits()) {
					return cty.NilVal, fmt.Errorf("host number %d out of range", n)
				}
				b := p.Masked().Addr().As4()
				v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + uint32(n)
				return cty.StringVal(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()), nil
			},
		}),
	}
}

// validate evaluates name's validations with value and the other
// variables' values, and returns the failing error messages; an error if
// the value does not have the variable's type (Terraform refuses it too).
func validate(vars map[string]*tfVariable, others map[string]cty.Value, name string, value cty.Value) ([]string, error) {
	v := vars[name]
	value, err := v.convert(value)
	if err != nil {
		return []string{"not of type " + typeexpr.TypeString(v.typ)}, nil
	}
	all := map[string]cty.Value{}
	for k, o := range others {
		all[k] = o
	}
	all[name] = value
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(all)}, Functions: tfFunctions()}
	var failed []string
	for _, vb := range v.validations {
		cond, diags := vb.Body.Attributes["condition"].Expr.Value(ctx)
		if diags.HasErrors() {
			// Terraform reports an error in a condition as a failure
			// of the validation, with the error.
			failed = append(failed, diags.Error())
			continue
		}
		if cond.IsNull() || !cond.IsKnown() || cond.Type() != cty.Bool {
			return nil, fmt.Errorf("variable %s: a condition that is not a boolean", name)
		}
		if cond.False() {
			msg, _ := stringValue(vb.Body.Attributes["error_message"].Expr)
			failed = append(failed, msg)
		}
	}
	return failed, nil
}

// checkConstraints runs every case against the variables of dir and
// returns what disagrees with Azure.
func checkConstraints(dir string, cases map[string][]constraintCase) ([]string, error) {
	vars, err := readVariables(dir)
	if err != nil {
		return nil, err
	}
	var p problems
	// The other variables: their defaults, or a value Azure accepts.
	others := map[string]cty.Value{}
	for name, v := range vars {
		if v.def != nil {
			others[name] = *v.def
			continue
		}
		for _, c := range cases[name] {
			if c.accept {
				val, err := parseValue(c.value)
				if err != nil {
					return nil, err
				}
				if others[name], err = v.convert(val); err != nil {
					return nil, fmt.Errorf("%s = %s: %w", name, c.value, err)
				}
				break
			}
		}
	}
	for _, name := range sortedKeys(vars) {
		_, free := notConstrainedByAzure[name]
		if len(cases[name]) == 0 && !free {
			p.addf("variable %s: no values Azure accepts and refuses are checked, and it is not listed as unconstrained", name)
		}
	}
	for name := range cases {
		if _, ok := vars[name]; !ok {
			p.addf("variable %s: checked, but %s declares no such variable", name, filepath.Base(dir))
		}
	}
	for _, name := range sortedKeys(cases) {
		if _, ok := vars[name]; !ok {
			continue
		}
		for _, c := range cases[name] {
			val, err := parseValue(c.value)
			if err != nil {
				return nil, err
			}
			failed, err := validate(vars, others, name, val)
			if err != nil {
				return nil, err
			}
			switch {
			case c.accept && len(failed) > 0:
				p.addf("%s = %s: refused (%s), but Azure accepts it: %s", name, c.value, strings.Join(failed, "; "), c.why)
			case !c.accept && len(failed) == 0:
				p.addf("%s = %s: accepted, but Azure refuses it: %s", name, c.value, c.why)
			}
		}
	}
	out := p.sorted()
	sort.Strings(out)
	return out, nil
}

func parseValue(src string) (cty.Value, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "case", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s: %s", src, diags.Error())
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s: %s", src, diags.Error())
	}
	return v, nil
}

func TestVariablesRefuseWhatAzureRefuses(t *testing.T) {
	got, err := checkConstraints(infraDir, constraintCases)
	require.NoError(t, err)
	require.Empty(t, got)
}
