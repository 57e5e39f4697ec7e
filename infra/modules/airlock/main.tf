# The airlock's storage accounts of the TRE core, as AzureTRE lays them out
# (internal/airlock Layout): one account per stage whose files are outside
# any workspace. Each request has a container (named after it) in the
# account of its current stage; the handler's functions copy its files from
# stage to stage. The stages inside a workspace (import approved, export
# internal, in progress, rejected, blocked) are the workspace's own
# accounts, made by its bundle (templates/workspaces/base).
#
#   stalimex<tre_id>      import external: researchers upload with a link
#                         (a user delegation SAS, write, 1 h) from outside.
#   stalimip<tre_id>      import in progress: Defender for Storage scans
#                         every blob written there; reviewers read here.
#   stalimrej<tre_id>     import rejected.
#   stalimblocked<tre_id> import blocked by the scan.
#   stalexapp<tre_id>     export approved: researchers download with a
#                         link (read, 1 h) from outside.
#
# No shared keys anywhere: links are signed with user delegation keys of
# the handler's identity. The two accounts users reach from outside are
# public, to the addresses of public_ip_ranges (every address when empty,
# as AzureTRE leaves them); the others are private only. Every account has
# a private endpoint for the handler.

variable "tre_id" {
  description = "Identifier of the TRE; names the accounts."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Core resource group."
  type        = string
}

variable "endpoints_subnet_id" {
  description = "Subnet of the private endpoints."
  type        = string
}

variable "dns_zone_id" {
  description = "privatelink.blob.core.windows.net zone."
  type        = string
}

variable "public_ip_ranges" {
  description = "Addresses allowed to reach the import external and export approved accounts (empty: every address; a link is still needed)."
  type        = list(string)
}

variable "malware_scanning" {
  description = "Defender for Storage scans the import in-progress account on upload (the handler's TRE_AIRLOCK_SCANNER=defender reads its verdicts)."
  type        = bool
}

variable "malware_scanning_cap_gb" {
  description = "Defender for Storage's monthly cap of scanned data, in GB."
  type        = number
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

locals {
  # Stage => account name prefix (AzureTRE's), whether users reach it from
  # outside, whether Defender scans it.
  accounts = {
    import_external    = { prefix = "stalimex", public = true, scanned = false }
    import_in_progress = { prefix = "stalimip", public = false, scanned = true }
    import_rejected    = { prefix = "stalimrej", public = false, scanned = false }
    import_blocked     = { prefix = "stalimblocked", public = false, scanned = false }
    export_approved    = { prefix = "stalexapp", public = true, scanned = false }
  }
}

resource "azurerm_storage_account" "stage" {
  for_each                 = local.accounts
  name                     = "${each.value.prefix}${var.tre_id}"
  location                 = var.location
  resource_group_name      = var.resource_group_name
  account_tier             = "Standard"
  account_replication_type = "LRS"
  account_kind             = "StorageV2"
  tags                     = merge(var.tags, { airlock_stage = each.key })

  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  https_traffic_only_enabled      = true
  min_tls_version                 = "TLS1_2"
  public_network_access_enabled   = each.value.public

  network_rules {
    default_action = each.value.public && length(var.public_ip_ranges) == 0 ? "Allow" : "Deny"
    bypass         = ["AzureServices"]
    ip_rules       = each.value.public ? [for r in var.public_ip_ranges : trimsuffix(r, "/32")] : []
  }
}

module "endpoint" {
  source              = "../private_endpoint"
  for_each            = local.accounts
  name                = azurerm_storage_account.stage[each.key].name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_storage_account.stage[each.key].id
  subresource         = "blob"
  dns_zone_id         = var.dns_zone_id
  tags                = var.tags
}

# Defender for Storage scans every blob written to the in-progress account
# (the airlock copies a submitted request's files there) and writes its
# verdict in the blob index tag "Malware Scanning scan result", which the
# handler reads (azblobstore.DefenderScanner).
resource "azurerm_security_center_storage_defender" "scan" {
  for_each                                    = { for k, a in local.accounts : k => a if a.scanned && var.malware_scanning }
  storage_account_id                          = azurerm_storage_account.stage[each.key].id
  override_subscription_settings_enabled      = true
  malware_scanning_on_upload_enabled          = true
  malware_scanning_on_upload_cap_gb_per_month = var.malware_scanning_cap_gb
  sensitive_data_discovery_enabled            = false
}

output "account_ids" {
  description = "ARM id of each stage's account, by stage: the scopes of the handler's data roles."
  value       = { for k, a in azurerm_storage_account.stage : k => a.id }
}

output "account_names" {
  description = "Name of each stage's account, by stage."
  value       = { for k, a in azurerm_storage_account.stage : k => a.name }
}
