// Package infracheck holds the static checks of the deployment code, as
// tests only: nothing here is imported by the programs. We cannot reach
// Azure from where the tests run, so these checks are what stands between a
// typo and a failed apply:
//
//   - One source of truth for settings. The settings tables of tre-handler and
//     tre-processor (their `settings` command) are compared with what the
//     Terraform in infra/ gives the Function App (its app_settings, and the
//     settings the azurerm provider derives from its attributes) and the
//     processor VM (the variables of its cloud-init template,
//     processor-vm/cloud-init.yaml). A setting a program reads in Azure that
//     Terraform does not set fails, and so does a setting Terraform sets that
//     nobody reads. Settings read only in local mode, set by the platform, or
//     read by the Functions host rather than the handler are explicit
//     allow-lists with a reason each, and an allow-list entry that no longer
//     matches anything fails too.
//   - The other code-to-Terraform contracts: the Cosmos DB containers and
//     partition keys (tre.Collections), the Service Bus queues and their
//     properties (tre.QueueRequests, tre.QueueStatus, the Functions trigger's
//     connection and sessions, the processor's lock renewal).
//   - What the deployment needs, in the Terraform: the firewall's network
//     rules let the handler and the processor reach the Azure endpoints
//     they call (their subnets route to the firewall, which denies the
//     rest), ARM among them; the processor's download hosts are exactly
//     what cloud-init and Porter fetch; every Key Vault secret Porter reads
//     (internal/porter's config.yaml and credential sets) is created; the
//     processor has the roles AzureTRE grants its own; every role
//     assignment says why above it; the core names AzureTRE's bundles look
//     up (subnets, identities, IP groups, private DNS zones) are created
//     and listed in docs/deploy.md.
//   - Azure's constraints: every root variable's validation blocks are
//     evaluated as Terraform does (hcl, cty and Terraform's functions) on
//     values Azure documents as accepted, which must pass, and refused,
//     which must fail at plan time; a variable is either covered or listed
//     as one Azure does not check, with a reason.
//   - cloud-init: every #cloud-config template Terraform renders is
//     rendered the same way and checked with `cloud-init schema` (skipped
//     without cloud-init, required by TRE_REQUIRE_CLOUDINIT=1).
//   - Static checks: every .tf file parses and is formatted as
//     `terraform fmt` would leave it (hclwrite.Format); every var.X, local.X
//     and module.M.O reference resolves and every module call passes exactly
//     the variables its module declares (what `terraform validate` would
//     catch first); every templatefile() gets every variable its template
//     uses; every template under
//     templates/ registers against the template registry; every porter.yaml
//     declares the parameters its template_schema.json promises.
//
// Each check is a function that returns the problems it finds, and the tests
// run each one on a deliberately broken copy too, to show that it can fail.
// Terraform itself is parsed with github.com/hashicorp/hcl/v2; expressions are
// resolved statically only as far as the checks need (object literals,
// merge() of them, local.* references), and anything else is reported as a
// problem rather than guessed at.
package infracheck
