# The configuration store: Cosmos DB for NoSQL, one database, one container
# per collection of internal/tre/store.go (tre.Collections), reached only
# through a private endpoint and only with Entra ID (no keys).

variable "tre_id" {
  description = "Identifier of the TRE; names the account."
  type        = string
}

variable "location" {
  description = "Azure region (the account's only region)."
  type        = string
}

variable "resource_group_name" {
  description = "Core resource group."
  type        = string
}

variable "endpoints_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
}

variable "dns_zone_id" {
  description = "privatelink.documents.azure.com zone."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

locals {
  database = "AzureTRE"

  # Container name => partition key path. Must equal tre.Collections in
  # internal/tre/store.go: internal/infracheck fails when they differ. The
  # handler creates missing containers at start only where it may (with a
  # key, locally); its managed identity has a data-plane role, which cannot
  # create containers, so every container the code uses must be here.
  containers = {
    Resources         = "/id"
    ResourceTemplates = "/id"
    ResourceHistory   = "/resourceId"
    Operations        = "/id"
    TemplateNames     = "/id"
    WorkspaceUsers    = "/id"
    Leases            = "/id"
    FirewallRules     = "/id"
    Allocations       = "/id"
    RejectedMessages  = "/id"
    Agents            = "/id"
    Requests          = "/id" # airlock requests (AzureTRE's container)
    AuditRecords      = "/id"
    UpgradeBatches    = "/id"
    WorkspaceCatalogs = "/id"
  }
}

resource "azurerm_cosmosdb_account" "store" {
  name                = "cosmos-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  offer_type          = "Standard"
  kind                = "GlobalDocumentDB"
  tags                = var.tags

  # Entra ID only: the account's keys cannot be used, so a Contributor who
  # can list them gains nothing.
  local_authentication_disabled = true
  public_network_access_enabled = false
  minimal_tls_version           = "Tls12"

  # A control plane's load: pay per request.
  capabilities {
    name = "EnableServerless"
  }

  # Strong, in one region. The Go SDK (azcosmos v1.5.0) does not carry
  # session tokens between requests, so under Session consistency a read
  # that follows a write (an etag check, an operation's next step) could be
  # served by a replica that has not seen the write yet. Strong makes every
  # read see every acknowledged write; in a single region it costs only the
  # read quorum.
  consistency_policy {
    consistency_level = "Strong"
  }

  geo_location {
    location          = var.location
    failover_priority = 0
  }

  # Restore to any second of the last 7 days (a bad migration, a bug that
  # deletes documents).
  backup {
    type = "Continuous"
    tier = "Continuous7Days"
  }
}

resource "azurerm_cosmosdb_sql_database" "store" {
  name                = local.database
  resource_group_name = var.resource_group_name
  account_name        = azurerm_cosmosdb_account.store.name
}

resource "azurerm_cosmosdb_sql_container" "store" {
  for_each            = local.containers
  name                = each.key
  resource_group_name = var.resource_group_name
  account_name        = azurerm_cosmosdb_account.store.name
  database_name       = azurerm_cosmosdb_sql_database.store.name
  partition_key_paths = [each.value]
}

module "endpoint" {
  source              = "../private_endpoint"
  name                = azurerm_cosmosdb_account.store.name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_cosmosdb_account.store.id
  subresource         = "Sql"
  dns_zone_id         = var.dns_zone_id
  tags                = var.tags
}

output "account_id" {
  description = "ARM id of the Cosmos DB account."
  value       = azurerm_cosmosdb_account.store.id
}

output "account_name" {
  description = "Name of the Cosmos DB account."
  value       = azurerm_cosmosdb_account.store.name
}

output "endpoint" {
  description = "Document endpoint (STATE_STORE_ENDPOINT)."
  value       = azurerm_cosmosdb_account.store.endpoint
}

output "database_name" {
  description = "Database of the store (STATE_STORE_DATABASE)."
  value       = azurerm_cosmosdb_sql_database.store.name
}
