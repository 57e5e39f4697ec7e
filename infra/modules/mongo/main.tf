# Porter's storage: Cosmos DB's API for MongoDB, one database, porter.
# Porter (the mongodb storage plugin in PORTER_HOME/config.yaml, which
# tre-processor writes) keeps installations, runs, outputs and credential
# sets here instead of on the VM's disk: a replaced VM still knows every
# installation, so an uninstall removes what its install created. AzureTRE
# keeps the same in its cosmos-mongo account.
#
# Porter's plugin signs in with the account key (its connection string is
# the Key Vault secret porter-db-connection-string, infra/secrets.tf): the
# MongoDB API has no Entra ID sign-in for it. The account is reachable only
# through its private endpoint, from the core network.

variable "tre_id" {
  description = "Identifier of the TRE; names the account (cosmos-mongo-<tre_id>)."
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
  description = "privatelink.mongo.cosmos.azure.com zone."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

resource "azurerm_cosmosdb_account" "porter" {
  name                = "cosmos-mongo-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  offer_type          = "Standard"
  kind                = "MongoDB"
  # AzureTRE's version; Porter 1.4's MongoDB driver supports it.
  mongo_server_version          = "4.2"
  public_network_access_enabled = false
  minimal_tls_version           = "Tls12"
  tags                          = var.tags

  capabilities {
    name = "EnableServerless"
  }

  capabilities {
    name = "EnableMongo"
  }

  # Strong, in one region: every porter command is a new process with a new
  # MongoDB session, and each must see what the one before wrote (an
  # install the credential sets just applied, an upgrade the installation's
  # last run). In a single region Strong costs only the read quorum.
  consistency_policy {
    consistency_level = "Strong"
  }

  geo_location {
    location          = var.location
    failover_priority = 0
  }
}

resource "azurerm_cosmosdb_mongo_database" "porter" {
  # Porter's default database when the connection string names none.
  name                = "porter"
  resource_group_name = var.resource_group_name
  account_name        = azurerm_cosmosdb_account.porter.name
}

module "endpoint" {
  source              = "../private_endpoint"
  name                = azurerm_cosmosdb_account.porter.name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_cosmosdb_account.porter.id
  subresource         = "MongoDB"
  dns_zone_id         = var.dns_zone_id
  tags                = var.tags
}

output "account_name" {
  description = "Name of the MongoDB API account."
  value       = azurerm_cosmosdb_account.porter.name
}

output "database_name" {
  description = "Porter's database."
  value       = azurerm_cosmosdb_mongo_database.porter.name
}

output "connection_string" {
  description = "The account's primary MongoDB connection string (with its key): the Key Vault secret porter-db-connection-string."
  value       = azurerm_cosmosdb_account.porter.primary_mongodb_connection_string
  sensitive   = true
}
