# Storage of the TRE, Entra ID only (no shared keys anywhere):
#   st<tre_id>state: the Terraform state of every bundle (container tfstate,
#     AzureTRE's tfstate_* parameters) and the processor's package (container
#     processor, uploaded by scripts/deploy.sh and fetched on the VM). Its blob
#     endpoint is private, and public only to the deployer's addresses.
#   st<tre_id>func: the Functions host's storage, private only.

variable "tre_id" {
  description = "Identifier of the TRE; names the account (st<tre_id>state)."
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

variable "deployer_ip_ranges" {
  description = "Addresses allowed to reach the account's public endpoint."
  type        = list(string)
}

variable "endpoints_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
}

variable "dns_zone_id" {
  description = "privatelink.blob.core.windows.net zone."
  type        = string
}

variable "table_dns_zone_id" {
  description = "privatelink.table.core.windows.net zone (the Functions host's diagnostic events)."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

resource "azurerm_storage_account" "state" {
  name                     = "st${var.tre_id}state"
  location                 = var.location
  resource_group_name      = var.resource_group_name
  account_tier             = "Standard"
  account_replication_type = "ZRS"
  account_kind             = "StorageV2"
  tags                     = var.tags

  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  https_traffic_only_enabled      = true
  min_tls_version                 = "TLS1_2"
  public_network_access_enabled   = true

  network_rules {
    default_action = "Deny"
    bypass         = ["None"]
    # Storage IP rules take addresses and prefixes up to /30 without /32.
    ip_rules = [for r in var.deployer_ip_ranges : trimsuffix(r, "/32")]
  }

  # Terraform state is precious: keep old versions and deleted blobs.
  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = 30
    }
    container_delete_retention_policy {
      days = 30
    }
  }
}

resource "azurerm_storage_container" "state" {
  for_each              = toset(["tfstate", "processor"])
  name                  = each.key
  storage_account_id    = azurerm_storage_account.state.id
  container_access_type = "private"
}

module "endpoint" {
  source              = "../private_endpoint"
  name                = azurerm_storage_account.state.name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_storage_account.state.id
  subresource         = "blob"
  dns_zone_id         = var.dns_zone_id
  tags                = var.tags
}

# Host storage: Entra ID only and private. A dedicated plan needs no Azure
# Files content share, so shared keys can stay off. The host uses blobs
# (keys, timer schedules, locks) and tables (diagnostic events), so each of
# those services has a private endpoint; it uses no queue (no blob trigger,
# no Durable Functions) and no file share, which get none.
resource "azurerm_storage_account" "host" {
  name                     = "st${var.tre_id}func"
  location                 = var.location
  resource_group_name      = var.resource_group_name
  account_tier             = "Standard"
  account_replication_type = "LRS"
  account_kind             = "StorageV2"
  tags                     = var.tags

  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  https_traffic_only_enabled      = true
  min_tls_version                 = "TLS1_2"
  public_network_access_enabled   = false
}

module "host_endpoint" {
  source              = "../private_endpoint"
  for_each            = { blob = var.dns_zone_id, table = var.table_dns_zone_id }
  name                = "${azurerm_storage_account.host.name}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_storage_account.host.id
  subresource         = each.key
  dns_zone_id         = each.value
  tags                = var.tags
}

output "account_id" {
  description = "ARM id of the account."
  value       = azurerm_storage_account.state.id
}

output "account_name" {
  description = "Name of the account (MGMT_STORAGE_ACCOUNT_NAME)."
  value       = azurerm_storage_account.state.name
}

output "container_scopes" {
  description = "ARM scope of each container, by name (tfstate, processor): the scopes of the data-plane role assignments."
  value       = { for k, c in azurerm_storage_container.state : k => "${azurerm_storage_account.state.id}/blobServices/default/containers/${c.name}" }
}

output "host_account_id" {
  description = "ARM id of the Functions host's storage account (scope of the host's role assignment)."
  value       = azurerm_storage_account.host.id
}

output "host_account_name" {
  description = "Name of the Functions host's storage account."
  value       = azurerm_storage_account.host.name
}
