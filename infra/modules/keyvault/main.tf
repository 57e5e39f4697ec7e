# The TRE's Key Vault: sensitive template properties (written by the
# handler, read by the processor), secrets of shared services, Porter's
# secrets (its storage's connection string, the aad_auth credentials,
# sensitive bundle parameters and outputs). RBAC mode: access is role
# assignments (infra/roles.tf), never access policies.
#
# The core reaches it through its private endpoint. Its public endpoint
# answers the deployer's addresses only: Terraform writes the secrets the
# core needs (infra/secrets.tf) from there, as it pushes to the registry
# and the state account.

variable "tre_id" {
  description = "Identifier of the TRE; names the vault."
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

variable "tenant_id" {
  description = "Entra ID tenant of the vault."
  type        = string
}

variable "deployer_ip_ranges" {
  description = "Addresses allowed to reach the vault's public endpoint (Terraform writing the core's secrets)."
  type        = list(string)
}

variable "endpoints_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
}

variable "dns_zone_id" {
  description = "privatelink.vaultcore.azure.net zone."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

resource "azurerm_key_vault" "tre" {
  name                       = "kv-${var.tre_id}"
  location                   = var.location
  resource_group_name        = var.resource_group_name
  tenant_id                  = var.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  # A deleted secret (a sensitive property) stays recoverable, and nobody,
  # not even an owner, can purge it before the retention ends.
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true
  tags                          = var.tags

  network_acls {
    default_action = "Deny"
    bypass         = "None"
    # As the vault reports them (it stores a single address as /32), so
    # that a plan shows no change.
    ip_rules = [for r in var.deployer_ip_ranges : strcontains(r, "/") ? r : "${r}/32"]
  }
}

module "endpoint" {
  source              = "../private_endpoint"
  name                = azurerm_key_vault.tre.name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_key_vault.tre.id
  subresource         = "vault"
  dns_zone_id         = var.dns_zone_id
  tags                = var.tags
}

output "id" {
  description = "ARM id of the vault."
  value       = azurerm_key_vault.tre.id
}

output "uri" {
  description = "https://<name>.vault.azure.net/ (KEY_VAULT_URL)."
  value       = azurerm_key_vault.tre.vault_uri
}
